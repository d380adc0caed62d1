// Shared by step.test.ts (cpu backend) and step-native.test.ts (native backend): builds the same
// model twice (same seed), runs the step under test and the reference step (today's tape step) on
// the same batch, and returns the worst relative differences of loss, gradients and updated weights.
import * as tf from '@tensorflow/tfjs'
import { buildModel } from '../../../src/core/models/build'
import { makeTrainStep, type StepKind } from '../../../src/core/training/step'
import type { ModelSpec } from '../../../src/shared/schemas'

export const sigmoidNet: ModelSpec = {
  name: 'sigmoid-avgpool',
  inputSize: 12,
  inputChannels: 1,
  numClasses: 4,
  layers: [
    { type: 'conv2d', outChannels: 3, kernelSize: 5, stride: 1, padding: 2 },
    { type: 'sigmoid' },
    { type: 'avgPool2d', kernelSize: 2, stride: 2 },
    { type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 0 },
    { type: 'sigmoid' },
    { type: 'avgPool2d', kernelSize: 2, stride: 2 },
    { type: 'flatten' },
    { type: 'linear', outFeatures: 6 },
    { type: 'sigmoid' },
    { type: 'linear', outFeatures: 4 }
  ]
}

/** Strided conv with explicit zero padding (not 'same'), relu, max-pool, tanh. */
export const reluNet: ModelSpec = {
  name: 'relu-maxpool',
  inputSize: 12,
  inputChannels: 1,
  numClasses: 4,
  layers: [
    { type: 'conv2d', outChannels: 3, kernelSize: 3, stride: 2, padding: 1 },
    { type: 'relu' },
    { type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 1 },
    { type: 'relu' },
    { type: 'maxPool2d', kernelSize: 3, stride: 2 },
    { type: 'flatten' },
    { type: 'linear', outFeatures: 5 },
    { type: 'tanh' },
    { type: 'linear', outFeatures: 4 }
  ]
}

/** Leaky relu and (seeded) dropout. */
export const leakyDropoutNet: ModelSpec = {
  name: 'leaky-dropout',
  inputSize: 8,
  inputChannels: 1,
  numClasses: 3,
  layers: [
    { type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 1 },
    { type: 'leakyRelu', negativeSlope: 0.1 },
    { type: 'maxPool2d', kernelSize: 2, stride: 2 },
    { type: 'flatten' },
    { type: 'dropout', p: 0.5 },
    { type: 'linear', outFeatures: 8 },
    { type: 'leakyRelu', negativeSlope: 0.01 },
    { type: 'dropout', p: 0.3 },
    { type: 'linear', outFeatures: 3 }
  ]
}

/** Batch norm (2-D and 1-D), in training mode: batch statistics, moving statistics updated. */
export const batchNormNet: ModelSpec = {
  name: 'batchnorm',
  inputSize: 8,
  inputChannels: 1,
  numClasses: 3,
  layers: [
    { type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 1 },
    { type: 'batchNorm2d' },
    { type: 'relu' },
    { type: 'maxPool2d', kernelSize: 2, stride: 2 },
    { type: 'flatten' },
    { type: 'linear', outFeatures: 6 },
    { type: 'batchNorm1d' },
    { type: 'sigmoid' },
    { type: 'linear', outFeatures: 3 }
  ]
}

function batch(spec: ModelSpec, n: number, seed: number): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  let s = seed >>> 0
  const next = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
  const size = spec.inputSize
  const x = tf.tensor4d(Float32Array.from({ length: n * size * size }, next), [n, size, size, 1])
  const labels = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % spec.numClasses), 'int32')
  return { x, labels }
}

/** max |a - ref| over max |ref|. */
function worstRelative(a: Float32Array, ref: Float32Array): number {
  let diff = 0
  for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(a[i] - ref[i]))
  return diff / Math.max(maxAbs(ref), 1e-30)
}

function maxAbs(v: Float32Array): number {
  let m = 0
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]))
  return m
}

export interface Comparison {
  kind: StepKind
  fallbackReason: string | null
  lossDiff: number
  /** Worst relative gradient difference over all variables. */
  gradDiff: number
  /** Worst relative difference of the weights after `steps` optimizer steps (noise-gradient ones left out). */
  weightDiff: number
  /** Worst relative difference of the non-trainable weights (batch-norm moving statistics). */
  stateDiff: number
  gradCount: number
  loss: number
}

export interface CompareOptions {
  kind?: StepKind | 'auto'
  batchSize?: number
  optimizer?: 'sgd' | 'adam' | 'momentum'
  lr?: number
  weightDecay?: number
  steps?: number
  seed?: number
}

/** Compares the step of `kind` with the reference step on two identically built copies of `spec`. */
export function compareWithReference(spec: ModelSpec, o: CompareOptions = {}): Comparison {
  const seed = o.seed ?? 3
  const make = (kind: StepKind | 'auto') => {
    const model = buildModel(spec, { init: 'xavier', seed })
    const lr = o.lr ?? 0.5
    const optimizer = o.optimizer === 'adam' ? tf.train.adam(lr) : o.optimizer === 'momentum' ? tf.train.momentum(lr, 0.9) : tf.train.sgd(lr)
    const step = makeTrainStep(model, optimizer, { numClasses: spec.numClasses, weightDecay: o.weightDecay ?? 0, kind })
    return { model, optimizer, step }
  }
  const mine = make(o.kind ?? 'auto')
  const ref = make('reference')
  const { x, labels } = batch(spec, o.batchSize ?? 6, seed)
  const read = (t: tf.Tensor) => t.dataSync() as Float32Array
  // Gradients before any update.
  const g1 = tf.tidy(() => {
    const a = mine.step.gradients(x, labels)
    const b = ref.step.gradients(x, labels)
    // Variable names differ between the two copies (tfjs makes them unique): pair them by position.
    const mineNames = mine.model.trainableWeights.map((w) => (w.read() as tf.Variable).name)
    const refNames = ref.model.trainableWeights.map((w) => (w.read() as tf.Variable).name)
    // A bias just before batch norm has a gradient that is 0 in exact arithmetic: what both steps
    // compute for it is float noise, so it has no scale of its own to compare against. Such a
    // gradient must be noise in both (below 1e-4 of the model's largest); the rest compare relatively.
    const noiseLevel = 1e-4 * Math.max(...refNames.map((name) => maxAbs(read(b.grads[name]))))
    const noise = refNames.map((name) => maxAbs(read(b.grads[name])) < noiseLevel)
    let worst = 0
    refNames.forEach((name, i) => {
      const g = read(a.grads[mineNames[i]])
      worst = Math.max(worst, noise[i] ? (maxAbs(g) < noiseLevel ? 0 : Infinity) : worstRelative(g, read(b.grads[name])))
    })
    return { worst, noise, count: Object.keys(a.grads).length, loss: read(a.loss)[0], refLoss: read(b.loss)[0], refCount: Object.keys(b.grads).length }
  })
  if (g1.count !== g1.refCount) throw new Error(`${g1.count} gradients, the reference has ${g1.refCount}`)
  // Then optimizer steps through run(), and the weights (and moving statistics) after them.
  for (let i = 0; i < (o.steps ?? 2); i++) {
    tf.tidy(() => {
      mine.step.run(x, labels)
      ref.step.run(x, labels)
    })
  }
  const compareWeights = (pick: (m: tf.LayersModel) => tf.LayerVariable[], skip: boolean[] = []): number => {
    const a = pick(mine.model)
    const b = pick(ref.model)
    return a.reduce((w, v, i) => (skip[i] ? w : Math.max(w, worstRelative(read(v.read()), read(b[i].read())))), 0)
  }
  const result: Comparison = {
    kind: mine.step.kind,
    fallbackReason: mine.step.fallbackReason,
    lossDiff: Math.abs(g1.loss - g1.refLoss) / Math.max(1, Math.abs(g1.refLoss)),
    gradDiff: g1.worst,
    // Weights whose gradient is float noise (see above; a bias before batch norm cannot change the
    // network's output) are left out: Adam scales any noise up to a full step of random sign.
    weightDiff: compareWeights((m) => m.trainableWeights, g1.noise),
    stateDiff: compareWeights((m) => m.nonTrainableWeights),
    gradCount: g1.count,
    loss: g1.loss
  }
  tf.dispose([x, labels])
  for (const s of [mine, ref]) {
    s.optimizer.dispose()
    s.model.dispose()
  }
  return result
}
