// Training throughput against PyTorch, measured fairly on a shared machine:
//  * LeNet-5 at batch 256: our figure is the median examples/s of epochs >= 2 of one train() run
//    (epoch 1 pays for kernel set-up), PyTorch's (bench/torch_lenet.py) the median of timed chunks
//    after warm-up steps; AlexNet at batch 128: median seconds per step after the first, both sides.
//  * Both sides run in child processes with the same glibc malloc tunables: without them PyTorch's
//    allocator returns its large activation buffers to the kernel and page-faults them back every step,
//    which moved its LeNet-5 figure between 15k and 31k examples/s (../shared/reviews/lenet-profile.md).
//  * Ours (the step train() picks), the previous tape step ('reference') and PyTorch alternate within
//    every repeat, so all three see the same load; every repeat is printed with its ratio.
// When a ratio stays below 1, a per-op profile of our LeNet-5 step says where the time goes.
// Child mode: `tsx bench/training.ts --training-child <lenet|alexnet|profile> <auto|reference|tape>`.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { DatasetArrays, ImageSet } from '../src/core/data/types'
import { buildModel } from '../src/core/models/build'
import { getPreset } from '../src/core/models/presets'
import { makeTrainStep, type StepKind } from '../src/core/training/step'
import { train } from '../src/core/training/trainer'
import type { TrainConfigInput } from '../src/shared/schemas'
import { loadNative } from './training-support'

const REPEATS = 3
const TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295'
const LENET_EPOCHS = 4
const LENET_TRAIN = 120 * 256
const ALEXNET_STEPS = 3

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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits

function config(id: string, over: Partial<TrainConfigInput>): TrainConfigInput {
  const p = getPreset(id)!
  return { ...(p.recommended as TrainConfigInput), model: id, spec: p.spec, dataset: 'random', seed: 0, ...over }
}

// ------------------------------------------------------------------ child side (one measurement)

interface ChildFigures {
  kind: StepKind
  fallbackReason: string | null
  backend: string
  glibcTunables: string
  /** LeNet-5: examples/s of every epoch; AlexNet: seconds of every step after the first. */
  values: number[]
  /** LeNet-5: median of epochs >= 2; AlexNet: median seconds per step. */
  figure: number
}

async function child(what: string, stepKind: StepKind | 'auto'): Promise<void> {
  const native = await loadNative()
  if (!native.ok) throw new Error(`native backend not loadable: ${native.reason}`)
  let kind: StepKind = 'reference'
  let fallbackReason: string | null = null
  const onStepKind = (k: StepKind, why: string | null): void => {
    kind = k
    fallbackReason = why
  }
  const values: number[] = []
  let figure = 0
  if (what === 'lenet') {
    await train(config('lenet5', { epochs: LENET_EPOCHS, batchSize: 256 }), randomData(LENET_TRAIN, 256), { onEpoch: (e) => void values.push(e.examplesPerSec) }, { step: stepKind, onStepKind })
    figure = median(values.slice(1))
  } else if (what === 'alexnet') {
    let last = 0
    await train(config('alexnet', { epochs: 1, batchSize: 128 }), randomData(128 * (ALEXNET_STEPS + 1), 2), {
      onStart: () => void (last = performance.now()),
      onBatch: (e) => {
        const now = performance.now()
        // The first step pays for kernel set-up; keep the rest.
        if (e.batch > 1) values.push((now - last) / 1000)
        last = now
      }
    }, { pointsPerEpoch: ALEXNET_STEPS + 1, step: stepKind, onStepKind })
    figure = median(values)
  } else if (what === 'profile') {
    profileLenetStep(stepKind)
    return
  } else {
    throw new Error(`unknown child measurement '${what}'`)
  }
  const out: ChildFigures = { kind, fallbackReason, backend: tf.getBackend(), glibcTunables: process.env.GLIBC_TUNABLES ?? '', values: values.map((v) => round(v, 3)), figure }
  console.log('CHILD_JSON ' + JSON.stringify(out))
}

/** Per-op time of our LeNet-5 step at batch 256 (TF ops timed at the tfjs-node binding), and the JS side. */
function profileLenetStep(stepKind: StepKind | 'auto'): void {
  const spec = getPreset('lenet5')!.spec
  const model = buildModel(spec, { init: 'xavier', seed: 0 })
  const optimizer = tf.train.sgd(0.9)
  const step = makeTrainStep(model, optimizer, { numClasses: 10, weightDecay: 0, kind: stepKind })
  const x = tf.randomUniform([256, 28, 28, 1]) as tf.Tensor4D
  const labels = tf.tensor1d(Int32Array.from({ length: 256 }, (_, i) => i % 10), 'int32')
  const once = (): void => tf.tidy(() => void step.run(x, labels).loss.dataSync())
  for (let i = 0; i < 10; i++) once()
  const backend = tf.backend() as unknown as { binding: Record<string, (...a: unknown[]) => unknown> }
  const original = backend.binding
  const stats = new Map<string, { calls: number; ms: number }>()
  const wrapped = Object.create(original) as Record<string, unknown>
  Object.defineProperty(wrapped, 'executeOp', {
    value: (name: string, attrs: unknown, ids: unknown, n: unknown) => {
      const t0 = performance.now()
      const r = original.executeOp(name, attrs, ids, n) as { shape: number[] }[]
      const key = `${name} -> ${r.map((m) => m.shape.join('x')).join(', ')}`
      const s = stats.get(key) ?? { calls: 0, ms: 0 }
      s.calls++
      s.ms += performance.now() - t0
      stats.set(key, s)
      return r
    }
  })
  backend.binding = wrapped as typeof original
  const steps = 30
  const t0 = performance.now()
  for (let i = 0; i < steps; i++) once()
  const wall = (performance.now() - t0) / steps
  backend.binding = original
  const rows = [...stats.entries()].map(([k, v]) => ({ k, calls: v.calls / steps, ms: v.ms / steps })).sort((a, b) => b.ms - a.ms)
  const inTf = rows.reduce((a, r) => a + r.ms, 0)
  const ops = rows.reduce((a, r) => a + r.calls, 0)
  console.log(`profile of our LeNet-5 step (${step.kind}), batch 256: ${wall.toFixed(2)} ms/step instrumented, ${inTf.toFixed(2)} ms inside TensorFlow ops (${ops} ops), ${(wall - inTf).toFixed(2)} ms JS side`)
  for (const r of rows.slice(0, 18)) console.log(`  ${r.k.padEnd(44)} x${r.calls.toFixed(0).padStart(2)} ${r.ms.toFixed(3).padStart(7)} ms`)
  const rest = rows.slice(18)
  if (rest.length) console.log(`  ${rest.length} smaller ops`.padEnd(50) + ` ${rest.reduce((a, r) => a + r.ms, 0).toFixed(3).padStart(7)} ms`)
}

// ------------------------------------------------------------------ parent side

const childEnv = (): NodeJS.ProcessEnv => {
  const extra = existsSync('/tmp/pylib') ? '/tmp/pylib' : ''
  return { ...process.env, GLIBC_TUNABLES: TUNABLES, PYTHONPATH: [process.env.PYTHONPATH, extra].filter(Boolean).join(':') }
}

function ours(what: 'lenet' | 'alexnet' | 'profile', kind: StepKind | 'auto'): ChildFigures | string {
  // The child runs this file under the same tsx loader as this process.
  const out = spawnSync(process.execPath, [...process.execArgv, join(process.cwd(), 'bench', 'training.ts'), '--training-child', what, kind], { env: childEnv(), encoding: 'utf8', timeout: 900_000 })
  if (what === 'profile') return out.stdout.split('\n').filter((l) => l.startsWith('profile') || l.startsWith('  ')).join('\n')
  const line = out.stdout.split('\n').find((l) => l.startsWith('CHILD_JSON '))
  if (!line) return `our ${what} child failed: ${(out.stderr || out.error?.message || '').trim().split('\n').pop()}`
  return JSON.parse(line.slice('CHILD_JSON '.length)) as ChildFigures
}

interface TorchFigures {
  torch: string
  threads: number
  examplesPerSec: number
  medianSecondsPerStep: number
  secondsPerStep: number[]
}

function torchProbe(): string | null {
  const probe = spawnSync('python3', ['-c', 'import torch'], { env: childEnv(), encoding: 'utf8' })
  if (probe.status === 0) return null
  return `python3 cannot import torch (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()}); PyTorch reference skipped`
}

function pytorch(model: 'lenet5' | 'alexnet'): TorchFigures | string {
  const args = model === 'lenet5' ? ['--steps', '200', '--chunks', '5'] : ['--model', 'alexnet', '--batch-size', '128', '--lr', '0.01', '--steps', String(ALEXNET_STEPS), '--chunks', String(ALEXNET_STEPS), '--warmup', '1']
  const out = spawnSync('python3', [join(process.cwd(), 'bench', 'torch_lenet.py'), ...args], { env: childEnv(), encoding: 'utf8', timeout: 900_000 })
  const line = out.stdout.split('\n').find((l) => l.startsWith('TORCH_JSON '))
  if (!line) return `torch_lenet.py failed: ${(out.stderr || out.error?.message || '').trim().split('\n').pop()}`
  return JSON.parse(line.slice('TORCH_JSON '.length)) as TorchFigures
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

interface Repeat {
  lenet: { ours: number | null; previous: number | null; pytorch: number | null; ratio: number | null; previousRatio: number | null }
  alexnet: { ours: number | null; previous: number | null; pytorch: number | null; ratio: number | null; previousRatio: number | null }
}

export async function run(): Promise<Record<string, unknown>> {
  const native = await loadNative()
  const backend = tf.getBackend()
  if (!native.ok) {
    console.log(`native tensorflow not loadable (${native.reason}); the training bench needs it`)
    return { skipped: native.reason }
  }
  console.log(`backend: ${backend} — native tensorflow (tfjs-node, oneDNN); both sides with GLIBC_TUNABLES=${TUNABLES}`)
  const torchError = torchProbe()
  if (torchError) console.log(torchError)
  const errors: string[] = []
  const value = <T>(r: T | string): T | null => {
    if (typeof r === 'string') {
      errors.push(r)
      console.log(r)
      return null
    }
    return r
  }
  const ratioOf = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? a / b : null)
  const repeats: Repeat[] = []
  let kinds: Record<string, string> = {}
  for (let r = 1; r <= REPEATS; r++) {
    // LeNet-5: ours, PyTorch, the previous step; then AlexNet in the same order.
    const lo = value(ours('lenet', 'auto'))
    const lt = torchError ? null : value(pytorch('lenet5'))
    const lp = value(ours('lenet', 'reference'))
    const ao = value(ours('alexnet', 'auto'))
    const at = torchError ? null : value(pytorch('alexnet'))
    const ap = value(ours('alexnet', 'reference'))
    kinds = { lenet5: lo ? lo.kind : '?', alexnet: ao ? ao.kind : '?' }
    // AlexNet as throughput (128 / s per step), so that every ratio reads "above 1 is faster than PyTorch".
    const speed = (s: number | null | undefined): number | null => (s ? 128 / s : null)
    const rep: Repeat = {
      lenet: { ours: lo?.figure ?? null, previous: lp?.figure ?? null, pytorch: lt?.examplesPerSec ?? null, ratio: null, previousRatio: null },
      alexnet: { ours: ao?.figure ?? null, previous: ap?.figure ?? null, pytorch: at?.medianSecondsPerStep ?? null, ratio: null, previousRatio: null }
    }
    rep.lenet.ratio = ratioOf(rep.lenet.ours, rep.lenet.pytorch)
    rep.lenet.previousRatio = ratioOf(rep.lenet.previous, rep.lenet.pytorch)
    rep.alexnet.ratio = ratioOf(speed(rep.alexnet.ours), speed(rep.alexnet.pytorch))
    rep.alexnet.previousRatio = ratioOf(speed(rep.alexnet.previous), speed(rep.alexnet.pytorch))
    repeats.push(rep)
    const f = (x: number | null, d = 0): string => (x === null ? '-' : x.toFixed(d))
    console.log(
      `repeat ${r}: lenet5 b256 ours ${f(rep.lenet.ours)} ex/s (epochs ${lo?.values.map((v) => Math.round(v)).join(', ') ?? '-'}), ` +
        `pytorch ${f(rep.lenet.pytorch)}, ratio ${f(rep.lenet.ratio, 2)}; previous step ${f(rep.lenet.previous)} (ratio ${f(rep.lenet.previousRatio, 2)})`
    )
    console.log(
      `repeat ${r}: alexnet b128 ours ${f(rep.alexnet.ours, 2)} s/step (${ao?.values.join(', ') ?? '-'}), pytorch ${f(rep.alexnet.pytorch, 2)} (${at?.secondsPerStep.map((v) => v.toFixed(2)).join(', ') ?? '-'}), ` +
        `ratio ${f(rep.alexnet.ratio, 2)}; previous step ${f(rep.alexnet.previous, 2)} (ratio ${f(rep.alexnet.previousRatio, 2)})`
    )
  }
  const inference = await lenetInference()
  console.log(`lenet5 inference, batch 256: ${inference.map((v) => Math.round(v)).join(', ')} examples/s`)

  const med = (pick: (r: Repeat) => number | null): number | null => {
    const xs = repeats.map(pick).filter((x): x is number => x !== null)
    return xs.length ? median(xs) : null
  }
  const summary = {
    lenet5Ratio: med((r) => r.lenet.ratio),
    lenet5PreviousRatio: med((r) => r.lenet.previousRatio),
    alexnetRatio: med((r) => r.alexnet.ratio),
    alexnetPreviousRatio: med((r) => r.alexnet.previousRatio)
  }
  console.log('')
  console.log(`step kinds: lenet5 ${kinds.lenet5}, alexnet ${kinds.alexnet} (previous = the tape step before the explicit one)`)
  console.log('ratio to pytorch (>1 = faster)   median of repeats   every repeat')
  const all = (pick: (r: Repeat) => number | null): string => repeats.map((r) => (pick(r) === null ? '-' : pick(r)!.toFixed(2))).join(', ')
  console.log(`lenet5 b256, ours              ${String(summary.lenet5Ratio?.toFixed(2) ?? '-').padStart(8)}            ${all((r) => r.lenet.ratio)}`)
  console.log(`lenet5 b256, previous step     ${String(summary.lenet5PreviousRatio?.toFixed(2) ?? '-').padStart(8)}            ${all((r) => r.lenet.previousRatio)}`)
  console.log(`alexnet b128, ours             ${String(summary.alexnetRatio?.toFixed(2) ?? '-').padStart(8)}            ${all((r) => r.alexnet.ratio)}`)
  console.log(`alexnet b128, previous step    ${String(summary.alexnetPreviousRatio?.toFixed(2) ?? '-').padStart(8)}            ${all((r) => r.alexnet.previousRatio)}`)
  let profile: string | null = null
  if (summary.lenet5Ratio !== null && summary.lenet5Ratio < 1) {
    profile = ours('profile', 'auto') as string
    console.log('')
    console.log('lenet5 below PyTorch; where our step spends its time:')
    console.log(profile)
  }
  const figures = { backend, glibcTunables: TUNABLES, kinds, repeats, summary, lenet5InferExamplesPerSec: inference, errors, profile }
  console.log('TRAINING_JSON ' + JSON.stringify(figures))
  return figures
}

const childAt = process.argv.indexOf('--training-child')
if (childAt >= 0) {
  child(process.argv[childAt + 1], (process.argv[childAt + 2] ?? 'auto') as StepKind | 'auto').catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  })
}
