// What a run keeps per epoch for the inspection views: weight and gradient histograms per layer
// (vanishing sigmoid gradients in d2l's LeNet show up as a gradient histogram collapsing onto 0)
// and the first convolution's kernels. Pure tfjs; the trainer calls it once per epoch.
import * as tf from '@tensorflow/tfjs'
import type { FilterSnapshot, LayerHistogram } from '../../shared/domain'
import type { ModelSpec } from '../../shared/schemas'
import { inferLayers } from '../models/spec'
import { summaryName } from './inspect'

export const HISTOGRAM_BINS = 32

/** Equal-width counts over [min, max]; a constant tensor puts everything into the middle bin. */
export function histogram(values: Float32Array | number[], bins = HISTOGRAM_BINS): { min: number; max: number; counts: number[] } {
  let min = Infinity
  let max = -Infinity
  for (const v of values) {
    if (!Number.isFinite(v)) continue
    if (v < min) min = v
    if (v > max) max = v
  }
  const counts = new Array<number>(bins).fill(0)
  if (min === Infinity) return { min: 0, max: 0, counts }
  const width = (max - min) / bins
  for (const v of values) {
    if (!Number.isFinite(v)) continue
    const b = width > 0 ? Math.min(bins - 1, Math.floor((v - min) / width)) : bins >> 1
    counts[b]++
  }
  return { min, max, counts }
}

/** The tfjs kernel variable of each weighted spec layer (conv, linear), with its summary name. */
function kernels(model: tf.LayersModel, spec: ModelSpec): { name: string; variable: tf.LayerVariable }[] {
  const out: { name: string; variable: tf.LayerVariable }[] = []
  for (const info of inferLayers(spec)) {
    if (info.layer.type !== 'conv2d' && info.layer.type !== 'linear') continue
    const layer = model.layers.find((l) => l.name === `${info.className.toLowerCase()}_${info.index + 1}`)
    const kernel = layer?.trainableWeights[0]
    if (kernel) out.push({ name: summaryName(info), variable: kernel })
  }
  return out
}

/**
 * Histograms of every conv/linear kernel and of its gradient on one batch (x, labels): the loss
 * gradient the next step would apply, measured without changing the weights.
 */
// Async reads throughout: tfjs-backend-webgpu's dataSync loses the device in a Chromium worker on
// SwiftShader ("Device was destroyed"), as the trainer's own reads note.
export async function weightAndGradientHistograms(model: tf.LayersModel, spec: ModelSpec, x: tf.Tensor4D, labels: tf.Tensor1D): Promise<LayerHistogram[]> {
  const ks = kernels(model, spec)
  // LayerVariable wraps a tf.Variable of the same name; variableGrads keys its answer by that name.
  const grads = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.apply(x, { training: false }) as tf.Tensor2D
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, spec.numClasses), logits) as tf.Scalar
    })
    value.dispose()
    return ks.map((k) => grads[k.variable.name] ?? null)
  })
  try {
    const out: LayerHistogram[] = []
    for (const [i, k] of ks.entries()) {
      out.push({ layer: k.name, kind: 'weight', ...histogram((await k.variable.read().data()) as Float32Array) })
      const g = grads[i]
      if (g) out.push({ layer: k.name, kind: 'gradient', ...histogram((await g.data()) as Float32Array) })
    }
    return out
  } finally {
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null))
  }
}

/** The first convolution's kernels as [out, in, k, k] (PyTorch's layout); null without a convolution. */
export async function firstConvFilters(model: tf.LayersModel, spec: ModelSpec, epoch: number): Promise<FilterSnapshot | null> {
  const first = kernels(model, spec).find((k) => k.name.startsWith('Conv2d-'))
  if (!first) return null
  const w = first.variable.read() // [k, k, in, out]
  const [kh, kw, cin, cout] = w.shape
  const t = tf.transpose(w, [3, 2, 0, 1])
  try {
    return { epoch, layer: first.name, shape: [cout, cin, kh, kw], values: Array.from((await t.data()) as Float32Array, (v) => Math.fround(v)) }
  } finally {
    t.dispose()
  }
}
