// The desktop app's hidden GPU window, as the host sees it (transports/browser-worker.ts
// connectPort): the real services on a real data folder, a real MessagePort pair (Node's
// worker_threads MessageChannel: the structured-clone, transfer and close semantics Electron's
// MessagePortMain follows) with the window's end played here, scripted as its worker would speak.
// The same routes as web mode's HTTP travel as request/response messages; the host records the run
// as a child's. The real Chromium worker trains in test/e2e/webgpu.test.ts.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServices, type Services } from '../../src/main/services'
import { dataPaths } from '../../src/main/paths'
import { GPU_WINDOW_CLOSED, type HostPort } from '../../src/main/transports/browser-worker'
import { frame, unframe, type BrowserGpuInfo, type DatasetHeader, type PortToHost, type PortToWindow, type StartWeightsHeader, type WorkerStart } from '../../src/shared/browser-gpu'
import { recordedStatus, tempDir, tinyConfig } from '../helpers/hosts'
import { writeCheckpoint } from '../main/runs/helpers'

let dir: ReturnType<typeof tempDir>
let services: Services
const gpu: BrowserGpuInfo = { adapter: { vendor: 'google', architecture: 'swiftshader', description: '', software: true }, reason: null, examplesPerSec: null, browser: 'Chrome/142' }

/** Node's MessagePort as the host's HostPort (Electron's MessagePortMain gets its own three lines in electron-gpu-window.ts). */
function hostPort(p: MessagePort): HostPort {
  return { postMessage: (m) => p.postMessage(m), onMessage: (fn) => p.on('message', fn), onClose: (fn) => p.once('close', fn) }
}

/** The window's end: what the host sent, and requests answered in order. */
class Window {
  readonly received: PortToWindow[] = []
  private waiters: (() => void)[] = []
  private next = 1
  constructor(readonly port: MessagePort) {
    port.on('message', (m: PortToWindow) => {
      this.received.push(m)
      this.waiters.splice(0).forEach((w) => w())
    })
  }
  send(m: PortToHost, transfer: ArrayBuffer[] = []): void {
    this.port.postMessage(m, transfer)
  }
  call(method: 'browserGpu.register' | 'browserGpu.post', args: unknown): void {
    this.send({ type: 'call', method, args })
  }
  async waitFor<T extends PortToWindow>(pred: (m: PortToWindow) => m is T, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms
    for (;;) {
      const hit = this.received.find(pred)
      if (hit) return hit
      if (Date.now() > deadline) throw new Error(`no such message in ${JSON.stringify(this.received.map((m) => m.type))}`)
      await new Promise<void>((r) => {
        this.waiters.push(r)
        setTimeout(r, 200)
      })
    }
  }
  async start(runId: number): Promise<WorkerStart> {
    const m = await this.waitFor((m): m is Extract<PortToWindow, { type: 'toWorker' }> => m.type === 'toWorker' && m.message.type === 'start' && m.message.runId === runId)
    return m.message as WorkerStart
  }
  /** One route request, as the worker's tunnel sends it (the body's bytes transferred). */
  async request(method: 'GET' | 'POST', path: string, key: string, body: Uint8Array | null = null): Promise<{ status: number; body: Uint8Array }> {
    const id = this.next++
    this.send({ type: 'request', id, method, path, key, body }, body ? [body.buffer as ArrayBuffer] : [])
    const r = await this.waitFor((m): m is Extract<PortToWindow, { type: 'response' }> => m.type === 'response' && m.id === id)
    return { status: r.status, body: r.body }
  }
}

async function connected(): Promise<Window> {
  // A window closed by the test before is gone once its port's close reached the host.
  await expect.poll(() => services.browserWorkers.list().length, { timeout: 5_000 }).toBe(0)
  const { port1, port2 } = new MessageChannel()
  services.browserWorkers.connectPort(hostPort(port1))
  const w = new Window(port2)
  w.call('browserGpu.register', gpu)
  await expect.poll(() => services.browserWorkers.list().length, { timeout: 5_000 }).toBeGreaterThan(0)
  return w
}


function checkpointBody(): Uint8Array {
  const d = writeCheckpoint(join(dir.path, `ckpt-${Math.random()}`))
  const model = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as { modelTopology: unknown; weightsManifest: { weights: unknown[] }[] }
  return frame({ modelTopology: model.modelTopology, weightSpecs: model.weightsManifest[0].weights, format: 'layers-model' }, [new Uint8Array(readFileSync(join(d, 'weights.bin')))])
}

/** The state a momentum run would save after epoch n: one slot of six known values. */
function stateBody(n: number): Uint8Array {
  const values = Float32Array.from([0.5, -1, 2, 3.25, n, -n])
  const header = {
    version: 1,
    epoch: n,
    optimizer: { kind: 'MomentumOptimizer', iterations: 8 * n, accBeta1: null, accBeta2: null, slots: [{ name: 'w/momentum', shape: [2, 3] }] },
    dropoutCalls: [],
    bestEpoch: n,
    bestValAcc: 0.65,
    sinceBest: 0,
    trainedExamples: 512 * n,
    trainSeconds: 3 * n
  }
  return frame(header, [new Uint8Array(values.buffer)])
}

const epoch = (n: number) => ({ epoch: n, trainLoss: 1.2, trainAcc: 0.6, valLoss: 1.1, valAcc: 0.65, seconds: 3, examplesPerSec: 170 })
const confusion = () => Array.from({ length: 10 }, (_, i) => Array.from({ length: 10 }, (_, j) => (i === j ? 2 : 0)))
const probabilities = (n: number) => Buffer.from(new Float32Array(n).fill(0.25).buffer).toString('base64')

/** Plays the worker through epochs from..to: checkpoints and state uploaded over the port, then the epoch (with inspection data). */
async function trainEpochs(w: Window, start: WorkerStart, from: number, to: number): Promise<void> {
  const post = (message: object) => w.call('browserGpu.post', { runId: start.runId, message })
  post({ type: 'started', backend: 'webgpu', device: 'google swiftshader (software adapter)', versions: { 'tfjs-core': '4.22.0' }, reason: 'Chosen by you.' })
  post({ type: 'info', paramCount: 61706, trainCount: 512, valCount: 2000, testCount: 2000, stepsPerEpoch: 8 })
  for (let n = from; n <= to; n++) {
    post({ type: 'batch', epoch: n, batch: 4, x: n - 0.5, loss: 2, acc: 0.3, examplesPerSec: 150, etaSeconds: 3 })
    for (const kind of ['best', 'last']) expect((await w.request('POST', `${start.checkpointUrl}/${n}/${kind}`, start.key, checkpointBody())).status).toBe(200)
    expect((await w.request('POST', `${start.checkpointUrl}/${n}/state`, start.key, stateBody(n))).status).toBe(200)
    const inspection = {
      histograms: [{ layer: 'conv1', kind: 'weight', min: -1, max: 1, counts: [1, 2, 3] }],
      filters: { epoch: n, layer: 'conv1', shape: [1, 1, 1, 2], values: [0.1, -0.2] },
      trueProbabilities: probabilities(2000)
    }
    post({ type: 'epoch', epoch: epoch(n), confusion: confusion(), predictions: Buffer.alloc(2000).toString('base64'), isBest: true, checkpoints: [{ kind: 'best' }, { kind: 'last' }], inspection })
  }
}

beforeAll(async () => {
  dir = tempDir()
  services = await createServices({ dataDir: join(dir.path, 'data'), host: 'electron' })
})

afterAll(async () => {
  await services?.close()
  dir?.remove()
})

describe("the desktop app's hidden GPU window, over a MessagePort", () => {
  it('registers, fetches the dataset through the port, and its run is recorded like a child’s, inspection data included', async () => {
    const w = await connected()
    try {
      expect(services.browserWorkers.list()[0]).toEqual(gpu)
      const run = await services.training.start(
        (await import('../../src/shared/schemas')).TrainConfigSchema.parse(tinyConfig({ backend: 'browser-webgpu' })),
        { classes: [...'0123456789'], paramCount: 61706 }
      )
      const start = await w.start(run.id)
      const data = await w.request('GET', start.datasetUrl, start.key)
      expect(data.status).toBe(200)
      const { header, payload } = unframe<DatasetHeader>(data.body)
      expect(payload.length).toBe(header.train.count * 785 + header.test.count * 785)
      // A wrong key is refused over the port exactly as over HTTP.
      expect((await w.request('GET', start.datasetUrl, 'x'.repeat(24))).status).toBe(403)
      await trainEpochs(w, start, 1, 1)
      const test = { loss: 1, acc: 0.7, confusion: confusion(), precision: Array(10).fill(0.7), recall: Array(10).fill(0.7), predictions: Buffer.alloc(2000).toString('base64'), labels: Buffer.alloc(2000).toString('base64'), trueProbabilities: probabilities(2000) }
      w.call('browserGpu.post', { runId: run.id, message: { type: 'done', status: 'completed', epochsDone: 1, bestEpoch: 1, bestValAcc: 0.65, examplesPerSec: 170, test } })
      const r = await recordedStatus(services, run.id, ['completed', 'failed', 'interrupted'])
      expect([r.status, r.error, r.backend, r.device]).toEqual(['completed', null, 'browser-webgpu', 'google swiftshader (software adapter)'])
      // The inspection views' data, as a Node child's run keeps it.
      const hist = await services.handle('runs.histograms', { runId: run.id })
      expect(hist.ok && hist.value).toEqual([{ epoch: 1, histograms: [{ layer: 'conv1', kind: 'weight', min: -1, max: 1, counts: [1, 2, 3] }] }])
      const filters = await services.handle('runs.filters', { runId: run.id })
      expect(filters.ok && (filters.value as { values: number[] }[])[0].values.map((v) => Math.round(v * 10) / 10)).toEqual([0.1, -0.2])
      // The training state beside the last weights: the run could be resumed exactly.
      expect(existsSync(join(dataPaths(join(dir.path, 'data')).runDir(run.id), 'last', 'train-state.json'))).toBe(true)
      await w.waitFor((m): m is PortToWindow => m.type === 'toWorker' && m.message.type === 'stop')
    } finally {
      w.port.close()
    }
  })

  it('closing the window ends its run interrupted; resumed in a new window, the run gets its saved state back and goes on', async () => {
    const w = await connected()
    const { TrainConfigSchema } = await import('../../src/shared/schemas')
    const run = services.training.start(TrainConfigSchema.parse(tinyConfig({ backend: 'browser-webgpu', epochs: 3 })), { classes: [...'0123456789'], paramCount: 61706 })
    const start = await w.start(run.id)
    expect(start.fromUrl).toBeUndefined()
    await trainEpochs(w, start, 1, 1)
    await expect.poll(async () => ((await services.handle('runs.curves', { runId: run.id })) as { ok: true; value: { epochs: unknown[] } }).value.epochs.length).toBe(1)
    // The window closes (its process gone): the port's other end closes.
    w.port.close()
    const stopped = await recordedStatus(services, run.id, ['interrupted', 'failed', 'completed'])
    expect([stopped.status, stopped.error]).toEqual(['interrupted', GPU_WINDOW_CLOSED])

    const again = await connected()
    try {
      const resumed = await services.handle('training.resume', { runId: run.id })
      expect(resumed.ok).toBe(true)
      const s2 = await again.start(run.id)
      expect(s2.fromUrl).toMatch(/\/from$/)
      const from = await again.request('GET', s2.fromUrl!, s2.key)
      expect(from.status).toBe(200)
      const { header, payload } = unframe<StartWeightsHeader>(from.body)
      expect(header.state).toMatchObject({ epoch: 1, optimizer: { kind: 'MomentumOptimizer', iterations: 8, slots: [{ name: 'w/momentum', shape: [2, 3] }] } })
      expect(Array.from(new Float32Array(payload.slice(0, header.lengths[0]).buffer))).toEqual([0.5, -1, 2, 3.25, 1, -1])
      expect(header.last).not.toBeNull()
      // Epoch 1 was the best and the last: the best weights are the last ones, not sent twice.
      expect([header.best, header.lengths[2]]).toEqual([null, 0])
      await trainEpochs(again, s2, 2, 2)
      await expect.poll(async () => ((await services.handle('runs.curves', { runId: run.id })) as { ok: true; value: { epochs: { epoch: number }[] } }).value.epochs.map((e) => e.epoch)).toEqual([1, 2])
    } finally {
      again.port.close()
    }
  })

  it('a hostile window: a malformed training state is refused and not kept, an unknown message changes nothing', async () => {
    const w = await connected()
    const { TrainConfigSchema } = await import('../../src/shared/schemas')
    try {
      const run = services.training.start(TrainConfigSchema.parse(tinyConfig({ backend: 'browser-webgpu', epochs: 2 })), { classes: [...'0123456789'], paramCount: 61706 })
      const start = await w.start(run.id)
      // Slots that declare more values than the body holds.
      const short = frame({ version: 1, epoch: 1, optimizer: { kind: 'SGDOptimizer', iterations: 1, accBeta1: null, accBeta2: null, slots: [{ name: 'x', shape: [100] }] }, dropoutCalls: [] }, [new Uint8Array(8)])
      const r = await w.request('POST', `${start.checkpointUrl}/1/state`, start.key, short)
      expect(r.status).toBe(400)
      expect(JSON.parse(new TextDecoder().decode(r.body)).error.message).toMatch(/training state upload is not readable: the optimizer slots do not match/)
      expect(existsSync(join(dataPaths(join(dir.path, 'data')).runDir(run.id), 'staging', 'epoch-1-last', 'train-state.json'))).toBe(false)
      w.send({ type: 'nonsense' } as unknown as PortToHost)
      expect((await w.request('GET', start.datasetUrl, start.key)).status).toBe(200)
    } finally {
      w.port.close()
    }
  })
})
