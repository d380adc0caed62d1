// Parity before trust: every layer type's forward pass and gradients (of the weights and of the
// input) on tfjs-backend-webgpu against the cpu backend, in this browser. A tiny model per layer
// type, the cpu weights copied onto the GPU model, the same input and labels; the test reads the
// largest differences relative to the cpu values' scale (test/e2e/webgpu.test.ts).
import * as tf from '@tensorflow/tfjs'
import { buildModel } from '../core/models/build'
import type { LayerSpec, LayerType, ModelSpec } from '../shared/schemas'

export interface LayerParity {
  layer: LayerType
  /** max |gpu - cpu| / max(1e-6, max |cpu|), over the output. */
  forward: number
  /** The same over every weight gradient and the input gradient (the worst one). */
  gradients: number
  /** How many gradient tensors were compared (weights + the input). */
  compared: number
  /** The gradient with the largest difference: a weight's name, or 'input'. */
  worst: string
  error: string | null
}

/** One small network per layer type, the layer under test where its input shape suits it. */
export const paritySpecs: Record<LayerType, LayerSpec[]> = {
  conv2d: [{ type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 2, padding: 1 }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }],
  avgPool2d: [{ type: 'conv2d', outChannels: 3, kernelSize: 3, stride: 1, padding: 1 }, { type: 'avgPool2d', kernelSize: 2, stride: 2 }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }],
  maxPool2d: [{ type: 'conv2d', outChannels: 3, kernelSize: 3, stride: 1, padding: 1 }, { type: 'maxPool2d', kernelSize: 3, stride: 2 }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }],
  batchNorm2d: [{ type: 'conv2d', outChannels: 3, kernelSize: 3, stride: 1, padding: 0 }, { type: 'batchNorm2d' }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }],
  batchNorm1d: [{ type: 'flatten' }, { type: 'linear', outFeatures: 12 }, { type: 'batchNorm1d' }, { type: 'linear', outFeatures: 10 }],
  sigmoid: [{ type: 'flatten' }, { type: 'linear', outFeatures: 16 }, { type: 'sigmoid' }, { type: 'linear', outFeatures: 10 }],
  relu: [{ type: 'flatten' }, { type: 'linear', outFeatures: 16 }, { type: 'relu' }, { type: 'linear', outFeatures: 10 }],
  tanh: [{ type: 'flatten' }, { type: 'linear', outFeatures: 16 }, { type: 'tanh' }, { type: 'linear', outFeatures: 10 }],
  leakyRelu: [{ type: 'flatten' }, { type: 'linear', outFeatures: 16 }, { type: 'leakyRelu', negativeSlope: 0.1 }, { type: 'linear', outFeatures: 10 }],
  flatten: [{ type: 'flatten' }, { type: 'linear', outFeatures: 10 }],
  linear: [{ type: 'flatten' }, { type: 'linear', outFeatures: 10 }],
  dropout: [{ type: 'flatten' }, { type: 'linear', outFeatures: 16 }, { type: 'dropout', p: 0.5 }, { type: 'linear', outFeatures: 10 }]
}

interface Side {
  out: Float32Array
  grads: Float32Array[]
  names: string[]
}

const BATCH = 6

function inputs(): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(BATCH * 8 * 8)
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 101) / 100
  return { x, y: Int32Array.from({ length: BATCH }, (_, i) => (i * 3) % 10) }
}

async function side(backend: string, spec: ModelSpec, weights: Float32Array[] | null): Promise<{ side: Side; weights: Float32Array[] }> {
  await tf.setBackend(backend)
  const model = buildModel(spec, { init: 'xavier', seed: 7 })
  try {
    if (weights) model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)))
    // Async reads only: tfjs-backend-webgpu's dataSync goes through an OffscreenCanvas copy that
    // reads back zeros on some adapters (SwiftShader among them).
    const all = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array))
    const { x, y } = inputs()
    const xt = tf.tensor4d(x, [BATCH, 8, 8, 1])
    const labels = tf.oneHot(tf.tensor1d(y, 'int32'), 10)
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable)
    const loss = (input: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, model.apply(input, { training: true }) as tf.Tensor) as tf.Scalar
    const outT = model.apply(xt, { training: true }) as tf.Tensor
    const out = (await outT.data()) as Float32Array
    outT.dispose()
    const { grads } = tf.variableGrads(() => loss(xt), vars)
    const dx = tf.grad((input: tf.Tensor) => loss(input))(xt)
    const gradArrays = (await Promise.all([...vars.map((v) => grads[v.name].data()), dx.data()])) as Float32Array[]
    tf.dispose([xt, labels, dx, ...Object.values(grads)])
    const names = [...vars.map((v) => v.name.replace(/_\d+$/, '')), 'input']
    return { side: { out: Float32Array.from(out), grads: gradArrays.map((g) => Float32Array.from(g)), names }, weights: all.map((w) => Float32Array.from(w)) }
  } finally {
    model.dispose()
  }
}

/**
 * max |a - b| over the larger of a's own scale and `floor`. The floor matters for gradients that
 * are zero in exact arithmetic (a bias right before batch norm: the normalisation removes it), where
 * both backends return rounding noise and noise over noise means nothing.
 */
function relDiff(a: Float32Array, b: Float32Array, floor = 1e-6): number {
  let scale = floor
  let diff = 0
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]))
    diff = Math.max(diff, Math.abs(a[i] - b[i]))
  }
  return a.length === b.length ? diff / scale : Infinity
}

export async function layerParity(): Promise<LayerParity[]> {
  const results: LayerParity[] = []
  for (const [layer, layers] of Object.entries(paritySpecs) as [LayerType, LayerSpec[]][]) {
    const spec: ModelSpec = { name: `parity-${layer}`, inputSize: 8, inputChannels: 1, numClasses: 10, layers }
    try {
      const cpu = await side('cpu', spec, null)
      const gpu = await side('webgpu', spec, cpu.weights)
      // Gradients are compared on 1% of the model's largest gradient at least (see relDiff).
      const gradScale = Math.max(...cpu.side.grads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)))
      const diffs = cpu.side.grads.map((g, i) => relDiff(g, gpu.side.grads[i] ?? new Float32Array(), 1e-2 * gradScale))
      const worst = diffs.indexOf(Math.max(...diffs))
      results.push({
        layer,
        forward: relDiff(cpu.side.out, gpu.side.out),
        gradients: diffs[worst],
        compared: cpu.side.grads.length,
        worst: cpu.side.names[worst],
        error: gpu.side.grads.length === cpu.side.grads.length ? null : 'different gradient counts'
      })
    } catch (err) {
      results.push({ layer, forward: Infinity, gradients: Infinity, compared: 0, worst: '', error: (err as Error)?.message || String(err) })
    }
  }
  await tf.setBackend('webgpu')
  return results
}
