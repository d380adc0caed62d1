/// <reference lib="dom" />
// What every end-to-end file needs: the real web-mode server in its own process on a temporary data
// folder, Debian's Chromium through playwright-core, a page that records console errors, and the
// screenshot + axe audit helper. Each e2e file starts its own studio in beforeAll and closes it.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

export const root = resolve(__dirname, '../..')
export const shots = join(root, 'docs/screenshots')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
/** Chromium's WebGPU on SwiftShader (a software Vulkan): works headless on an http://127.0.0.1 page. */
export const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan']

export interface Studio {
  url: string
  dataDir: string
  page: Page
  browser: Browser
  /** Console errors and uncaught exceptions in the page; a test should end with it empty. */
  pageErrors: string[]
  /** axe-core findings of every audited view ("<view>: [impact] rule ..."). */
  a11yViolations: string[]
  serverLog(): string
  /** Screenshot into docs/screenshots/<name>.png (scrolled to `scrollTo` if given), then an axe audit. */
  shot(name: string, scrollTo?: string): Promise<void>
  audit(view: string): Promise<void>
  /** Navigates the single-page app by its hash route. */
  go(hash: string): Promise<void>
  /** Waits for `testId` to be visible; on timeout the error says what the page showed instead. */
  waitForTestId(testId: string, ms: number): Promise<void>
  close(): Promise<void>
}

export interface StudioOptions {
  /** Prepares the data folder before the server opens it (seed runs through the real RunStore). */
  seed?: (dataDir: string) => void | Promise<void>
  /** Extra Chromium flags (e.g. WEBGPU_ARGS). */
  chromiumArgs?: string[]
  colorScheme?: 'light' | 'dark'
  /** Runs in the page before its scripts (e.g. a long-task observer). */
  initScript?: () => void
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export function checkPrerequisites(): string | null {
  if (!existsSync(CHROMIUM)) return `Chromium is expected at ${CHROMIUM} (apt install chromium)`
  if (!existsSync(join(root, 'out/web/index.html'))) return 'run `npm run build:web` first (npm run test:e2e does)'
  return null
}

export async function startStudio(opts: StudioOptions = {}): Promise<Studio> {
  const missing = checkPrerequisites()
  if (missing) throw new Error(missing)
  mkdirSync(shots, { recursive: true })
  const dataDir = mkdtempSync(join(tmpdir(), 'conv-studio-e2e-'))
  if (opts.seed) await opts.seed(dataDir)
  let log = ''
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main/server.ts', '--port', '0', '--data-dir', dataDir], {
    cwd: root,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the server printed no URL in 60 s:\n${log}`)), 60_000)
    server.stdout!.on('data', (d: Buffer) => {
      log += d.toString()
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(log)
      if (m) {
        clearTimeout(timer)
        ok(m[1])
      }
    })
    server.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    server.on('exit', (code) => fail(new Error(`the server exited (${code}):\n${log}`)))
  })
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(opts.chromiumArgs ?? ['--disable-gpu'])
    ]
  })
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: opts.colorScheme ?? 'light' })
  const pageErrors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`))
  if (opts.initScript) await page.addInitScript(opts.initScript)
  await page.goto(url)
  // vue-router listens to hash changes only once its first navigation has finished: a go() before
  // that is lost and the page stays on New run (two fresh-clone CI runs lost one, Sweeps and then
  // Datasets; reproduced by delaying New run's chunk). Its history writes '#/' at once; the
  // finished navigation writes '#/new' (the redirect of '/') and starts listening in the same step.
  await page.waitForFunction(() => !['', '#/'].includes(window.location.hash), null, { timeout: 60_000 })

  const a11yViolations: string[] = []
  const audit = async (view: string): Promise<void> => {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource)
    const violations = await page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe
      const r = await axe.run(document, { resultTypes: ['violations'] })
      return r.violations.map((v) => `[${v.impact}] ${v.id} (${v.nodes.length}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}): ${v.help}`)
    })
    for (const v of violations) a11yViolations.push(`${view}: ${v}`)
  }
  return {
    url,
    dataDir,
    page,
    browser,
    pageErrors,
    a11yViolations,
    serverLog: () => log,
    audit,
    async shot(name, scrollTo) {
      if (scrollTo) await page.locator(scrollTo).first().evaluate((e) => e.scrollIntoView({ block: 'start' }))
      else await page.evaluate(() => window.scrollTo(0, 0))
      // Let a frame pass so charts and canvases are painted.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
      await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false })
      await audit(name)
    },
    async go(hash) {
      await page.evaluate((h) => (window.location.hash = h), hash)
    },
    async waitForTestId(testId, ms) {
      try {
        await page.getByTestId(testId).waitFor({ timeout: ms })
      } catch (err) {
        // A wait that times out says what the page showed, so a failure on a loaded CI machine can be read.
        const shown = await page
          .evaluate(() => ({ url: location.href.replace(/token=[\w-]+/, 'token=…'), headings: Array.from(document.querySelectorAll('h1, h2')).map((h) => h.textContent?.trim()).slice(0, 6), ready: document.readyState }))
          .catch((e: Error) => ({ unreadable: e.message }))
        throw new Error(`${(err as Error).message.split('\n')[0]}\npage: ${JSON.stringify(shown)}\npage errors: ${JSON.stringify(pageErrors)}\nserver log (end): ${log.slice(-2000)}`)
      }
    },
    async close() {
      await browser.close()
      if (server.exitCode === null) {
        server.kill('SIGTERM')
        await new Promise((r) => server.once('exit', r))
      }
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}
