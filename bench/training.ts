// Training throughput: LeNet-5 training and inference examples/s at batch 256 through the real
// trainer (train()), AlexNet seconds per step at batch 128 on the native backend, and the same
// LeNet-5 training in PyTorch (bench/torch_lenet.py) when python3 can import torch, with our ratio.
// The machine is shared: every figure is measured several times; best and median are printed.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { DatasetArrays, ImageSet } from '../src/core/data/types'
import { buildModel } from '../src/core/models/build'
import { getPreset } from '../src/core/models/presets'
import { train } from '../src/core/training/trainer'
import type { TrainConfigInput } from '../src/shared/schemas'
import { loadNative } from './training-support'

const REPEATS = 3

function randomSet(count: number, size: number, seed: number): ImageSet {
  const images = new Uint8Array(count * size * size)
  let s = seed >>> 0
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    images[i] = s >>> 24
  }
  const labels = new Uint8Array(count).map((_, i) => i % 10)
  return { images, labels, count, height: size, width: size }
}

function randomData(trainCount: number, testCount: number): DatasetArrays {
  return {
    id: 'random',
    title: 'random',
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    style: 'digits',
    train: randomSet(trainCount, 28, 1),
    test: randomSet(testCount, 28, 2)
  }
}

const stats = (xs: number[]): { best: number; median: number; all: number[] } => {
  const sorted = [...xs].sort((a, b) => a - b)
  return { best: sorted[sorted.length - 1], median: sorted[Math.floor(sorted.length / 2)], all: xs.map((x) => Math.round(x * 1000) / 1000) }
}

function config(id: string, over: Partial<TrainConfigInput>): TrainConfigInput {
  const p = getPreset(id)!
  return { ...(p.recommended as TrainConfigInput), model: id, spec: p.spec, dataset: 'random', seed: 0, ...over }
}

/** Examples/s of the second epoch (the first pays for kernel set-up). */
async function lenetTraining(data: DatasetArrays): Promise<number> {
  const perEpoch: number[] = []
  await train(config('lenet5', { epochs: 2, batchSize: 256 }), data, { onEpoch: (e) => void perEpoch.push(e.examplesPerSec) })
  return perEpoch[1]
}

async function lenetInference(): Promise<number[]> {
  const model = buildModel(getPreset('lenet5')!.spec, { init: 'xavier', seed: 0 })
  const x = tf.randomUniform([256, 28, 28, 1]) as tf.Tensor4D
  const rates: number[] = []
  tf.tidy(() => void (model.predict(x, { batchSize: 256 }) as tf.Tensor).dataSync())
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now()
    const batches = 40
    for (let b = 0; b < batches; b++) tf.tidy(() => void (model.predict(x, { batchSize: 256 }) as tf.Tensor).dataSync())
    rates.push((batches * 256) / ((performance.now() - t0) / 1000))
  }
  x.dispose()
  model.dispose()
  return rates
}

/** Seconds per AlexNet training step at batch 128 (images resized 28 -> 224 on the fly). */
async function alexnetStep(): Promise<number[]> {
  const steps = 3
  const data = randomData(128 * (steps + 1), 2)
  const times: number[] = []
  let last = 0
  await train(config('alexnet', { epochs: 1, batchSize: 128 }), data, {
    onStart: () => void (last = performance.now()),
    onBatch: (e) => {
      const now = performance.now()
      // The first step pays for kernel set-up; keep the rest.
      if (e.batch > 1) times.push((now - last) / 1000)
      last = now
    }
  }, { pointsPerEpoch: steps + 1 })
  return times
}

interface TorchFigures {
  examplesPerSec: number
  torch: string
  threads: number
}

/** A function that measures PyTorch once per call, or why it cannot. */
function torchReference(): { measure: () => TorchFigures | string } | { skipped: string } {
  const script = join(process.cwd(), 'bench', 'torch_lenet.py')
  const extra = existsSync('/tmp/pylib') ? '/tmp/pylib' : ''
  const env = { ...process.env, PYTHONPATH: [process.env.PYTHONPATH, extra].filter(Boolean).join(':') }
  const probe = spawnSync('python3', ['-c', 'import torch'], { env, encoding: 'utf8' })
  if (probe.status !== 0) {
    return { skipped: `python3 cannot import torch (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}); PyTorch reference skipped` }
  }
  return {
    measure: () => {
      const out = spawnSync('python3', [script, '--steps', '60'], { env, encoding: 'utf8', timeout: 600_000 })
      const line = out.stdout.split('\n').find((l) => l.startsWith('TORCH_JSON '))
      if (!line) return `torch_lenet.py failed: ${out.stderr.trim().split('\n').pop()}`
      return JSON.parse(line.slice('TORCH_JSON '.length)) as TorchFigures
    }
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const native = await loadNative()
  const backend = tf.getBackend()
  const note = native.ok ? 'native tensorflow (tfjs-node, oneDNN)' : `native tensorflow not loadable (${native.reason}); using ${backend}`
  console.log(`backend: ${backend} — ${note}`)

  // Ours and PyTorch's runs alternate, so that both see the same load on a shared machine.
  const reference = torchReference()
  const torchRuns: TorchFigures[] = []
  let torchError: string | null = 'skipped' in reference ? reference.skipped : null
  const data = randomData(60 * 256, 256)
  const ourRates: number[] = []
  for (let r = 0; r < REPEATS; r++) {
    ourRates.push(await lenetTraining(data))
    if ('measure' in reference && torchError === null) {
      const t = reference.measure()
      if (typeof t === 'string') torchError = t
      else torchRuns.push(t)
    }
  }
  const training = stats(ourRates)
  console.log(`lenet5 training, batch 256: best ${Math.round(training.best)} examples/s, median ${Math.round(training.median)}`)
  const inference = stats(await lenetInference())
  console.log(`lenet5 inference, batch 256: best ${Math.round(inference.best)} examples/s, median ${Math.round(inference.median)}`)

  let alexnet: ReturnType<typeof stats> | { skipped: string }
  if (native.ok) {
    const s = stats(await alexnetStep())
    // For step times smaller is better: report the fastest as "best".
    alexnet = { ...s, best: Math.min(...s.all) }
    console.log(`alexnet training, batch 128: best ${alexnet.best.toFixed(2)} s/step, median ${alexnet.median.toFixed(2)} s/step`)
  } else {
    alexnet = { skipped: 'needs the native backend (hours per epoch on the pure-JS backends)' }
    console.log(`alexnet: skipped, ${alexnet.skipped}`)
  }

  let ratio: { best: number; median: number } | null = null
  const torchStats = torchRuns.length > 0 ? stats(torchRuns.map((r) => r.examplesPerSec)) : null
  if (torchStats && torchError === null) {
    ratio = { best: training.best / torchStats.best, median: training.median / torchStats.median }
    console.log(`pytorch ${torchRuns[0].torch} (${torchRuns[0].threads} threads) lenet5 training: best ${Math.round(torchStats.best)} examples/s, median ${Math.round(torchStats.median)}`)
    console.log(`ratio tfjs/${backend} : pytorch = ${ratio.best.toFixed(2)} (best vs best), ${ratio.median.toFixed(2)} (median vs median)`)
  } else {
    console.log(torchError)
  }

  console.log('')
  console.log('figure                              best        median')
  console.log(`lenet5 train examples/s   ${String(Math.round(training.best)).padStart(12)} ${String(Math.round(training.median)).padStart(12)}`)
  console.log(`lenet5 infer examples/s   ${String(Math.round(inference.best)).padStart(12)} ${String(Math.round(inference.median)).padStart(12)}`)
  if ('best' in alexnet) console.log(`alexnet s/step (b=128)    ${alexnet.best.toFixed(2).padStart(12)} ${alexnet.median.toFixed(2).padStart(12)}`)
  const figures = {
    backend,
    note,
    lenet5TrainExamplesPerSec: training,
    lenet5InferExamplesPerSec: inference,
    alexnetSecondsPerStep: alexnet,
    pytorch: torchError === null ? torchStats : { skipped: torchError },
    ratioToPytorch: ratio
  }
  console.log('TRAINING_JSON ' + JSON.stringify(figures))
  return figures
}
