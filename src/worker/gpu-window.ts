// The desktop app's hidden GPU window (src/main/transports/electron-gpu-window.ts): a sandboxed
// page with no UI whose Chromium WebGPU trains "this browser's GPU" runs, as a web-mode tab does.
// Main hands it a MessagePort (through the window's preload, src/preload/gpu-window.ts); over it the
// page registers its adapter, takes the host's start/cancel/stop (ToWorker), starts the same worker
// (worker.js, built from src/worker/index.ts) per run, and relays the worker's messages. The
// worker's route requests travel through here too ('tunnel': there is no server to fetch from) and
// their answers go back to the worker that asked. Browser code: no Node, no Electron.
import { browserName, findAdapter, GPU_WINDOW_PORT, measuredKey, type BrowserGpuInfo, type PageToWorker, type PortToHost, type PortToWindow, type WorkerToPage } from '../shared/browser-gpu'

// Only the one message the preload forwards from main counts: it comes from this window itself.
self.addEventListener('message', (e: MessageEvent) => {
  if (e.source !== (self as unknown) || e.data !== GPU_WINDOW_PORT || !e.ports[0]) return
  void serve(e.ports[0])
})

async function serve(port: MessagePort): Promise<void> {
  const toHost = (m: PortToHost) => port.postMessage(m)
  const workers = new Map<number, Worker>()
  // The host's request ids are this page's; each maps back to the worker that asked and its own id.
  const requests = new Map<number, { worker: Worker; id: number }>()
  let nextRequest = 1
  // The start-up LeNet-5 measurement's worker while it runs (see the end).
  let measuring: Worker | null = null

  const relay = (runId: number, message: Extract<WorkerToPage, { type: 'run' }>['message']) => toHost({ type: 'call', method: 'browserGpu.post', args: { runId, message } })

  port.onmessage = (e: MessageEvent<PortToWindow>) => {
    const m = e.data
    if (m.type === 'response') {
      const r = requests.get(m.id)
      requests.delete(m.id)
      r?.worker.postMessage({ ...m, id: r.id } satisfies PageToWorker, [m.body.buffer])
      return
    }
    const msg = m.message
    if (msg.type === 'start') {
      measuring?.terminate()
      measuring = null
      workers.get(msg.runId)?.terminate()
      const worker = new Worker(new URL('./worker.js', self.location.href), { type: 'module', name: `conv-studio-run-${msg.runId}` })
      workers.set(msg.runId, worker)
      worker.onmessage = (we: MessageEvent<WorkerToPage>) => {
        const d = we.data
        if (d.type === 'run') relay(msg.runId, d.message)
        else if (d.type === 'request') {
          const id = nextRequest++
          requests.set(id, { worker, id: d.id })
          toHost({ ...d, id })
        }
      }
      // A worker that fails to load says so once, as the run's error.
      worker.onerror = (we) => {
        we.preventDefault()
        relay(msg.runId, { type: 'error', message: `The GPU window's worker stopped: ${we.message || 'it could not be loaded'}.` })
      }
      worker.postMessage({ ...msg, tunnel: true } satisfies PageToWorker)
      return
    }
    const worker = workers.get(msg.runId)
    if (!worker) return
    worker.postMessage(msg satisfies PageToWorker)
    if (msg.type === 'stop') {
      worker.terminate()
      workers.delete(msg.runId)
      for (const [id, r] of requests) if (r.worker === worker) requests.delete(id)
    }
  }

  const { adapter, reason } = await findAdapter('')
  // A page, not a worker: it has localStorage (typed here by hand: this file builds with the worker's lib).
  const storage = (globalThis as { localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void } }).localStorage
  const saved = adapter && storage ? Number(storage.getItem(measuredKey(adapter))) : NaN
  const info: BrowserGpuInfo = { adapter, reason, examplesPerSec: Number.isFinite(saved) && saved > 0 ? saved : null, browser: browserName() }
  toHost({ type: 'call', method: 'browserGpu.register', args: info })
  // A hardware adapter never measured here (nor in the main window: same origin, same storage) is
  // measured once, so the Device view, New run's estimate and doctor have its LeNet-5 throughput.
  // Never a software adapter (seconds of CPU at every start for a figure nobody trains on), and
  // never beside a run: one that starts meanwhile stops the measurement.
  if (!adapter || adapter.software || info.examplesPerSec !== null) return
  const measure = new Worker(new URL('./worker.js', self.location.href), { type: 'module', name: 'conv-studio-measure' })
  measuring = measure
  measure.onmessage = (we: MessageEvent<WorkerToPage>) => {
    const d = we.data
    if (d.type !== 'measured') return
    measure.terminate()
    measuring = null
    if (d.examplesPerSec === null) return console.warn('[gpu-window] the LeNet-5 measurement failed:', d.error)
    storage?.setItem(measuredKey(adapter), String(d.examplesPerSec))
    toHost({ type: 'call', method: 'browserGpu.register', args: { ...info, examplesPerSec: d.examplesPerSec } })
  }
  measure.onerror = (we) => {
    we.preventDefault()
    measuring = null
  }
  measure.postMessage({ type: 'measure', seconds: 6 } satisfies PageToWorker)
}
