// Issue 18: one image seen through LeNet-5 (every layer's output, Grad-CAM, saliency), measured as
// the window gets it: a call to the model worker process, warm (model loaded), round trip included.
// Goal: < 100 ms. Also the same work in-process on the core alone, to show what the IPC costs.
//
// Second part: what recording histograms, first-conv filters and true-class probabilities adds
// to a LeNet-5 epoch (goal: < 2%). Epochs with and without train({inspection}) alternate run by
// run, on the backend a run trains on, and the figure is the median wall time from one epoch's end
// to the next (epochs >= 2; evaluation and the recording included), in wall time and in this
// process's CPU time (all its threads): on a shared machine other processes move wall time by tens
// of percent between identical epochs, CPU time far less. The recording alone is also timed on its
// own, as a share of the median epoch.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { getPreset } from '../src/core/models/presets'
import { buildModel } from '../src/core/models/build'
import { firstConvFilters, weightAndGradientHistograms } from '../src/core/inspect/histograms'
import { train } from '../src/core/training/trainer'
import type { DatasetArrays, ImageSet } from '../src/core/data/types'
import { loadNative } from './training-support'
import { ModelWorker } from '../src/main/services/model-worker'
import { nodeSpawner } from '../src/main/services/training'
import { RunStore } from '../src/main/services/runs'
import { TrainConfigSchema, type TrainConfigInput } from '../src/shared/schemas'

const FIXTURES = join(import.meta.dirname, '../test/fixtures/predict')
const ITERATIONS = 50

const EPOCH_TRAIN = 60_000
const EPOCH_TEST = 10_000
const REPEATS = 3
const EPOCHS = 3

function randomSet(count: number, seed: number): ImageSet {
  const images = new Uint8Array(count * 28 * 28)
  let s = seed >>> 0
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    images[i] = s >>> 24
  }
  return { images, labels: new Uint8Array(count).map((_, i) => i % 10), count, height: 28, width: 28 }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Wall and CPU seconds between consecutive epoch ends, epochs >= 2, of one LeNet-5 run. */
async function epochTimes(data: DatasetArrays, inspection: boolean): Promise<{ wall: number[]; cpu: number[] }> {
  const preset = getPreset('lenet5')!
  const ends: number[] = []
  const cpu: number[] = []
  await train(
    { ...(preset.recommended as TrainConfigInput), model: preset.id, spec: preset.spec, dataset: 'random', epochs: EPOCHS, batchSize: 256, seed: 1, validation: { source: 'test' } },
    data,
    {
      onEpoch: () => {
        ends.push(performance.now())
        cpu.push(cpuSeconds())
      }
    },
    { inspection }
  )
  return { wall: ends.slice(1).map((t, i) => (t - ends[i]) / 1000), cpu: cpu.slice(1).map((t, i) => t - cpu[i]) }
}

/**
 * What the trainer adds per epoch, alone: histograms on a 128-example probe batch, the filter
 * snapshot, and the true-class probabilities of the validation pass (the same ops on its logits).
 */
async function recordingMs(valCount: number): Promise<number> {
  const preset = getPreset('lenet5')!
  const model = buildModel(preset.spec, { init: 'xavier', seed: 1 })
  const x = tf.randomUniform([128, 28, 28, 1]) as tf.Tensor4D
  const y = tf.tensor1d(Int32Array.from({ length: 128 }, (_, i) => i % 10), 'int32')
  const chunk = 2048
  const logits = tf.randomNormal([chunk, 10])
  const oneHot = tf.oneHot(tf.tensor1d(Int32Array.from({ length: chunk }, (_, i) => i % 10), 'int32'), 10)
  const times: number[] = []
  for (let i = 0; i < 12; i++) {
    const t = performance.now()
    await weightAndGradientHistograms(model, preset.spec, x, y)
    await firstConvFilters(model, preset.spec, 1)
    for (let start = 0; start < valCount; start += chunk) {
      const truth = tf.tidy(() => tf.sum(tf.mul(tf.softmax(logits), oneHot), 1))
      truth.dataSync()
      truth.dispose()
    }
    times.push(performance.now() - t)
  }
  tf.dispose([x, y, logits, oneHot])
  model.dispose()
  return median(times.slice(2))
}

export async function recordingOverhead(): Promise<Record<string, unknown>> {
  const native = await loadNative()
  const backend = tf.getBackend()
  const data: DatasetArrays = {
    id: 'random',
    title: 'random',
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    style: 'digits',
    train: randomSet(EPOCH_TRAIN, 1),
    test: randomSet(EPOCH_TEST, 2)
  }
  const without: number[] = []
  const withRec: number[] = []
  const cpuWithout: number[] = []
  const cpuWith: number[] = []
  for (let r = 0; r < REPEATS; r++) {
    // Alternating, and which goes first swaps every repeat, so drift in the machine's load hits both.
    const order = r % 2 === 0 ? [false, true] : [true, false]
    for (const on of order) {
      const t = await epochTimes(data, on)
      ;(on ? withRec : without).push(...t.wall)
      ;(on ? cpuWith : cpuWithout).push(...t.cpu)
    }
    console.log(
      `  repeat ${r + 1} (medians so far): wall ${median(without).toFixed(3)} s without, ${median(withRec).toFixed(3)} s with; ` +
        `CPU ${median(cpuWithout).toFixed(3)} s without, ${median(cpuWith).toFixed(3)} s with`
    )
  }
  const epochS = median(without)
  const recMs = await recordingMs(EPOCH_TEST)
  const row = {
    model: 'lenet5 (d2l, sigmoid)',
    backend,
    nativeUnavailable: native.ok ? null : native.reason,
    trainExamples: EPOCH_TRAIN,
    valExamples: EPOCH_TEST,
    epochWithoutS: epochS,
    epochWithS: median(withRec),
    wallOverheadPct: ((median(withRec) - epochS) / epochS) * 100,
    epochCpuWithoutS: median(cpuWithout),
    epochCpuWithS: median(cpuWith),
    cpuOverheadPct: ((median(cpuWith) - median(cpuWithout)) / median(cpuWithout)) * 100,
    recordingMs: recMs,
    recordingPct: (recMs / 1000 / epochS) * 100
  }
  console.log(
    `histograms + filters + true-class probabilities, LeNet-5 epoch of ${EPOCH_TRAIN} (+${EPOCH_TEST} validation) on ${backend}: ` +
      `wall ${row.epochWithoutS.toFixed(3)} s without, ${row.epochWithS.toFixed(3)} s with (${row.wallOverheadPct.toFixed(2)}%); ` +
      `CPU ${row.epochCpuWithoutS.toFixed(3)} s without, ${row.epochCpuWithS.toFixed(3)} s with (${row.cpuOverheadPct.toFixed(2)}%); ` +
      `the recording alone ${recMs.toFixed(1)} ms = ${row.recordingPct.toFixed(2)}% of the epoch`
  )
  return row
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]

export async function run(): Promise<Record<string, unknown>> {
  return { worker: await inspectThroughWorker(), recording: await recordingOverhead() }
}

async function inspectThroughWorker(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-inspect-'))
  const store = RunStore.open(dir)
  const worker = new ModelWorker({ spawn: nodeSpawner(), runs: store, styleOf: async () => 'digits' })
  try {
    const preset = getPreset('lenet5-modern')!
    const config = TrainConfigSchema.parse({ model: preset.id, spec: preset.spec, dataset: 'mnist', optimizer: 'adam', lr: 0.001, batchSize: 64, epochs: 1, seed: 1, init: 'default', validation: { source: 'test' } })
    const runRec = store.create(config, { classes: Array.from({ length: 10 }, (_, i) => String(i)), paramCount: 0 })
    cpSync(join(FIXTURES, 'model'), store.weightsDir(runRec.id, 'best'), { recursive: true })
    const manifest = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8')) as { file: string; format: string }[]
    const file = manifest.find((m) => m.format === 'png')!.file
    const bytes = readFileSync(join(FIXTURES, 'images', file))
    // Warm: the first call starts the worker, picks its backend and loads the model.
    const t0 = performance.now()
    await worker.inspectFile(runRec.id, 'best', file, bytes, null)
    const coldMs = performance.now() - t0
    const round: number[] = []
    const inside: number[] = []
    for (let i = 0; i < ITERATIONS; i++) {
      const t = performance.now()
      const r = await worker.inspectFile(runRec.id, 'best', file, bytes, null)
      round.push(performance.now() - t)
      inside.push(r.milliseconds)
    }
    const row = { model: 'lenet5-modern', image: file, coldMs, p50: pct(round, 0.5), p95: pct(round, 0.95), workerP50: pct(inside, 0.5) }
    console.log(`inspect through the model worker (${ITERATIONS} calls, warm): p50 ${row.p50.toFixed(1)} ms, p95 ${row.p95.toFixed(1)} ms; inside the worker p50 ${row.workerP50.toFixed(1)} ms; first call ${coldMs.toFixed(0)} ms`)
    return row
  } finally {
    worker.close()
    store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
