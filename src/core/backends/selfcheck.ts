// The forward/backward self-check a backend must pass before Conv Studio trains on it: a two-conv
// net (conv 3x3 same + sigmoid, avg-pool 2/2, conv 2x2 + relu, max-pool 2/1, dense, softmax
// cross-entropy) on fixed numbers. It touches every gradient kernel the presets need, including
// Conv2DBackpropFilter/Input, and compares with values computed independently in PyTorch (float64).
// A backend that loads but computes wrong numbers (or silently misses a kernel) fails here.
import * as tf from '@tensorflow/tfjs'

/** Deterministic values in [-1, 1), identical in every JavaScript engine. */
export function checkValues(count: number, seed: number): Float32Array {
  let s = seed >>> 0
  const out = new Float32Array(count)
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    out[i] = ((s >>> 8) / 2 ** 24) * 2 - 1
  }
  return out
}

export const SELF_CHECK_SHAPES = {
  x: [2, 6, 6, 1],
  w1: [3, 3, 1, 2],
  b1: [2],
  w2: [2, 2, 2, 3],
  b2: [3],
  w3: [3, 3],
  b3: [3]
} as const
export const SELF_CHECK_LABELS = [0, 2]

export interface SelfCheckFigures {
  loss: number
  /** Sum of each gradient, in the order w1, b1, w2, b2, w3, b3. */
  gradSums: number[]
  /** Sum of |gradient| of each, same order: catches errors a sum could cancel. */
  gradAbsSums: number[]
}

/**
 * The check's figures, computed in PyTorch 2.x in float64 from the same inputs
 * (test/fixtures/backends/selfcheck_reference.py prints them). Channels-last here, channels-first there; the
 * script transposes.
 */
export const SELF_CHECK_REFERENCE: SelfCheckFigures = {
  loss: 1.0558134536938493,
  gradSums: [-0.0060205627427712145, -0.009606983129465837, -0.27496942033718386, -0.0666356264439822, 0, 0],
  gradAbsSums: [0.04536880196630971, 0.016548368149154516, 0.27496942033718386, 0.0666356264439822, 0.19817336696848262, 0.6071842127878513]
}

/**
 * Runs the net on the active backend and returns its figures. Reads back asynchronously: WebGPU
 * has no synchronous readback in Node.
 */
export async function computeSelfCheck(): Promise<SelfCheckFigures> {
  const packed = tf.tidy(() => {
    const t = (name: keyof typeof SELF_CHECK_SHAPES, seed: number, scale: number): tf.Tensor => {
      const shape = SELF_CHECK_SHAPES[name]
      const size = shape.reduce((a: number, b: number) => a * b, 1)
      return tf.tensor(checkValues(size, seed).map((v) => v * scale), [...shape])
    }
    const x = t('x', 1, 1) as tf.Tensor4D
    const params = [t('w1', 2, 0.6), t('b1', 3, 0.1), t('w2', 4, 0.6), t('b2', 5, 0.1), t('w3', 6, 0.5), t('b3', 7, 0.1)]
    const labels = tf.oneHot(tf.tensor1d(SELF_CHECK_LABELS, 'int32'), 3)
    const lossOf = (...p: tf.Tensor[]): tf.Scalar => {
      const [w1, b1, w2, b2, w3, b3] = p
      let h = tf.sigmoid(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'same'), b1)) as tf.Tensor4D
      h = tf.avgPool(h, 2, 2, 'valid') // [2,3,3,2]
      h = tf.relu(tf.add(tf.conv2d(h, w2 as tf.Tensor4D, 1, 'valid'), b2)) as tf.Tensor4D // [2,2,2,3]
      h = tf.maxPool(h, 2, 1, 'valid') // [2,1,1,3]
      const logits = tf.add(tf.matMul(tf.reshape(h, [2, 3]), w3 as tf.Tensor2D), b3)
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar
    }
    const { value, grads } = tf.valueAndGrads(lossOf)(params)
    return tf.stack([value, ...grads.map((g) => tf.sum(g)), ...grads.map((g) => tf.sum(tf.abs(g)))])
  })
  const v = Array.from(await packed.data())
  packed.dispose()
  return { loss: v[0], gradSums: v.slice(1, 7), gradAbsSums: v.slice(7, 13) }
}

/**
 * Runs the check on the active backend; returns null when it passes, else a one-line reason.
 * Tolerance: float32 on any backend vs float64 reference, relative 1e-3 (absolute 1e-5 near 0).
 */
export async function selfCheck(reference: SelfCheckFigures = SELF_CHECK_REFERENCE): Promise<string | null> {
  let got: SelfCheckFigures
  try {
    got = await computeSelfCheck()
  } catch (error) {
    return `self-check failed to run: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`
  }
  const close = (a: number, b: number): boolean => Number.isFinite(a) && Math.abs(a - b) <= 1e-5 + 1e-3 * Math.abs(b)
  if (!close(got.loss, reference.loss)) return `self-check: loss ${got.loss} instead of ${reference.loss}`
  const names = ['conv1 weights', 'conv1 bias', 'conv2 weights', 'conv2 bias', 'dense weights', 'dense bias']
  for (let i = 0; i < names.length; i++) {
    if (!close(got.gradSums[i], reference.gradSums[i]) || !close(got.gradAbsSums[i], reference.gradAbsSums[i])) {
      return `self-check: gradient of ${names[i]} is wrong (sum ${got.gradSums[i]}, expected ${reference.gradSums[i]})`
    }
  }
  return null
}
