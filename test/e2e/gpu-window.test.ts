// The desktop app's hidden GPU window page (src/renderer/gpu-window.html → src/worker/gpu-window.ts)
// in a real Chromium, with WebGPU on SwiftShader. Electron cannot run here, so the two pieces that
// are Electron's are played as closely as Chromium allows:
//  * the app:// origin: the page and worker.js are served from 127.0.0.1 with the app's own strict
//    CSP header (APP_CSP, what serveRenderer in src/main/index.ts sends);
//  * the preload and MessagePortMain: the page gets a real MessagePort the way the preload hands it
//    over (window.postMessage(GPU_WINDOW_PORT, '*', [port]) from the window itself), and the other
//    end is relayed, message by message, to the real services' connectPort() in this process (what
//    startGpuWindow does with MessagePortMain). Bytes cross the relay as base64.
// Everything else is the product: the page, the training worker, SwiftShader's WebGPU, the services,
// the database and the data folder. The web-mode tab's path is test/e2e/webgpu.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { build, type InlineConfig } from 'vite'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { APP_CSP, mimeType } from '../../src/main/app-scheme'
import { dataPaths } from '../../src/main/paths'
import { createServices, type Services } from '../../src/main/services'
import { DatasetStore } from '../../src/main/services/datasets'
import { GPU_WINDOW_CLOSED, type HostPort } from '../../src/main/transports/browser-worker'
import { GPU_WINDOW_PORT } from '../../src/shared/browser-gpu'
import { TrainConfigSchema } from '../../src/shared/schemas'
import { recordedStatus, tinyConfig } from '../helpers/hosts'
import { checkPrerequisites, CHROMIUM, root, WEBGPU_ARGS } from './harness'

let pageDir: string
let dataRoot: string
let server: Server
let origin: string
let browser: Browser
let services: Services
const pageErrors: string[] = []

/** Uint8Arrays anywhere in a message ↔ { __bytes: base64 }, both ways (the relay is JSON). */
type Encoded = unknown
function encode(v: unknown): Encoded {
  if (v instanceof Uint8Array) return { __bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') }
  if (Array.isArray(v)) return v.map(encode)
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]))
  return v
}
function decode(v: Encoded): unknown {
  if (Array.isArray(v)) return v.map(decode)
  if (v && typeof v === 'object') {
    const b = (v as { __bytes?: unknown }).__bytes
    if (typeof b === 'string') return new Uint8Array(Buffer.from(b, 'base64'))
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]))
  }
  return v
}

/** Opens the GPU window page and connects it to the services, as startGpuWindow does. */
async function openWindow(): Promise<{ page: Page; closed: Promise<void> }> {
  const page = await browser.newPage()
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`))
  let deliver: (m: unknown) => void = () => undefined
  let onClose: () => void = () => undefined
  const closed = new Promise<void>((resolve) => {
    onClose = resolve
  })
  await page.exposeFunction('__toHost', (m: Encoded) => deliver(decode(m)))
  await page.goto(`${origin}/gpu-window.html`)
  const port: HostPort = {
    postMessage: (m) => {
      void page
        .evaluate((e) => (window as unknown as { __toWindow(e: unknown): void }).__toWindow(e), encode(m) as object)
        .catch(() => undefined)
    },
    onMessage: (fn) => {
      deliver = fn as (m: unknown) => void
    },
    onClose: (fn) => void closed.then(fn)
  }
  page.once('close', () => onClose())
  // The host's end first (as main does before it sends the port), then the page's end, handed over
  // as the preload does: a message from the window to itself, carrying the port.
  services.browserWorkers.connectPort(port)
  await page.evaluate((channel) => {
    const enc = (v: unknown): unknown => {
      if (v instanceof Uint8Array) {
        let s = ''
        for (let i = 0; i < v.length; i += 0x8000) s += String.fromCharCode(...v.subarray(i, i + 0x8000))
        return { __bytes: btoa(s) }
      }
      if (Array.isArray(v)) return v.map(enc)
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]))
      return v
    }
    const dec = (v: unknown, transfer: ArrayBuffer[]): unknown => {
      if (Array.isArray(v)) return v.map((x) => dec(x, transfer))
      if (v && typeof v === 'object') {
        const b = (v as { __bytes?: unknown }).__bytes
        if (typeof b === 'string') {
          const bytes = Uint8Array.from(atob(b), (c) => c.charCodeAt(0))
          transfer.push(bytes.buffer)
          return bytes
        }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, dec(x, transfer)]))
      }
      return v
    }
    const { port1, port2 } = new MessageChannel()
    const w = window as unknown as { __toHost(m: unknown): void; __toWindow(e: unknown): void }
    port1.onmessage = (e) => w.__toHost(enc(e.data))
    w.__toWindow = (e) => {
      const transfer: ArrayBuffer[] = []
      const m = dec(e, transfer)
      port1.postMessage(m, transfer)
    }
    window.postMessage(channel, '*', [port2])
  }, GPU_WINDOW_PORT)
  return { page, closed }
}


beforeAll(async () => {
  const missing = checkPrerequisites()
  if (missing) throw new Error(missing)
  // The desktop renderer exactly as `npm run build` makes it: electron-vite's own renderer config
  // (the page, the GPU window's page, worker.js and their shared chunks), built into a temp folder.
  const { renderer } = (await import('../../electron.vite.config')).default as { renderer: InlineConfig }
  pageDir = mkdtempSync(join(tmpdir(), 'conv-studio-gpu-window-'))
  await build({ ...renderer, configFile: false, logLevel: 'error', base: './', build: { ...renderer.build, outDir: pageDir, emptyOutDir: false } })
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    const file = join(pageDir, path)
    // Headless Chromium asks for a favicon; an Electron window does not.
    if (path === '/favicon.ico') return void res.writeHead(204).end()
    if (!file.startsWith(pageDir) || !existsSync(file)) return void res.writeHead(404).end()
    res.writeHead(200, { 'Content-Type': mimeType(file), 'Content-Security-Policy': APP_CSP, 'X-Content-Type-Options': 'nosniff' })
    res.end(readFileSync(file))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  dataRoot = mkdtempSync(join(tmpdir(), 'conv-studio-gpu-window-data-'))
  // The tiny IDX fixture (20 train, 10 test images): SwiftShader trains a few examples per second.
  await new DatasetStore({ dataDir: dataRoot }).importFolder(join(root, 'test/fixtures/data/tiny-raw'), 'Tiny digits')
  services = await createServices({ dataDir: dataRoot, host: 'electron' })
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...WEBGPU_ARGS]
  })
})

afterAll(async () => {
  await browser?.close()
  await services?.close()
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()))
  for (const d of [pageDir, dataRoot]) if (d) rmSync(d, { recursive: true, force: true })
})

describe("the desktop app's GPU window page in Chromium (WebGPU on SwiftShader, the app's CSP)", () => {
  it('registers its adapter, trains a LeNet-5 run sent by the host and the host records it; closing the window mid-run ends a run interrupted', async () => {
    const { page } = await openWindow()
    // The page's own register call: a SwiftShader adapter, flagged software, never measured.
    await expect.poll(() => services.browserWorkers.list().length, { timeout: 60_000 }).toBe(1)
    const gpu = services.browserWorkers.list()[0]
    expect(gpu.adapter?.software).toBe(true)
    expect(gpu.reason).toBeNull()
    expect(gpu.examplesPerSec).toBeNull()

    const config = (epochs: number) =>
      TrainConfigSchema.parse(tinyConfig({ backend: 'browser-webgpu', dataset: 'imported-tiny-digits', batchSize: 10, epochs }))
    const run = await services.training.start(config(2), { classes: [...'0123456789'], paramCount: 61706 })
    const done = await recordedStatus(services, run.id, ['completed', 'failed', 'interrupted'], 240_000)
    expect([done.status, done.error, done.backend]).toEqual(['completed', null, 'browser-webgpu'])
    expect(done.device).toMatch(/swiftshader/i)
    const curves = await services.handle('runs.curves', { runId: run.id })
    expect(curves.ok && (curves.value as { epochs: unknown[] }).epochs).toHaveLength(2)
    // Checkpoints came back over the port into the run's folder.
    const runDir = dataPaths(dataRoot).runDir(run.id)
    for (const kind of ['best', 'last']) expect(existsSync(join(runDir, kind, 'model.json'))).toBe(true)
    expect(existsSync(join(runDir, 'last', 'train-state.json'))).toBe(true)

    // A second run, and the window goes away under it (its renderer gone: the port closes).
    const second = await services.training.start(config(50), { classes: [...'0123456789'], paramCount: 61706 })
    await expect
      .poll(async () => ((await services.handle('runs.curves', { runId: second.id })) as { ok: true; value: { epochs: unknown[] } }).value.epochs.length, { timeout: 240_000, interval: 250 })
      .toBeGreaterThan(0)
    await page.close()
    const stopped = await recordedStatus(services, second.id, ['interrupted', 'failed', 'completed'], 30_000)
    expect([stopped.status, stopped.error]).toEqual(['interrupted', GPU_WINDOW_CLOSED])
    expect(services.browserWorkers.list()).toHaveLength(0)
    // The strict CSP held: no violation, no page error.
    expect(pageErrors).toEqual([])
  })
})
