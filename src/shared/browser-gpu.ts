// Training in a browser's GPU (Chromium's WebGPU through tfjs-backend-webgpu), declared once for the
// three sides that speak of it: the host (src/main/transports/browser-worker.ts, a ChildHandle
// whose messages cross the page's socket), the page that starts the worker and relays
// (src/renderer/src/api/browser-gpu.ts) and the worker itself (src/worker/). Types only, plus the
// pure rules (what counts as a software adapter); no zod here, the worker bundle stays small.
import type { EpochInspectionMessage, TestResultMessage } from './worker-messages'
import type { BatchPoint, EpochRecord, TrainStartInfo } from './domain'
import type { CheckpointKind, TrainConfig } from './schemas'

/** The TrainConfig backend value that means "train in the browser window's GPU". */
export const BROWSER_WEBGPU = 'browser-webgpu' as const

/** What a page found: navigator.gpu's adapter, as GPUAdapterInfo names it. */
export interface BrowserAdapter {
  vendor: string
  architecture: string
  description: string
  /** A CPU rasteriser (SwiftShader, WARP, llvmpipe): never chosen automatically. */
  software: boolean
}

/** What a window tells the host about its GPU (browserGpu.register). */
export interface BrowserGpuInfo {
  adapter: BrowserAdapter | null
  /** Why there is no adapter (no navigator.gpu, requestAdapter gave none), or null. */
  reason: string | null
  /** LeNet-5 training examples per second measured in this browser's worker, once measured. */
  examplesPerSec: number | null
  /** The user agent's product and version ("Chrome/142.0.0.0"). */
  browser: string
}

/** A name a person recognises: "google swiftshader", "nvidia ampere (GeForce RTX 3060)". */
export function adapterLabel(a: BrowserAdapter): string {
  const base = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter'
  return a.description && !base.includes(a.description) ? `${base} (${a.description})` : base
}

/**
 * Software adapters: SwiftShader (Chromium's, what `--use-webgpu-adapter=swiftshader` gives),
 * Microsoft's WARP / Basic Render Driver, Mesa's llvmpipe / lavapipe. isFallbackAdapter says so
 * when the browser sets it; the names catch the rest.
 */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.toLowerCase()
  return /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render/.test(text)
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }
  isFallbackAdapter?: boolean
}

/**
 * The adapter this browser context's WebGPU offers (asked for 'high-performance', as
 * tfjs-backend-webgpu asks), or why there is none. Browser code only: the page, the training
 * worker and the desktop app's hidden GPU window. `missing` says what to do when WebGPU is absent.
 */
export async function findAdapter(missing: string): Promise<{ adapter: BrowserAdapter | null; reason: string | null }> {
  const nav = (globalThis as { navigator?: { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> } } }).navigator
  if (!nav?.gpu) return { adapter: null, reason: `This browser has no WebGPU (navigator.gpu is missing)${missing ? `: ${missing}` : '.'}` }
  let a: GpuAdapterLike | null = null
  try {
    a = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' })
  } catch (err) {
    return { adapter: null, reason: `WebGPU gave no adapter: ${(err as Error).message}` }
  }
  if (!a) return { adapter: null, reason: 'WebGPU gave no adapter (the GPU is blocklisted or disabled in this browser).' }
  const info = a.info ?? {}
  const base = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' }
  return { adapter: { ...base, software: isSoftwareAdapter({ ...base, isFallbackAdapter: a.isFallbackAdapter ?? info.isFallbackAdapter }) }, reason: null }
}

/**
 * Where a browser context keeps its LeNet-5 measurement of an adapter (localStorage). The desktop
 * app's main window and its hidden GPU window share the app:// origin, so either sees the other's.
 */
export function measuredKey(a: BrowserAdapter): string {
  return `conv-studio:browser-gpu-lenet:${a.vendor}/${a.architecture}/${a.description}`
}

/** The browser and version from the user agent (browser code only). */
export function browserName(): string {
  const ua = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? ''
  const m = /(Edg|Chrome|Firefox|Safari)\/[\d.]+/.exec(ua)
  return m ? m[0] : 'unknown browser'
}

// ---------------------------------------------------------------------------------------------
// Host → page (the 'browserGpu.toWorker' event, sent to the one window that holds the run).

export interface WorkerStart {
  type: 'start'
  runId: number
  config: TrainConfig
  /** GET: the dataset's arrays (encodeDatasetArrays). */
  datasetUrl: string
  /** POST <checkpointUrl>/<epoch>/<kind>: one checkpoint (encodeCheckpoint). */
  checkpointUrl: string
  /** Sent as workerKeyHeader with every request of this run: the routes take nothing else. */
  key: string
  /** GET: what a resumed or fine-tuned run starts from (StartWeightsHeader); absent for a fresh run. */
  fromUrl?: string
}

export type ToWorker = WorkerStart | { type: 'cancel'; runId: number } | { type: 'stop'; runId: number }

/** The header a worker's requests carry their run's key in (besides the page's token). */
export const workerKeyHeader = 'x-conv-studio-worker-key'

// ---------------------------------------------------------------------------------------------
// Worker → page → host ('browserGpu.post'). The same shapes as a Node child's FromChild messages,
// except that checkpoints were uploaded already (the host knows where it put them) and 'lost'.

export type FromWorker =
  | { type: 'started'; backend: string; device: string | null; versions: Record<string, string>; reason: string }
  | ({ type: 'info' } & TrainStartInfo)
  | ({ type: 'batch' } & BatchPoint)
  | {
      type: 'epoch'
      epoch: EpochRecord
      confusion: number[][]
      /** base64 */ predictions: string
      isBest: boolean
      /** Uploaded before this message; 'last' with its training state (POST <checkpointUrl>/<epoch>/state). */
      checkpoints: { kind: CheckpointKind }[]
      inspection?: EpochInspectionMessage
    }
  | { type: 'done'; status: 'completed' | 'cancelled'; epochsDone: number; bestEpoch: number | null; bestValAcc: number | null; examplesPerSec: number; test: TestResultMessage | null }
  | { type: 'error'; message: string }
  /** The GPU device was lost (driver reset, out of memory, the browser reclaimed it). */
  | { type: 'lost'; message: string }

/** Page ↔ its worker: the worker also answers a measurement of LeNet-5 throughput. */
export type PageToWorker =
  | Exclude<ToWorker, WorkerStart>
  /** The page adds its access token: the worker's requests carry it like the page's own. Or, in the
      desktop app's hidden window (no server to fetch from), `tunnel`: the worker's requests go to its
      page as WorkerRequest messages and come back as WorkerResponse (PortToHost / PortToWindow). */
  | (WorkerStart & ({ token: string } | { tunnel: true }))
  | WorkerResponse
  | { type: 'measure'; seconds: number }
  /** parity.ts: every layer type against the cpu backend (tests). */
  | { type: 'parity' }
export type WorkerToPage =
  | { type: 'run'; runId: number; message: FromWorker }
  | { type: 'measured'; examplesPerSec: number | null; error: string | null }
  | WorkerRequest

/** One of the worker's HTTP requests (the same routes, key and bodies) carried as a message instead. */
export interface WorkerRequest {
  type: 'request'
  id: number
  method: 'GET' | 'POST'
  /** The route's path, as in WorkerStart's URLs. */
  path: string
  key: string
  body: Uint8Array | null
}
/** Its answer: the route's status and body (a JSON Reply's bytes when the status is not 200). */
export interface WorkerResponse {
  type: 'response'
  id: number
  status: number
  body: Uint8Array
}

// ---------------------------------------------------------------------------------------------
// The desktop app (src/main/transports/electron-gpu-window.ts): a hidden window trains instead of a
// tab, over a MessagePort instead of a socket. The port carries the web mode's messages unchanged:
// ToWorker from the host (the 'browserGpu.toWorker' event's payload), the window's contract calls
// browserGpu.register / browserGpu.post, and the worker's route requests and their answers.

/** The IPC channel main hands the port on (webContents.postMessage), and the window.postMessage
    data the window's preload forwards it to the page with (Electron's "MessagePorts in Electron"). */
export const GPU_WINDOW_PORT = 'conv-studio:gpu-port'

export type PortToWindow = { type: 'toWorker'; message: ToWorker } | WorkerResponse
export type PortToHost = { type: 'call'; method: 'browserGpu.register' | 'browserGpu.post'; args: unknown } | WorkerRequest

// ---------------------------------------------------------------------------------------------
// Binary bodies (one JSON header, then raw bytes): a dataset is tens of MB and AlexNet's weights
// 187 MB, far too much for a socket message or base64.

/** [u32 LE header length][header JSON][payload bytes]. */
export function frame(header: unknown, payload: Uint8Array[]): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify(header))
  const total = 4 + head.length + payload.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  new DataView(out.buffer).setUint32(0, head.length, true)
  out.set(head, 4)
  let at = 4 + head.length
  for (const p of payload) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The header and the bytes after it; throws on a body too short for what it declares. */
export function unframe<H>(body: Uint8Array, maxHeader = 16 * 1024 * 1024): { header: H; payload: Uint8Array } {
  if (body.length < 4) throw new Error('The body is shorter than its header length.')
  const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, true)
  if (len > maxHeader || 4 + len > body.length) throw new Error('The body declares a header longer than itself.')
  const header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + len))) as H
  return { header, payload: body.subarray(4 + len) }
}

export interface DatasetHeader {
  id: string
  title: string
  classes: string[]
  style: string
  train: { count: number; height: number; width: number }
  test: { count: number; height: number; width: number }
}

/**
 * What a resumed (or fine-tuned) run starts from, GET fromUrl: this header, then the payload parts
 * in this order: optimizer slots (float32, state's slot order), last weights, best weights, initial
 * weights; each part's byte length in `lengths` (0 for an absent one).
 */
export interface StartWeightsHeader {
  /** train-state.json's fields (the slots without their values), or null for a fine-tune. */
  state: unknown
  last: CheckpointHeader | null
  best: CheckpointHeader | null
  initial: CheckpointHeader | null
  lengths: [number, number, number, number]
}

/** A checkpoint as the worker uploads it: tfjs's model.json fields, then the weights. */
export interface CheckpointHeader {
  modelTopology: unknown
  weightSpecs: unknown[]
  format?: string
  generatedBy?: string
  convertedBy?: string | null
}
