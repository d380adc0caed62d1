// The desktop app, built and launched in real Electron through Playwright's _electron: the window
// opens, window.studio answers app.info with the real version, the Runs view renders, a one-epoch
// run on the bundled sample trains and shows up in Runs, a run picks "this browser's GPU" and trains
// in the hidden GPU window (Chromium's WebGPU on SwiftShader, as the web e2e), that window's crash
// ends a run interrupted, and quitting leaves the database clean.
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
import { DatasetStore } from '../../src/main/services/datasets'
import type { BrowserGpuInfo } from '../../src/shared/browser-gpu'
import { tinyConfig } from '../helpers/hosts'
import { WEBGPU_ARGS } from '../e2e/harness'

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
    // SwiftShader trains a few examples per second: the GPU runs use the tiny IDX fixture (20 train, 10 test).
    await new DatasetStore({ dataDir }).importFolder(join(projectRoot, 'test/fixtures/data/tiny-raw'), 'Tiny digits')
    app = await _electron.launch({
      executablePath: choice.binary,
      // Chromium's switches: WebGPU on SwiftShader, so the hidden GPU window has an adapter on any machine.
      args: [...WEBGPU_ARGS, projectRoot, `--data-dir=${dataDir}`],
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

  const invoke = <T>(method: string, args: unknown): Promise<T> =>
    page.evaluate(([m, a]) => (window as unknown as StudioWindow).studio!.invoke(m as never, a as never), [method, args] as const) as Promise<T>
  const gpuConfig = (epochs: number) => tinyConfig({ backend: 'browser-webgpu', dataset: 'imported-tiny-digits', batchSize: 10, trainLimit: undefined, epochs })

  it("trains a run in the hidden GPU window when it picks this browser's GPU; the Device view shows the adapter", async () => {
    // The hidden window registers its adapter with main a moment after start.
    await expect.poll(async () => (await invoke<BrowserGpuInfo[]>('browserGpu.list', {}))[0]?.adapter?.architecture, { timeout: 60_000, interval: 500 }).toBe('swiftshader')
    await page.evaluate(() => (window.location.hash = '#/device'))
    await expect.poll(() => page.locator('[data-testid="browser-adapter"]').textContent(), { timeout: 30_000 }).toContain('swiftshader')
    const started = await invoke<RunRecord>('training.start', { config: gpuConfig(1) })
    let r: RunRecord = started
    await expect
      .poll(async () => (r = await invoke<RunRecord>('runs.get', { runId: started.id })).status, { timeout: 240_000, interval: 1000 })
      .toSatisfy((s: string) => ['completed', 'failed', 'interrupted', 'cancelled'].includes(s))
    expect([r.status, r.error, r.backend]).toEqual(['completed', null, 'browser-webgpu'])
    expect(r.device).toMatch(/swiftshader.*software adapter/)
    // Recorded like a child's run: inspection data kept per epoch.
    expect((await invoke<unknown[]>('runs.histograms', { runId: started.id })).length).toBe(1)
  }, 300_000)

  it("the GPU window's process crashing ends its run interrupted with the reason, the finished epoch kept", async () => {
    const started = await invoke<RunRecord>('training.start', { config: gpuConfig(200) })
    await expect.poll(async () => (await invoke<RunRecord>('runs.get', { runId: started.id })).epochsDone, { timeout: 240_000, interval: 500 }).toBeGreaterThanOrEqual(1)
    await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().find((w) => !w.isVisible())?.webContents.forcefullyCrashRenderer())
    let r: RunRecord = started
    await expect.poll(async () => (r = await invoke<RunRecord>('runs.get', { runId: started.id })).status, { timeout: 30_000, interval: 500 }).toBe('interrupted')
    expect(r.error).toMatch(/GPU window stopped \(.+\) while training this run; the finished epochs and the best weights are kept/)
    expect(r.epochsDone).toBeGreaterThanOrEqual(1)
  }, 300_000)

  it('quits cleanly: the database is checkpointed and intact', async () => {
    await app.close()
    const file = join(dataDir, 'conv-studio.sqlite')
    expect(existsSync(file)).toBe(true)
    // services.close() ran before exit: the WAL was checkpointed into the main file.
    const wal = `${file}-wal`
    expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0)
    const db = new Database(file, { readonly: true })
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    // The cpu run and the browser-GPU run.
    expect(db.prepare("select count(*) as n from runs where status = 'completed'").get()).toEqual({ n: 2 })
    db.close()
  })
})
