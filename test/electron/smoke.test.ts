// The desktop app, built and launched in real Electron through Playwright's _electron: the window
// opens, window.studio answers app.info with the real version, the Runs view renders, a one-epoch
// run on the bundled sample trains and shows up in Runs, and quitting leaves the database clean.
// Where Electron cannot run here, the whole file skips with the same reason `npm start` would give.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { _electron, type ElectronApplication, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StudioApi } from '../../src/shared/contract'
import type { AppInfo, RunRecord } from '../../src/shared/domain'
import { projectRoot } from '../../scripts/electron-sqlite.js'
import { decide } from '../../scripts/start-decide.js'
import { tinyConfig } from '../helpers/hosts'

/** What the preload puts on window (src/preload/index.d.ts is shadowed by index.ts in this program). */
type StudioWindow = { studio?: StudioApi }

const choice = await decide({ root: projectRoot })
const skipReason = choice.mode === 'web' ? choice.reason : null
// Said once, plainly, so a skipped run is never mistaken for a passing one.
if (skipReason) console.info(`Electron smoke test skipped: ${skipReason}.`)
const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version

describe.skipIf(skipReason !== null)(`the desktop app${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let app: ElectronApplication
  let page: Page
  let dataDir: string

  beforeAll(async () => {
    if (choice.mode !== 'electron') return
    const build = spawnSync(process.execPath, [join(projectRoot, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
      cwd: projectRoot,
      encoding: 'utf8'
    })
    if (build.status !== 0) throw new Error(`electron-vite build failed: ${build.stderr.trim().split('\n').slice(-3).join(' | ')}`)
    dataDir = mkdtempSync(join(tmpdir(), 'conv-studio-electron-'))
    app = await _electron.launch({
      executablePath: choice.binary,
      args: [projectRoot, `--data-dir=${dataDir}`],
      cwd: projectRoot,
      env: { ...process.env, CONV_STUDIO_SQLITE_BINDING: choice.sqliteBinding, ELECTRON_RENDERER_URL: '' }
    })
    page = await app.firstWindow()
    await page.waitForFunction(() => (window as unknown as StudioWindow).studio !== undefined)
  })

  afterAll(async () => {
    await app?.close().catch(() => {})
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('opens the window on the app:// origin, and app.info carries the real version', async () => {
    expect(page.url()).toMatch(/^app:\/\/studio\//)
    const info = (await page.evaluate(() => (window as unknown as StudioWindow).studio!.invoke('app.info', {}))) as AppInfo
    expect(info.version).toBe(version)
    expect(await app.evaluate(({ app }) => app.getVersion())).toBe(version)
  })

  it('renders the Runs view', async () => {
    await page.evaluate(() => (window.location.hash = '#/runs'))
    await page.getByRole('heading', { name: /runs/i }).first().waitFor()
  })

  it('trains one epoch on the bundled sample and lists the run in Runs', async () => {
    const config = tinyConfig({ backend: 'cpu' })
    const started = (await page.evaluate((c) => (window as unknown as StudioWindow).studio!.invoke('training.start', { config: c as never }), config)) as RunRecord
    await expect
      .poll(async () => ((await page.evaluate((id) => (window as unknown as StudioWindow).studio!.invoke('runs.get', { runId: id }), started.id)) as RunRecord).status, {
        timeout: 240_000,
        interval: 1000
      })
      .toBe('completed')
    await page.evaluate(() => (window.location.hash = '#/new'))
    await page.evaluate(() => (window.location.hash = '#/runs'))
    await page.getByText(started.name).first().waitFor()
  })

  it('quits cleanly: the database is checkpointed and intact', async () => {
    await app.close()
    const file = join(dataDir, 'conv-studio.sqlite')
    expect(existsSync(file)).toBe(true)
    // services.close() ran before exit: the WAL was checkpointed into the main file.
    const wal = `${file}-wal`
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0)
    const db = new Database(file, { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    expect(db.prepare("select count(*) as n from runs where status = 'completed'").get()).toEqual({ n: 1 })
    db.close()
  })
})
