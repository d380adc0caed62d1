// The Chromium worker: a dedicated Web Worker the page starts (by URL, never by import) when a run
// trains in "this browser's GPU" (a web-mode tab, or the desktop app's hidden GPU window:
// gpu-window.ts). It runs src/core exactly as a Node child does, on tfjs-backend-webgpu, and speaks
// src/shared/browser-gpu.ts: the page hands it the host's 'start' (and 'cancel'), it fetches the
// dataset's arrays (and a resumed run's weights and optimizer state) from the host once, uploads
// each epoch's checkpoints and training state and posts the same events a child sends, inspection
// data included; the page relays them to the host, which records them (this worker writes nothing
// but its uploads). Its requests go over HTTP in web mode and through its page ('tunnel') in the
// desktop app, to the same routes. It also measures LeNet-5's training throughput on this GPU and
// checks every layer type against the cpu backend (parity.ts).
import { epochInspectionOf, epochRecordOf, testResultOf } from '../core/training/report'
import type { TrainState } from '../core/training/resume-state'
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-webgpu'
import { train } from '../core/training/trainer'
import { getPreset } from '../core/models/presets'
import type { DatasetArrays } from '../core/data/types'
import { filesHttp } from '../shared/contract'
import type { DatasetStyle, TrainConfig } from '../shared/schemas'
import {
  adapterLabel,
  browserName,
  findAdapter,
  frame,
  unframe,
  workerKeyHeader,
  type CheckpointHeader,
  type DatasetHeader,
  type FromWorker,
  type PageToWorker,
  type StartWeightsHeader,
  type WorkerResponse,
  type WorkerStart,
  type WorkerToPage
} from '../shared/browser-gpu'
import { layerParity } from './parity'

const scope = self as unknown as { postMessage(m: unknown, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent) => void) | null }
const post = (m: WorkerToPage | { type: 'parity'; result: unknown }, transfer?: Transferable[]) => scope.postMessage(m, transfer)

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

type Start = Extract<PageToWorker, WorkerStart>

/** One request to the host's routes for this run: HTTP with the page's token, or through the page. */
type Requester = (method: 'GET' | 'POST', url: string, body: Uint8Array | null) => Promise<{ status: number; body: Uint8Array }>

const pending = new Map<number, (r: WorkerResponse) => void>()
let nextRequest = 1

function requester(start: Start): Requester {
  if ('tunnel' in start)
    return (method, url, body) =>
      new Promise((resolve) => {
        const id = nextRequest++
        pending.set(id, (r) => resolve({ status: r.status, body: r.body }))
        post({ type: 'request', id, method, path: url, key: start.key, body }, body ? [body.buffer] : [])
      })
  const headers = { [filesHttp.tokenHeader]: start.token, [workerKeyHeader]: start.key }
  return async (method, url, body) => {
    const res = await fetch(url, { method, headers, cache: 'no-store', ...(body ? { body: body as BodyInit } : {}) })
    return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) }
  }
}

/** The host's sentence from a refused request's JSON reply, or `fallback`. */
function refusalText(body: Uint8Array, fallback: string): string {
  try {
    const reply = JSON.parse(new TextDecoder().decode(body)) as { error?: { message?: string } }
    return reply.error?.message ?? fallback
  } catch {
    return fallback
  }
}

async function fetchDataset(start: Start, request: Requester): Promise<DatasetArrays> {
  const res = await request('GET', start.datasetUrl, null)
  if (res.status !== 200) throw new Error(refusalText(res.body, `The dataset could not be fetched from Conv Studio (${res.status}).`))
  const { header, payload } = unframe<DatasetHeader>(res.body)
  const tr = header.train.count * header.train.height * header.train.width
  const te = header.test.count * header.test.height * header.test.width
  let at = 0
  const take = (n: number) => payload.subarray(at, (at += n))
  const train = { ...header.train, images: take(tr), labels: take(header.train.count) }
  const test = { ...header.test, images: take(te), labels: take(header.test.count) }
  if (at !== payload.length) throw new Error('The dataset from Conv Studio has the wrong length for its header.')
  return { id: header.id, title: header.title, classes: header.classes, style: header.style as DatasetStyle, train, test }
}

function artifactsOf(h: CheckpointHeader, weights: Uint8Array): tf.io.ModelArtifacts {
  return {
    modelTopology: h.modelTopology as object,
    weightSpecs: h.weightSpecs as tf.io.WeightsManifestEntry[],
    format: h.format,
    generatedBy: h.generatedBy,
    convertedBy: h.convertedBy ?? null,
    weightData: weights.slice().buffer
  }
}

/** A resumed run's last weights, optimizer state and best weights, or a fine-tune's initial weights (GET fromUrl). */
async function fetchStart(start: Start, request: Requester): Promise<{ resume?: { state: TrainState; weights: tf.io.ModelArtifacts; best: tf.io.ModelArtifacts | null }; initialWeights?: tf.io.ModelArtifacts }> {
  if (!start.fromUrl) return {}
  const res = await request('GET', start.fromUrl, null)
  if (res.status !== 200) throw new Error(refusalText(res.body, `The run's saved state could not be fetched from Conv Studio (${res.status}).`))
  const { header, payload } = unframe<StartWeightsHeader>(res.body)
  let at = 0
  const [slots, last, best, initial] = header.lengths.map((n) => payload.subarray(at, (at += n)))
  if (at !== payload.length) throw new Error("The run's saved state from Conv Studio has the wrong length for its header.")
  const out: Awaited<ReturnType<typeof fetchStart>> = {}
  if (header.initial) out.initialWeights = artifactsOf(header.initial, initial)
  if (header.state && header.last) {
    const stored = header.state as Omit<TrainState, 'optimizer'> & { optimizer: Omit<TrainState['optimizer'], 'slots'> & { slots: { name: string; shape: number[] }[] } }
    const all = new Float32Array(slots.slice().buffer)
    let i = 0
    const withValues = stored.optimizer.slots.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1)
      const values = all.slice(i, (i += n))
      return { ...s, values }
    })
    out.resume = { state: { ...stored, optimizer: { ...stored.optimizer, slots: withValues } }, weights: artifactsOf(header.last, last), best: header.best ? artifactsOf(header.best, best) : null }
  }
  return out
}

async function upload(request: Requester, start: Start, epoch: number, kind: string, body: Uint8Array): Promise<void> {
  const res = await request('POST', `${start.checkpointUrl}/${epoch}/${kind}`, body)
  if (res.status !== 200) throw new Error(refusalText(res.body, `Conv Studio did not take the ${kind === 'state' ? 'training state' : 'checkpoint'} of epoch ${epoch} (${res.status}).`))
}

function checkpointBody(a: tf.io.ModelArtifacts): Uint8Array {
  const header: CheckpointHeader = {
    modelTopology: a.modelTopology,
    weightSpecs: a.weightSpecs ?? [],
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy ?? null
  }
  const data = a.weightData
  const parts = (data === undefined ? [] : Array.isArray(data) ? data : [data]).map((b) => new Uint8Array(b))
  return frame(header, parts)
}

/** train-state.json's fields as the header, the optimizer slots' float32 values after (the host writes both files). */
function trainStateBody(st: TrainState): Uint8Array {
  const header = { ...st, optimizer: { ...st.optimizer, slots: st.optimizer.slots.map((s) => ({ name: s.name, shape: s.shape })) } }
  return frame(header, st.optimizer.slots.map((s) => new Uint8Array(s.values.buffer, s.values.byteOffset, s.values.byteLength)))
}

let abort: AbortController | null = null

async function runTraining(start: Start): Promise<void> {
  const send = (message: FromWorker) => post({ type: 'run', runId: start.runId, message })
  const request = requester(start)
  abort = new AbortController()
  await useWebGpu((why) => send({ type: 'lost', message: why }))
  const { adapter } = await findAdapter('')
  const data = await fetchDataset(start, request)
  const from = await fetchStart(start, request)
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
        // A body per upload: the tunnel transfers (detaches) the bytes it sends.
        for (const kind of kinds) await upload(request, start, e.epoch, kind, checkpointBody(artifacts))
        // Only the last epoch's state is ever resumed from (as the Node worker keeps it).
        await upload(request, start, e.epoch, 'state', trainStateBody(await e.saveState()))
        const inspection = epochInspectionOf(e, toBase64)
        send({ type: 'epoch', epoch: epochRecordOf(e), confusion: e.confusion, predictions: toBase64(e.predictions), isBest: e.isBest, checkpoints: kinds.map((kind) => ({ kind })), ...(inspection ? { inspection } : {}) })
      }
    },
    { signal: abort.signal, ...from, inspection: true }
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
  if (msg.type === 'response') {
    const done = pending.get(msg.id)
    pending.delete(msg.id)
    done?.(msg)
    return
  }
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
      ? runTraining(msg).catch((err: unknown) =>
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
