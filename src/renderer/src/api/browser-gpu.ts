// This browser's GPU as a place where runs train (web mode). The page finds navigator.gpu's
// adapter and tells the host (browserGpu.register, again on every reconnect); when the host hands
// it a run ('browserGpu.toWorker', sent to this window alone) it starts the Chromium worker by URL
// (out/web/worker.js, built from src/worker; never imported here) and relays the worker's messages
// back with browserGpu.post. Closing the tab closes the socket, and the host ends the run
// 'interrupted'. In the desktop app a hidden GPU window of main's trains these runs instead
// (src/main/transports/electron-gpu-window.ts); this page only shows what that window reported.
import { reactive } from 'vue'
import { browserName, findAdapter, measuredKey, type BrowserGpuInfo, type PageToWorker, type WorkerToPage } from '../../../shared/browser-gpu'
import type { StudioClient } from './types'
import { pageToken } from './ws-client'

/** What the page knows about its GPU; the views read it. */
export const browserGpu = reactive<{ checked: boolean; info: BrowserGpuInfo | null; measuring: boolean; measureError: string | null; training: number[] }>({
  checked: false,
  info: null,
  measuring: false,
  measureError: null,
  training: []
})

function workerUrl(): URL {
  return new URL('./worker.js', document.baseURI)
}

let client: StudioClient | null = null

async function register(): Promise<void> {
  if (!client || !browserGpu.info) return
  try {
    await client.invoke('browserGpu.register', JSON.parse(JSON.stringify(browserGpu.info)) as BrowserGpuInfo)
  } catch (err) {
    console.warn('[browser-gpu] the host did not take this window’s GPU:', (err as Error).message)
  }
}

/** Starts the bridge once (main.ts). In Electron (window.studio exists) it only reads the GPU window's report. */
export async function startBrowserGpu(api: StudioClient): Promise<void> {
  if (client) return
  if (window.studio) return readDesktopGpu(api)
  client = api
  const workers = new Map<number, Worker>()
  api.on('browserGpu.toWorker', (msg) => {
    if (msg.type === 'start') {
      workers.get(msg.runId)?.terminate()
      const worker = new Worker(workerUrl(), { type: 'module', name: `conv-studio-run-${msg.runId}` })
      workers.set(msg.runId, worker)
      browserGpu.training = [...workers.keys()]
      const relay = (message: Extract<WorkerToPage, { type: 'run' }>['message']) =>
        api.invoke('browserGpu.post', { runId: msg.runId, message: message as unknown as { type: string } }).catch((err: unknown) => console.warn('[browser-gpu] relay failed:', (err as Error).message))
      worker.onmessage = (e: MessageEvent<WorkerToPage>) => {
        if (e.data.type === 'run') void relay(e.data.message)
      }
      // A worker that fails to load (a 404, a syntax error) says so once, as the run's error.
      worker.onerror = (e) => {
        e.preventDefault()
        void relay({ type: 'error', message: `The browser worker stopped: ${e.message || 'it could not be loaded'}.` })
      }
      const start: PageToWorker = { ...msg, token: pageToken(window.location, window.sessionStorage) }
      worker.postMessage(start)
    } else {
      const worker = workers.get(msg.runId)
      if (!worker) return
      worker.postMessage(msg)
      if (msg.type === 'stop') {
        // The host has what it needs: the worker ends now (a cancel let it finish its batch first).
        worker.terminate()
        workers.delete(msg.runId)
        browserGpu.training = [...workers.keys()]
      }
    }
  })
  api.onConnection?.((s) => {
    if (s === 'reconnected') void register()
  })
  const { adapter, reason } = await findAdapter('use a recent Chrome or Edge, on http://127.0.0.1 or https.')
  const saved = adapter ? Number(window.localStorage.getItem(measuredKey(adapter))) : NaN
  browserGpu.info = { adapter, reason, examplesPerSec: Number.isFinite(saved) && saved > 0 ? saved : null, browser: browserName() }
  browserGpu.checked = true
  await register()
}

let desktopRead = false

/**
 * The desktop app: the hidden GPU window, started beside this one, registers its adapter with main
 * a moment after start; ask until it has (or say it never did). A measurement made in this window
 * (the same Chromium and GPU) is kept here as in web mode.
 */
async function readDesktopGpu(api: StudioClient): Promise<void> {
  if (desktopRead) return
  desktopRead = true
  for (let i = 0; i < 30; i++) {
    const list = await api.invoke('browserGpu.list', {}).catch(() => [] as BrowserGpuInfo[])
    const gpu = list[0]
    if (gpu) {
      const saved = gpu.adapter ? Number(window.localStorage.getItem(measuredKey(gpu.adapter))) : NaN
      browserGpu.info = { ...gpu, examplesPerSec: gpu.examplesPerSec ?? (Number.isFinite(saved) && saved > 0 ? saved : null) }
      browserGpu.checked = true
      return
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  browserGpu.info = { adapter: null, reason: "the desktop app's GPU window did not report (see the log file: Help → Open Logs Folder).", examplesPerSec: null, browser: 'Electron' }
  browserGpu.checked = true
}

/** Measures LeNet-5's training throughput in a worker on this GPU (about `seconds`, plus shader compilation). */
export async function measureBrowserGpu(seconds = 6): Promise<void> {
  const info = browserGpu.info
  if (!info?.adapter || browserGpu.measuring) return
  browserGpu.measuring = true
  browserGpu.measureError = null
  const worker = new Worker(workerUrl(), { type: 'module', name: 'conv-studio-measure' })
  try {
    const result = await new Promise<Extract<WorkerToPage, { type: 'measured' }>>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<WorkerToPage>) => e.data.type === 'measured' && resolve(e.data)
      worker.onerror = (e) => {
        e.preventDefault()
        reject(new Error(e.message || 'the worker could not be loaded'))
      }
      worker.postMessage({ type: 'measure', seconds } satisfies PageToWorker)
    })
    if (result.error || result.examplesPerSec === null) throw new Error(result.error ?? 'nothing was measured')
    info.examplesPerSec = result.examplesPerSec
    window.localStorage.setItem(measuredKey(info.adapter), String(result.examplesPerSec))
    await register()
  } catch (err) {
    browserGpu.measureError = `The measurement failed: ${(err as Error).message}`
  } finally {
    worker.terminate()
    browserGpu.measuring = false
  }
}
