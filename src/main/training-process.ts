// Entry of the training process (one per run). It loads the dataset, activates the best backend it
// can (native code loads here, never in the host), trains, and writes each epoch's checkpoints into
// the staging folder the host named; the host moves them into the run store. It also answers one-off
// backend probes and benchmarks. Started by Node's child_process.fork (through tsx) or, in the
// Electron build, by utilityProcess.fork; both deliver the same messages.
import { join } from 'node:path'
import { readCheckpoint, readTrainState, writeCheckpoint, writeTrainState } from './storage/checkpoint'
import { lowerPriority, toBase64, fromBase64, type FromChild, type PredictRun, type ToChild } from './training-protocol'
import { Predictor } from './services/predict'
import { StudioError } from '../shared/contract'
import type { RunRecord } from '../shared/domain'
import { DatasetStore } from './services/datasets'
import { benchmarkBackends, probeBackends, selectBackend } from './backends'
import { train } from '../core/training/trainer'
import { epochInspectionOf, epochRecordOf, testResultOf } from '../core/training/report'
import { handleEvaluate } from './interop/evaluate'

interface ParentPort {
  on(event: 'message', fn: (e: { data: unknown }) => void): void
  postMessage(msg: unknown): void
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort

// Training takes every core it can; the window must still draw at 60 fps. Lowering this process's
// priority before the backend starts its thread pools (they inherit it) gives the UI the CPU first
// and costs training nothing when the machine is otherwise idle. Node hosts lower it from the
// parent right after fork as well; Electron's utilityProcess relies on this call.
lowerPriority()

function send(msg: FromChild): void {
  if (parentPort) parentPort.postMessage(msg)
  // A host that died (kill -9) leaves nobody to tell: stop instead of failing on a closed channel.
  else if (process.send && process.connected) process.send(msg, (err: Error | null) => err && process.exit(0))
  else process.exit(0)
}

function onMessage(fn: (msg: ToChild) => void): void {
  if (parentPort) parentPort.on('message', (e) => fn(e.data as ToChild))
  else process.on('message', (m) => fn(m as ToChild))
}

function errorText(err: unknown): string {
  const e = err as { message?: unknown }
  return typeof e?.message === 'string' && e.message ? e.message : String(err)
}

const abort = new AbortController()
let busy = false

/** The last checkpoint with its training state, and the best one when it is another epoch's. */
function loadResume(r: { lastDir: string; bestDir: string }) {
  const state = readTrainState(r.lastDir)
  if (!state) throw new StudioError('conflict', 'This run was recorded before runs kept their optimizer state, so it cannot continue exactly; train it again instead.')
  const weights = readCheckpoint(r.lastDir)
  const best = state.bestEpoch === state.epoch ? null : readCheckpoint(r.bestDir)
  return { state, weights, best }
}

async function runTraining(msg: Extract<ToChild, { type: 'start' }>): Promise<void> {
  const store = new DatasetStore({ dataDir: msg.dataDir })
  const data = await store.load(msg.config.dataset)
  // A browser-GPU run trains in a page's worker, never here (services route it there).
  if (msg.config.backend === 'browser-webgpu') throw new StudioError('invalid_argument', "This run trains in a browser's GPU: start it from the web UI.")
  const selected = await selectBackend(msg.config.backend)
  send({
    type: 'started',
    backend: selected.name,
    device: selected.device,
    versions: selected.versions,
    reason: selected.report.reason
  })
  const resume = msg.resume ? loadResume(msg.resume) : undefined
  const initialWeights = msg.initFrom ? readCheckpoint(msg.initFrom.dir) : undefined
  const result = await train(
    msg.config,
    data,
    {
      onStart: (info) => send({ type: 'info', ...info }),
      onBatch: (e) => send({ type: 'batch', ...e }),
      onEpoch: async (e) => {
        const artifacts = await e.saveWeights()
        // A folder per epoch and kind, so a slow host moving epoch N never meets epoch N+1's files.
        const checkpoints: { kind: 'best' | 'last'; stagedDir: string }[] = []
        const kinds: ('best' | 'last')[] = e.isBest ? ['best', 'last'] : ['last']
        for (const kind of kinds) {
          const dir = join(msg.stagingDir, `epoch-${e.epoch}-${kind}`)
          writeCheckpoint(dir, artifacts)
          // Only the last epoch's state is ever resumed from.
          if (kind === 'last') writeTrainState(dir, await e.saveState())
          checkpoints.push({ kind, stagedDir: dir })
        }
        const inspection = epochInspectionOf(e, toBase64)
        send({ type: 'epoch', epoch: epochRecordOf(e), confusion: e.confusion, predictions: toBase64(e.predictions), isBest: e.isBest, checkpoints, ...(inspection ? { inspection } : {}) })
      }
    },
    { signal: abort.signal, resume, initialWeights, inspection: true }
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

// The model worker: predictions for the window run here, never in the host (Electron's main process
// must not block). The host names the run and its checkpoint folder; the Predictor reads the files
// and keeps the loaded models between calls.
const predictRuns = new Map<number, PredictRun>()
let predictor: Predictor | null = null

function getPredictor(): Predictor {
  predictor ??= new Predictor({
    styleOf: (datasetId) => [...predictRuns.values()].find((r) => r.record.config.dataset === datasetId)?.style ?? 'digits',
    runs: {
      get: (runId: number): RunRecord => {
        const r = predictRuns.get(runId)
        if (!r) throw new StudioError('not_found', `Run ${runId} was not named to the model worker.`)
        return r.record
      },
      weightsDir: (runId: number) => {
        const r = predictRuns.get(runId)
        if (!r) throw new StudioError('not_found', `Run ${runId} was not named to the model worker.`)
        return r.dir
      }
    }
  })
  return predictor
}

// The best backend for inference too (native where it loads: AlexNet on the JS backend takes seconds).
let backendChosen: Promise<unknown> | null = null

async function predict(msg: Extract<ToChild, { type: 'predict' }>): Promise<void> {
  const { run, job, id } = msg
  try {
    backendChosen ??= selectBackend('auto').catch((err: unknown) => console.error('[model-worker] keeping the default backend:', errorText(err)))
    await backendChosen
    predictRuns.set(run.record.id, run)
    const p = getPredictor()
    if (job.kind === 'file') {
      send({ type: 'predicted', id, result: await p.predictFile(run.record.id, run.weights, job.fileName, fromBase64(job.bytes), job.topK) })
    } else if (job.kind === 'inspect') {
      const s = job.source
      const source = 'fileName' in s ? { fileName: s.fileName, bytes: fromBase64(s.bytes) } : { pixels: fromBase64(s.pixels), size: s.size }
      send({ type: 'inspected', id, result: await p.inspect(run.record.id, run.weights, source, job.classIndex) })
    } else {
      const probs = await p.predictPixels(run.record.id, run.weights, fromBase64(job.images), job.count, job.size)
      send({ type: 'probabilities', id, probabilities: toBase64(probs) })
    }
  } catch (err) {
    if (!(err instanceof StudioError)) console.error('[model-worker]', err)
    const code = err instanceof StudioError ? err.code : 'internal'
    send({ type: 'predictFailed', id, code, message: errorText(err) })
  }
}

async function handle(msg: ToChild): Promise<void> {
  if (msg.type === 'cancel') {
    abort.abort()
    return
  }
  // One prediction after another, beside nothing else: the model worker never trains.
  if (msg.type === 'predict') return predict(msg)
  if (busy) {
    send({ type: 'error', message: `The training process is busy and cannot take a '${msg.type}' message.` })
    return
  }
  busy = true
  try {
    if (msg.type === 'start') await runTraining(msg)
    else if (msg.type === 'probe') send({ type: 'report', report: await probeBackends() })
    else if (msg.type === 'benchmark') send({ type: 'benchmark', results: await benchmarkBackends(msg.seconds) })
    else if (msg.type === 'evaluate') await handleEvaluate(msg, send)
  } catch (err) {
    // A system error (ENOSPC, EIO, ...) is the environment, not a bug: its message is the whole story,
    // and the host records and prints it. Anything else keeps its stack here for whoever debugs it.
    if (!(err instanceof StudioError) && typeof (err as { code?: unknown })?.code !== 'string') console.error('[training-process]', err)
    send({ type: 'error', message: errorText(err) })
  }
}

onMessage((msg) => {
  void handle(msg)
})
// Ctrl-C in a terminal reaches the whole process group; the host decides (it sends 'cancel').
process.on('SIGINT', () => undefined)
// The host may vanish (kill -9); an orphaned trainer must not run on.
if (!parentPort) process.on('disconnect', () => process.exit(0))
