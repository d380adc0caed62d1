// Test helper: the same layer stack, with the same weights and inputs, run forward and backward on
// two tfjs backends; returns every number so a test can compare them.
import * as tf from '@tensorflow/tfjs'

export interface LayerCase {
  name: string
  inputShape: [number, number, number] | [number]
  batch: number
  layers: () => tf.layers.Layer[]
  /** false runs dropout as at inference ("dropout off"); batch norm then uses its moving stats. */
  training?: boolean
}

export interface PassResult {
  output: Float32Array
  outputShape: number[]
  /** d(sum(output * r))/d(input), then one entry per trainable weight. */
  grads: { name: string; values: Float32Array }[]
}

/** Deterministic values in [-1, 1): the same on every backend. */
export function seeded(count: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s / 2 ** 31 - 1
  }
  return out
}

export async function runPass(backend: string, c: LayerCase): Promise<PassResult> {
  await tf.setBackend(backend)
  await tf.ready()
  // Everything is read back with data(), never dataSync(): WebGPU has no synchronous readback in Node.
  const names: string[] = []
  const kept = tf.tidy(() => {
    const model = tf.sequential()
    c.layers().forEach((layer, i) => {
      if (i === 0) model.add(tf.layers.inputLayer({ inputShape: c.inputShape }))
      model.add(layer)
    })
    const weightNames = model.weights.map((w) => w.name)
    // Weights scaled like a sensible init so sigmoids do not saturate and gradients stay informative.
    model.setWeights(model.getWeights().map((w, i) => {
      const values = seeded(w.size, 100 + i)
      if (weightNames[i].includes('moving_variance')) return tf.tensor(values.map((v) => 1 + 0.5 * v), w.shape)
      const fanIn = w.shape.length > 1 ? w.shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1
      return tf.tensor(values.map((v) => v / Math.sqrt(fanIn)), w.shape)
    }))
    const shape = [c.batch, ...c.inputShape]
    const size = shape.reduce((a, b) => a * b, 1)
    const x = tf.variable(tf.tensor(seeded(size, 7), shape), true, `x_${backend}_${Math.random()}`)
    let out: tf.Tensor | null = null
    const weights = model.trainableWeights.map((w) => w.read() as tf.Variable)
    const { grads } = tf.variableGrads(() => {
      out = tf.keep(model.apply(x, { training: c.training ?? true }) as tf.Tensor)
      const r = tf.tensor(seeded(out.size, 11), out.shape)
      return tf.sum(tf.mul(out, r)) as tf.Scalar
    }, [x, ...weights])
    // Layer names differ between two builds (tfjs numbers them); index and shape identify a weight.
    ;[x, ...weights].forEach((v, i) => names.push(v === x ? 'input' : `weight ${i - 1} [${v.shape.join(',')}]`))
    const tensors = [out as unknown as tf.Tensor, ...[x, ...weights].map((v) => grads[v.name])]
    x.dispose()
    model.dispose()
    return tensors
  })
  const values = await Promise.all(kept.map((t) => t.data() as Promise<Float32Array>))
  const result: PassResult = {
    output: values[0],
    outputShape: kept[0].shape,
    grads: names.map((name, i) => ({ name, values: values[i + 1] }))
  }
  tf.dispose(kept)
  return result
}

/** max |a-b| / max(|b|, 1e-3): one number per array, small when the backends agree. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY
  let diff = 0
  let scale = 1e-3
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Number.POSITIVE_INFINITY
    diff = Math.max(diff, Math.abs(a[i] - b[i]))
    scale = Math.max(scale, Math.abs(b[i]))
  }
  return diff / scale
}

/** Every layer type the presets use, small enough for a slow backend. */
export const layerCases: LayerCase[] = [
  { name: 'conv2d same + sigmoid', inputShape: [8, 8, 2], batch: 2, layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 5, padding: 'same', activation: 'sigmoid' })] },
  { name: 'conv2d valid stride 2 + relu', inputShape: [9, 9, 3], batch: 2, layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu' })] },
  { name: 'zeroPadding + conv2d 11x11 stride 4', inputShape: [23, 23, 1], batch: 2, layers: () => [tf.layers.zeroPadding2d({ padding: 1 }), tf.layers.conv2d({ filters: 3, kernelSize: 11, strides: 4 })] },
  { name: 'avgPool 2/2 (odd size: last row unpooled)', inputShape: [7, 6, 2], batch: 2, layers: () => [tf.layers.averagePooling2d({ poolSize: 2, strides: 2 })] },
  { name: 'maxPool 3/2', inputShape: [7, 7, 2], batch: 2, layers: () => [tf.layers.maxPooling2d({ poolSize: 3, strides: 2 })] },
  { name: 'avgPool 3/2 overlapping', inputShape: [7, 7, 2], batch: 2, layers: () => [tf.layers.averagePooling2d({ poolSize: 3, strides: 2 })] },
  { name: 'batchNorm (training)', inputShape: [4, 4, 3], batch: 4, layers: () => [tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 })] },
  { name: 'dense + leakyRelu', inputShape: [12], batch: 3, layers: () => [tf.layers.dense({ units: 5 }), tf.layers.leakyReLU({ alpha: 0.01 })] },
  { name: 'flatten + dense + dropout off + dense', inputShape: [3, 3, 2], batch: 3, training: false, layers: () => [tf.layers.flatten(), tf.layers.dense({ units: 6, activation: 'relu' }), tf.layers.dropout({ rate: 0.5 }), tf.layers.dense({ units: 4 })] }
]
