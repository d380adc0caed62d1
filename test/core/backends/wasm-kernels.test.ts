// The convolution gradients registered for the wasm backend, checked three ways: against the cpu
// backend, against finite differences of the forward convolution, and by training a small conv net.
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { beforeAll, describe, expect, it } from 'vitest'
import { missingKernels, registerWasmKernels } from '../../../src/core/backends/wasm-kernels'
import { layerCases, relativeError, runPass, seeded } from './parity'

interface ConvCase {
  name: string
  x: [number, number, number, number]
  filter: [number, number, number, number]
  strides: number | [number, number]
  pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]]
}

const convCases: ConvCase[] = [
  { name: 'LeNet conv1: 5x5 same', x: [2, 8, 8, 1], filter: [5, 5, 1, 3], strides: 1, pad: 'same' },
  { name: '5x5 valid, several channels', x: [2, 9, 9, 3], filter: [5, 5, 3, 4], strides: 1, pad: 'valid' },
  { name: '3x3 stride 2 same (odd size)', x: [2, 9, 9, 2], filter: [3, 3, 2, 3], strides: 2, pad: 'same' },
  { name: '3x3 stride 2 valid (drops a row)', x: [1, 10, 10, 2], filter: [3, 3, 2, 2], strides: 2, pad: 'valid' },
  { name: 'AlexNet conv1 style: 11x11 stride 4 pad 1', x: [1, 27, 27, 1], filter: [11, 11, 1, 2], strides: 4, pad: 1 },
  { name: 'rectangular kernel, strides [2,3]', x: [2, 7, 11, 2], filter: [3, 4, 2, 3], strides: [2, 3], pad: 'same' },
  { name: 'explicit asymmetric padding', x: [1, 6, 7, 2], filter: [3, 3, 2, 2], strides: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] }
]

/** dx and dW of sum(conv2d(x, w) * r) on the active backend. */
function convGrads(c: ConvCase): { dx: Float32Array; dw: Float32Array; y: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(seeded(c.x.reduce((a, b) => a * b), 1), c.x)
    const w = tf.tensor4d(seeded(c.filter.reduce((a, b) => a * b), 2), c.filter)
    const y = tf.conv2d(x, w, c.strides, c.pad)
    const r = tf.tensor(seeded(y.size, 3), y.shape)
    const [dx, dw] = tf.grads((...[a, b]: tf.Tensor[]) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), r)))([x, w])
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array, y: y.dataSync() as Float32Array }
  })
}

/** Central differences of the forward convolution (float64 accumulation of a linear function). */
function numericGrad(c: ConvCase, wrt: 'x' | 'w', indices: number[]): number[] {
  const xv = seeded(c.x.reduce((a, b) => a * b), 1)
  const wv = seeded(c.filter.reduce((a, b) => a * b), 2)
  const h = 0.5 // the loss is linear in x and in w, so a large step only reduces rounding noise
  const loss = (xs: Float32Array, ws: Float32Array): number => tf.tidy(() => {
    const y = tf.conv2d(tf.tensor4d(xs, c.x), tf.tensor4d(ws, c.filter), c.strides, c.pad)
    const r = seeded(y.size, 3)
    const yv = y.dataSync()
    let s = 0
    for (let i = 0; i < yv.length; i++) s += yv[i] * r[i]
    return s
  })
  return indices.map((i) => {
    const target = wrt === 'x' ? xv : wv
    const plus = Float32Array.from(target)
    const minus = Float32Array.from(target)
    plus[i] += h
    minus[i] -= h
    const lp = wrt === 'x' ? loss(plus, wv) : loss(xv, plus)
    const lm = wrt === 'x' ? loss(minus, wv) : loss(xv, minus)
    return (lp - lm) / (2 * h)
  })
}

describe('wasm convolution gradients', () => {
  beforeAll(async () => {
    registerWasmKernels()
    await tf.setBackend('wasm')
  })

  it('registers Conv2DBackpropFilter, the kernel wasm 4.22 lacks, and leaves no training kernel missing', () => {
    expect(registerWasmKernels()).toContain('Conv2DBackpropFilter')
    expect(missingKernels('wasm')).toEqual([])
  })

  for (const c of convCases) {
    it(`${c.name}: forward and both gradients equal the cpu backend's`, async () => {
      await tf.setBackend('cpu')
      const ref = convGrads(c)
      await tf.setBackend('wasm')
      const got = convGrads(c)
      expect(relativeError(got.y, ref.y)).toBeLessThan(1e-5)
      expect(relativeError(got.dw, ref.dw)).toBeLessThan(1e-5)
      expect(relativeError(got.dx, ref.dx)).toBeLessThan(1e-5)
    })

    it(`${c.name}: gradients match finite differences`, async () => {
      await tf.setBackend('wasm')
      const got = convGrads(c)
      const pick = (n: number): number[] => [0, Math.floor(n / 3), Math.floor(n / 2), n - 1]
      const wIdx = pick(got.dw.length)
      const xIdx = pick(got.dx.length)
      const numW = numericGrad(c, 'w', wIdx)
      const numX = numericGrad(c, 'x', xIdx)
      wIdx.forEach((i, k) => expect(got.dw[i]).toBeCloseTo(numW[k], 3))
      xIdx.forEach((i, k) => expect(got.dx[i]).toBeCloseTo(numX[k], 3))
    })
  }

  for (const c of layerCases) {
    it(`layer '${c.name}': forward and gradients on wasm equal cpu`, async () => {
      const ref = await runPass('cpu', c)
      const got = await runPass('wasm', c)
      expect(got.outputShape).toEqual(ref.outputShape)
      expect(relativeError(got.output, ref.output)).toBeLessThan(1e-4)
      expect(got.grads.map((g) => g.name)).toEqual(ref.grads.map((g) => g.name))
      got.grads.forEach((g, i) => expect(relativeError(g.values, ref.grads[i].values), g.name).toBeLessThan(1e-4))
    })
  }

  // wasm 4.22's own MaxPoolGrad is wrong (2.3 max error here): Grad-CAM, saliency and training
  // through max-pooling went wrong on wasm. Tiled windows (LeNet's 2/2), overlapping ones (AlexNet's
  // 3/2) and windows with gaps between them now route like cpu.
  const poolCases: { shape: [number, number, number, number]; pool: number; stride: number }[] = [
    { shape: [2, 28, 28, 6], pool: 2, stride: 2 },
    { shape: [2, 13, 13, 3], pool: 2, stride: 2 },
    { shape: [1, 10, 10, 16], pool: 2, stride: 2 },
    { shape: [2, 27, 27, 4], pool: 3, stride: 2 },
    { shape: [1, 13, 13, 5], pool: 3, stride: 2 },
    { shape: [2, 11, 11, 2], pool: 2, stride: 3 }
  ]
  for (const { shape, pool, stride } of poolCases) {
    it(`max-pool ${pool}/${stride} input gradient on [${shape.join(', ')}] equals the cpu backend's, ties after a ReLU included`, async () => {
      const out = (size: number) => Math.floor((size - pool) / stride) + 1
      const dyShape: [number, number, number, number] = [shape[0], out(shape[1]), out(shape[2]), shape[3]]
      const grad = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(seeded(shape.reduce((a, b) => a * b), 5), shape)
          const dy = tf.tensor4d(seeded(dyShape.reduce((a, b) => a * b), 6), dyShape)
          const plain = tf.grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, pool, stride, 'valid').mul(dy).sum())(x).dataSync() as Float32Array
          const afterRelu = tf.grad((t: tf.Tensor) => tf.maxPool(tf.relu(t) as tf.Tensor4D, pool, stride, 'valid').mul(dy).sum())(x).dataSync() as Float32Array
          return { plain, afterRelu }
        })
      await tf.setBackend('cpu')
      const ref = grad()
      await tf.setBackend('wasm')
      const before = tf.memory().numTensors
      const got = grad()
      expect(tf.memory().numTensors).toBe(before)
      expect(relativeError(got.plain, ref.plain)).toBeLessThan(1e-6)
      expect(relativeError(got.afterRelu, ref.afterRelu)).toBeLessThan(1e-6)
    })
  }

  it('a LeNet-style net trains on wasm: the loss falls and no tensor leaks', async () => {
    await tf.setBackend('wasm')
    // Seeded initialisers: with tfjs's unseeded defaults one start in a few dozen
    // fell short of halving the loss in 30 steps (CI saw 0.60 against 0.58).
    const init = (seed: number) => tf.initializers.glorotUniform({ seed })
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 5, padding: 'same', activation: 'sigmoid', kernelInitializer: init(1) }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, kernelInitializer: init(3) })
      ]
    })
    const optimizer = tf.train.adam(0.01)
    // Class k has ink in horizontal band k, plus noise: learnable in a few steps.
    const labels = Array.from({ length: 12 }, (_, i) => i % 3)
    const noise = seeded(12 * 12 * 12, 5)
    const pixels = noise.map((v, i) => {
      const row = Math.floor(i / 12) % 12
      return 0.2 * v + (Math.floor(row / 4) === labels[Math.floor(i / 144)] ? 1 : 0)
    })
    const x = tf.tensor4d(pixels, [12, 12, 12, 1])
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3)
    const step = (): number => tf.tidy(() => {
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)
      return (loss as tf.Scalar).dataSync()[0]
    })
    const first = step()
    const before = tf.memory().numTensors
    let last = first
    for (let i = 0; i < 40; i++) last = step()
    expect(tf.memory().numTensors).toBe(before)
    expect(last).toBeLessThan(first * 0.5)
    model.dispose()
    optimizer.dispose()
    tf.dispose([x, y])
  })
})
