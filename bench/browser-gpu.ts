// The backends bench's row for "this browser's GPU": the training worker (out/web/worker.js, the
// one web mode and the desktop GPU window start) measures LeNet-5 in Chromium's WebGPU exactly as
// the Device view's "Measure speed" does (batch 64, synthetic digits, median epoch). Chromium is
// Debian's (CHROMIUM_PATH to change it), driven by playwright-core, on an http://127.0.0.1 page
// (WebGPU needs a secure context). The GPU's own adapter first; where Chromium finds none (no GPU,
// or one it blocklists), SwiftShader, labelled a software adapter.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { mimeType } from '../src/main/app-scheme'
import { BROWSER_WEBGPU, isSoftwareAdapter, type BrowserAdapter } from '../src/shared/browser-gpu'

export interface BrowserGpuRow {
  backend: typeof BROWSER_WEBGPU
  device: string | null
  examplesPerSec: number | null
  batchSize: number
  error: string | null
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const WEB = resolve(import.meta.dirname, '../out/web')
/** Batch size of the worker's measurement (src/worker/index.ts measure()). */
const MEASURE_BATCH = 64
const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu', '--enable-features=Vulkan']

const row = (device: string | null, examplesPerSec: number | null, error: string | null): BrowserGpuRow => ({ backend: BROWSER_WEBGPU, device, examplesPerSec, batchSize: examplesPerSec === null ? 0 : MEASURE_BATCH, error })

export async function measureBrowserGpu(seconds: number): Promise<BrowserGpuRow> {
  if (!existsSync(CHROMIUM)) return row(null, null, `no Chromium at ${CHROMIUM} (apt install chromium, or set CHROMIUM_PATH)`)
  if (!existsSync(join(WEB, 'worker.js'))) {
    const built = spawnSync('npm', ['run', 'build:web'], { cwd: resolve(import.meta.dirname, '..'), encoding: 'utf8' })
    if (built.status !== 0) return row(null, null, `npm run build:web failed: ${(built.stderr || built.stdout).trim().split('\n').pop()}`)
  }
  const { chromium } = await import('playwright-core')
  // The worker and its chunks from out/web; '/' is an empty page to start it from.
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname
    if (path === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>browser GPU bench</title>')
    const file = join(WEB, path)
    if (!file.startsWith(WEB + '/') || !existsSync(file)) return void res.writeHead(404).end()
    res.writeHead(200, { 'Content-Type': mimeType(file) }).end(readFileSync(file))
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  try {
    for (const extra of [[], ['--use-webgpu-adapter=swiftshader']]) {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, ...extra] })
      try {
        const page = await browser.newPage()
        await page.goto(origin)
        const found = await page.evaluate(async () => {
          const gpu = (navigator as unknown as { gpu?: { requestAdapter(o: object): Promise<{ info?: Record<string, string>; isFallbackAdapter?: boolean } | null> } }).gpu
          const a = gpu ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null
          return a ? { vendor: a.info?.vendor ?? '', architecture: a.info?.architecture ?? '', description: a.info?.description ?? '', fallback: Boolean(a.isFallbackAdapter ?? a.info?.isFallbackAdapter) } : null
        })
        if (!found) continue
        const adapter: BrowserAdapter = { vendor: found.vendor, architecture: found.architecture, description: found.description, software: isSoftwareAdapter({ ...found, isFallbackAdapter: found.fallback }) }
        const device = `${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' ')}${adapter.software ? ' (software adapter)' : ''}`
        const measured = await page.evaluate(
          (s) =>
            new Promise<{ examplesPerSec: number | null; error: string | null }>((done) => {
              const worker = new Worker('/worker.js', { type: 'module' })
              worker.onmessage = (e: MessageEvent<{ type: string; examplesPerSec: number | null; error: string | null }>) => e.data.type === 'measured' && done(e.data)
              worker.onerror = (e) => done({ examplesPerSec: null, error: e.message || 'the worker could not be loaded' })
              worker.postMessage({ type: 'measure', seconds: s })
            }),
          seconds
        )
        return row(device, measured.examplesPerSec, measured.error)
      } finally {
        await browser.close()
      }
    }
    return row(null, null, "Chromium's WebGPU gave no adapter, not even SwiftShader")
  } finally {
    server.close()
  }
}
