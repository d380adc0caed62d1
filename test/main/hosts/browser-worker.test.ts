// The host's side of a browser-GPU run (transports/browser-worker.ts), over the real web-mode
// server: a real socket plays the page, real HTTP fetches play its worker (the dataset's arrays,
// checkpoint uploads), the real RunStore records. What the worker would compute is scripted here;
// the real Chromium worker trains in test/e2e/webgpu.test.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src/main/server'
import { dataPaths } from '../../../src/main/paths'
import { frame, unframe, workerKeyHeader, type BrowserGpuInfo, type DatasetHeader, type WorkerStart } from '../../../src/shared/browser-gpu'
import type { RunRecord } from '../../../src/shared/domain'
import { browserGpuReportFile, readSavedBrowserGpu, TAB_CLOSED } from '../../../src/main/transports/browser-worker'
import { tempDir, tinyConfig, WireClient, waitForStatus } from '../../helpers/hosts'
import { writeCheckpoint } from '../runs/helpers'

let dir: ReturnType<typeof tempDir>
let server: RunningServer
let base: string
let dataDir: string
const gpu: BrowserGpuInfo = { adapter: { vendor: 'google', architecture: 'swiftshader', description: '', software: true }, reason: null, examplesPerSec: 52, browser: 'Chrome/142' }

async function page(): Promise<WireClient> {
  return WireClient.connect(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`, { Origin: base })
}

/** The page's worker: the start the host handed to this window. */
async function startOf(client: WireClient, runId: number): Promise<WorkerStart> {
  const e = await client.waitFor((e) => e.event === 'browserGpu.toWorker' && e.payload.type === 'start' && e.payload.runId === runId, 20_000)
  return e.payload as unknown as WorkerStart
}

function headers(start: WorkerStart, over: Record<string, string> = {}): Record<string, string> {
  return { 'x-conv-studio-token': server.token, [workerKeyHeader]: start.key, Origin: base, ...over }
}

/** A checkpoint as the worker uploads it (framed model.json fields + weights). */
function checkpointBody(): Uint8Array<ArrayBuffer> {
  const d = writeCheckpoint(join(dir.path, `ckpt-${Math.random()}`))
  const model = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8')) as { modelTopology: unknown; weightsManifest: { weights: unknown[] }[] }
  return new Uint8Array(frame({ modelTopology: model.modelTopology, weightSpecs: model.weightsManifest[0].weights, format: 'layers-model' }, [new Uint8Array(readFileSync(join(d, 'weights.bin')))]))
}

const epoch = (n: number) => ({ epoch: n, trainLoss: 1.2, trainAcc: 0.6, valLoss: 1.1, valAcc: 0.65, seconds: 3, examplesPerSec: 170 })
const confusion = () => Array.from({ length: 10 }, (_, i) => Array.from({ length: 10 }, (_, j) => (i === j ? 2 : 0)))

/** Plays the worker up to a finished epoch `n` (checkpoints uploaded first, as the real one does). */
async function trainEpochs(client: WireClient, start: WorkerStart, epochs: number): Promise<void> {
  const post = (message: object) => client.value('browserGpu.post', { runId: start.runId, message: message as { type: string } })
  await post({ type: 'started', backend: 'webgpu', device: 'google swiftshader (software adapter)', versions: { 'tfjs-core': '4.22.0' }, reason: 'Chosen by you.' })
  await post({ type: 'info', paramCount: 61706, trainCount: 512, valCount: 2000, testCount: 2000, stepsPerEpoch: 8 })
  for (let n = 1; n <= epochs; n++) {
    await post({ type: 'batch', epoch: n, batch: 4, x: n - 0.5, loss: 2, acc: 0.3, examplesPerSec: 150, etaSeconds: 3 })
    for (const kind of ['best', 'last']) {
      const res = await fetch(`${base}${start.checkpointUrl}/${n}/${kind}`, { method: 'POST', headers: headers(start), body: checkpointBody() })
      expect(res.status).toBe(200)
    }
    await post({ type: 'epoch', epoch: epoch(n), confusion: confusion(), predictions: Buffer.alloc(2000).toString('base64'), isBest: true, checkpoints: [{ kind: 'best' }, { kind: 'last' }] })
  }
}

beforeAll(async () => {
  dir = tempDir()
  dataDir = join(dir.path, 'data')
  const web = join(dir.path, 'web')
  mkdirSync(web, { recursive: true })
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Conv Studio</title>')
  server = await startServer({ port: 0, dataDir, staticDir: web })
  base = `http://127.0.0.1:${server.port}`
})

afterAll(async () => {
  await server?.close()
  dir?.remove()
})

describe('a run that trains in a browser window’s GPU', () => {
  it('with no window that has an adapter, the run fails at once saying what to open', async () => {
    const client = await page()
    try {
      const run = await client.value('training.start', { config: tinyConfig({ backend: 'browser-webgpu' }) })
      const end = await waitForStatus(client, run.id, ['failed'], 10_000)
      expect((end.payload.run as RunRecord).error).toMatch(/No open browser window has a WebGPU adapter/)
    } finally {
      client.close()
    }
  })

  it('is recorded by the host like a child’s: backend, adapter, curve, epoch, checkpoints, test result', async () => {
    const client = await page()
    try {
      await client.value('browserGpu.register', gpu)
      expect(await client.value('browserGpu.list')).toEqual([gpu])
      // Kept in the data folder for `conv-studio doctor`, which has no browser to ask.
      expect(readSavedBrowserGpu(browserGpuReportFile(dataDir))).toMatchObject({ ...gpu, reportedAt: expect.stringMatching(/^\d{4}-/) })
      const run = await client.value('training.start', { config: tinyConfig({ backend: 'browser-webgpu' }) })
      const start = await startOf(client, run.id)
      // The dataset's arrays, once, over HTTP with the run's key.
      const res = await fetch(`${base}${start.datasetUrl}`, { headers: headers(start) })
      expect(res.status).toBe(200)
      const { header, payload } = unframe<DatasetHeader>(new Uint8Array(await res.arrayBuffer()))
      expect(header.id).toBe('mnist-sample')
      expect(payload.length).toBe(header.train.count * 785 + header.test.count * 785)
      await trainEpochs(client, start, 1)
      const test = { loss: 1, acc: 0.7, confusion: confusion(), precision: Array(10).fill(0.7), recall: Array(10).fill(0.7), predictions: Buffer.alloc(2000).toString('base64'), labels: Buffer.alloc(2000).toString('base64') }
      await client.value('browserGpu.post', { runId: run.id, message: { type: 'done', status: 'completed', epochsDone: 1, bestEpoch: 1, bestValAcc: 0.65, examplesPerSec: 170, test } })
      const end = await waitForStatus(client, run.id, ['completed', 'failed', 'interrupted'], 10_000)
      const r = end.payload.run as RunRecord
      expect([r.status, r.error]).toEqual(['completed', null])
      expect(r.backend).toBe('browser-webgpu')
      expect(r.device).toBe('google swiftshader (software adapter)')
      expect(r.bestEpoch).toBe(1)
      expect(existsSync(join(dataPaths(dataDir).runDir(run.id), 'best', 'model.json'))).toBe(true)
      const curves = await client.value('runs.curves', { runId: run.id })
      expect(curves.epochs.length).toBe(1)
      // The host tells the page to end its worker once the run is over.
      await client.waitFor((e) => e.event === 'browserGpu.toWorker' && e.payload.type === 'stop' && e.payload.runId === run.id, 5_000)
    } finally {
      client.close()
    }
  })

  it('closing the tab mid-run ends it interrupted, the finished epoch and best weights kept', async () => {
    const client = await page()
    await client.value('browserGpu.register', gpu)
    const run = await client.value('training.start', { config: tinyConfig({ backend: 'browser-webgpu', epochs: 5 }) })
    const start = await startOf(client, run.id)
    await trainEpochs(client, start, 1)
    const watcher = await page()
    try {
      client.close()
      const end = await waitForStatus(watcher, run.id, ['interrupted', 'failed', 'completed'], 10_000)
      const r = end.payload.run as RunRecord
      expect(r.status).toBe('interrupted')
      expect(r.error).toBe(TAB_CLOSED)
      expect(r.bestEpoch).toBe(1)
      expect((await watcher.value('runs.curves', { runId: run.id })).epochs.length).toBe(1)
      expect(existsSync(join(dataPaths(dataDir).runDir(run.id), 'best', 'model.json'))).toBe(true)
      // Its key is dead with it: the routes refuse the old address.
      expect((await fetch(`${base}${start.datasetUrl}`, { headers: headers(start) })).status).toBe(403)
    } finally {
      watcher.close()
    }
  })

  it('a GPU device loss ends the run interrupted with the reason', async () => {
    const client = await page()
    try {
      await client.value('browserGpu.register', gpu)
      const run = await client.value('training.start', { config: tinyConfig({ backend: 'browser-webgpu', epochs: 5 }) })
      const start = await startOf(client, run.id)
      await trainEpochs(client, start, 1)
      await client.value('browserGpu.post', { runId: run.id, message: { type: 'lost', message: 'Device was destroyed.' } })
      const end = await waitForStatus(client, run.id, ['interrupted', 'failed'], 10_000)
      expect((end.payload.run as RunRecord).error).toMatch(/GPU device was lost \(Device was destroyed\.\).*finished epochs/)
    } finally {
      client.close()
    }
  })

  it('cancel reaches the worker; a page that never answers is stopped within the grace and the run ends cancelled', async () => {
    const client = await page()
    try {
      await client.value('browserGpu.register', gpu)
      const run = await client.value('training.start', { config: tinyConfig({ backend: 'browser-webgpu', epochs: 5 }) })
      await startOf(client, run.id)
      const cancelled = client.value('training.cancel', { runId: run.id })
      await client.waitFor((e) => e.event === 'browserGpu.toWorker' && e.payload.type === 'cancel' && e.payload.runId === run.id, 5_000)
      // This page does not answer: the host's grace runs out and it tells the page to stop the worker.
      await client.waitFor((e) => e.event === 'browserGpu.toWorker' && e.payload.type === 'stop' && e.payload.runId === run.id, 5_000)
      expect((await cancelled).status).toBe('cancelled')
    } finally {
      client.close()
    }
  })

  it('hostile pages: another window cannot speak for the run, the routes want its key, an epoch without its upload fails the run', async () => {
    const owner = await page()
    const other = await page()
    try {
      await owner.value('browserGpu.register', gpu)
      const run = await owner.value('training.start', { config: tinyConfig({ backend: 'browser-webgpu', epochs: 3 }) })
      const start = await startOf(owner, run.id)
      // The event went to the owner alone.
      expect(other.events.some((e) => e.event === 'browserGpu.toWorker')).toBe(false)
      const forged = await other.call('browserGpu.post', { runId: run.id, message: { type: 'done', status: 'completed', epochsDone: 3, bestEpoch: null, bestValAcc: null, examplesPerSec: 1, test: null } })
      expect(forged.ok ? null : forged.error.code).toBe('unauthorized')
      expect((await fetch(`${base}${start.datasetUrl}`, { headers: headers(start, { [workerKeyHeader]: 'x'.repeat(24) }) })).status).toBe(403)
      const noToken = await fetch(`${base}${start.datasetUrl}`, { headers: { [workerKeyHeader]: start.key } })
      expect(noToken.status).toBe(401)
      const junk = await fetch(`${base}${start.checkpointUrl}/1/best`, { method: 'POST', headers: headers(start), body: new Uint8Array([255, 255, 255, 255, 1]) })
      expect(junk.status).toBe(400)
      // A malformed message is one sentence as the run's error, not a crash of the host.
      await owner.value('browserGpu.post', { runId: run.id, message: { type: 'started', backend: 'webgpu', device: null, versions: {}, reason: '' } })
      await owner.value('browserGpu.post', { runId: run.id, message: { type: 'epoch', epoch: epoch(1), confusion: confusion(), predictions: '', isBest: true, checkpoints: [{ kind: 'best' }] } })
      const end = await waitForStatus(owner, run.id, ['failed', 'interrupted', 'completed'], 10_000)
      expect((end.payload.run as RunRecord).error).toMatch(/reported epoch 1 without uploading its 'best' checkpoint/)
    } finally {
      owner.close()
      other.close()
    }
  })
})
