// The Chromium worker: a dedicated Web Worker the page starts (by URL, never by import) when a run
// trains in "this browser's GPU". It runs src/core exactly as a Node child does, on
// tfjs-backend-webgpu, and speaks src/shared/browser-gpu.ts: the page hands it the host's 'start'
// (and 'cancel'), it fetches the dataset's arrays from the host once, uploads each epoch's
// checkpoints over HTTP and posts the same events a child sends; the page relays them to the host,
// which records them (this worker writes nothing but its uploads). It also measures LeNet-5's
// training throughput on this GPU and checks every layer type against the cpu backend (parity.ts).
import { epochRecordOf, testResultOf } from '../core/training/report'
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-webgpu'
import { train } from '../core/training/trainer'
import { getPreset } from '../core/models/presets'
import type { DatasetArrays } from '../core/data/types'
import { filesHttp } from '../shared/contract'
import type { DatasetStyle, TrainConfig } from '../shared/schemas'
import {
  frame,
  isSoftwareAdapter,
  adapterLabel,
  unframe,
  workerKeyHeader,
  type BrowserAdapter,
  type CheckpointHeader,
  type DatasetHeader,
  type FromWorker,
  type PageToWorker,
  type WorkerStart,
  type WorkerToPage
} from '../shared/browser-gpu'
import { layerParity } from './parity'

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }
  isFallbackAdapter?: boolean
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>
}

const scope = self as unknown as { postMessage(m: unknown): void; onmessage: ((e: MessageEvent) => void) | null }
const post = (m: WorkerToPage | { type: 'parity'; result: unknown }) => scope.postMessage(m)

/** The adapter tfjs-backend-webgpu takes (it asks for 'high-performance' too). */
export async function currentAdapter(): Promise<BrowserAdapter | null> {
  const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu
  const a = gpu ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null
  if (!a) return null
  const info = a.info ?? {}
  const adapter = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' }
  return { ...adapter, software: isSoftwareAdapter({ ...adapter, isFallbackAdapter: a.isFallbackAdapter ?? info.isFallbackAdapter }) }
}

let lostWatch: Promise<void> | null = null
let stopping = false

/** webgpu as the tfjs backend, and a watch on its device: a loss ends the run 'interrupted'. */
async function useWebGpu(onLost: (why: string) => void): Promise<void> {
  if (!(await tf.setBackend('webgpu'))) throw new Error("tfjs could not start its WebGPU backend in this browser.")
  await tf.ready()
  const device = (tf.backend() as unknown as { device?: { lost?: Promise<{ reason?: string; message?: string }> } }).device
  lostWatch ??= device?.lost?.then((info) => {
    if (!stopping) onLost(info.message || info.reason || 'no reason given')
  }) ?? null
}

function toBase64(typed: Uint8Array | Float32Array): string {
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

function headers(start: WorkerStart & { token: string }): Record<string, string> {
  return { [filesHttp.tokenHeader]: start.token, [workerKeyHeader]: start.key }
}

async function fetchDataset(start: WorkerStart & { token: string }): Promise<DatasetArrays> {
  const res = await fetch(start.datasetUrl, { headers: headers(start), cache: 'no-store' })
  if (!res.ok) throw new Error(`The dataset could not be fetched from Conv Studio (${res.status}).`)
  const { header, payload } = unframe<DatasetHeader>(new Uint8Array(await res.arrayBuffer()))
  const tr = header.train.count * header.train.height * header.train.width
  const te = header.test.count * header.test.height * header.test.width
  let at = 0
  const take = (n: number) => payload.subarray(at, (at += n))
  const train = { ...header.train, images: take(tr), labels: take(header.train.count) }
  const test = { ...header.test, images: take(te), labels: take(header.test.count) }
  if (at !== payload.length) throw new Error('The dataset from Conv Studio has the wrong length for its header.')
  return { id: header.id, title: header.title, classes: header.classes, style: header.style as DatasetStyle, train, test }
}

async function upload(start: WorkerStart & { token: string }, epoch: number, kind: string, a: tf.io.ModelArtifacts): Promise<void> {
  const header: CheckpointHeader = {
    modelTopology: a.modelTopology,
    weightSpecs: a.weightSpecs ?? [],
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy ?? null
  }
  const data = a.weightData
  const parts = (data === undefined ? [] : Array.isArray(data) ? data : [data]).map((b) => new Uint8Array(b))
  const body = frame(header, parts)
  const res = await fetch(`${start.checkpointUrl}/${epoch}/${kind}`, { method: 'POST', headers: headers(start), body: body as BodyInit })
  if (!res.ok) {
    const reply = (await res.json().catch(() => null)) as { error?: { message?: string } } | null
    throw new Error(reply?.error?.message ?? `Conv Studio did not take the checkpoint of epoch ${epoch} (${res.status}).`)
  }
}

let abort: AbortController | null = null

async function runTraining(start: WorkerStart & { token: string }): Promise<void> {
  const send = (message: FromWorker) => post({ type: 'run', runId: start.runId, message })
  abort = new AbortController()
  await useWebGpu((why) => send({ type: 'lost', message: why }))
  const adapter = await currentAdapter()
  const data = await fetchDataset(start)
  const device = adapter ? `${adapterLabel(adapter)}${adapter.software ? ' (software adapter)' : ''}` : null
  send({
    type: 'started',
    backend: 'webgpu',
    device,
    versions: { 'tfjs-core': tf.version_core, 'tfjs-backend-webgpu': tf.version_core, browser: browserName() },
    reason: adapter?.software
      ? "Chosen by you: this browser's WebGPU adapter is a software rasteriser, far slower than a GPU."
      : "Chosen by you: this browser's GPU through WebGPU."
  })
  const result = await train(
    start.config as TrainConfig,
    data,
    {
      onStart: (info) => send({ type: 'info', ...info }),
      onBatch: (e) => send({ type: 'batch', ...e }),
      onEpoch: async (e) => {
        const artifacts = await e.saveWeights()
        const kinds: ('best' | 'last')[] = e.isBest ? ['best', 'last'] : ['last']
        for (const kind of kinds) await upload(start, e.epoch, kind, artifacts)
        send({ type: 'epoch', epoch: epochRecordOf(e), confusion: e.confusion, predictions: toBase64(e.predictions), isBest: e.isBest, checkpoints: kinds.map((kind) => ({ kind })) })
      }
    },
    { signal: abort.signal }
  )
  send({
    type: 'done',
    status: result.status,
    epochsDone: result.epochsDone,
    bestEpoch: result.bestEpoch,
    bestValAcc: result.bestValAcc,
    examplesPerSec: result.examplesPerSec,
    test: result.test ? testResultOf(result.test, data.test.labels, toBase64) : null
  })
}

function browserName(): string {
  const m = /(Chrome|Edg|Firefox|Safari)\/[\d.]+/.exec(navigator.userAgent)
  return m ? m[0] : 'unknown'
}

/**
 * LeNet-5 training examples per second on this GPU: synthetic digits, batch 64, epochs of 192
 * examples (small: a software adapter trains a few examples per second); the first epoch compiles the shaders and is not counted, then whole epochs until about
 * `seconds` have passed, and the median of their rates.
 */
async function measure(seconds: number): Promise<number> {
  await useWebGpu(() => undefined)
  const preset = getPreset('lenet5')
  if (!preset) throw new Error('The LeNet-5 preset is missing.')
  const n = 192
  const images = new Uint8Array(n * 28 * 28)
  for (let i = 0; i < images.length; i++) images[i] = (i * 2654435761) >>> 24
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10)
  const set = { images, labels, count: n, height: 28, width: 28 }
  const test = { ...set, count: 64, images: images.subarray(0, 64 * 784), labels: labels.subarray(0, 64) }
  const data: DatasetArrays = { id: 'synthetic', title: 'synthetic', classes: [...'0123456789'], style: 'digits', train: set, test }
  const rates: number[] = []
  const ctl = new AbortController()
  let began = 0
  await train(
    { model: 'lenet5', spec: preset.spec, dataset: 'synthetic', optimizer: 'sgd', lr: 0.1, batchSize: 64, epochs: 1000, seed: 1, validation: { source: 'test' }, init: 'xavier' },
    data,
    {
      onEpoch: (e) => {
        if (e.epoch === 1) began = performance.now()
        else rates.push(e.examplesPerSec)
        if (rates.length >= 1 && performance.now() - began > seconds * 1000) ctl.abort()
      }
    },
    { signal: ctl.signal }
  )
  if (rates.length === 0) throw new Error('no epoch finished')
  rates.sort((a, b) => a - b)
  return rates[Math.floor(rates.length / 2)]
}

let busy = false

scope.onmessage = (e: MessageEvent) => {
  const msg = e.data as PageToWorker | { type: 'parity' }
  if (msg.type === 'cancel') {
    abort?.abort()
    return
  }
  if (msg.type === 'stop') {
    stopping = true
    abort?.abort()
    return
  }
  if (busy) return
  busy = true
  const job =
    msg.type === 'start'
      ? runTraining(msg as WorkerStart & { token: string }).catch((err: unknown) =>
          post({ type: 'run', runId: msg.runId, message: { type: 'error', message: (err as Error)?.message || String(err) } })
        )
      : msg.type === 'measure'
        ? measure(msg.seconds).then(
            (examplesPerSec) => post({ type: 'measured', examplesPerSec, error: null }),
            (err: unknown) => post({ type: 'measured', examplesPerSec: null, error: (err as Error)?.message || String(err) })
          )
        : layerParity().then((result) => post({ type: 'parity', result }))
  void job.finally(() => (busy = false))
}
