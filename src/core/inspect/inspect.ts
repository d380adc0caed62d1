// What a network sees in one image: every layer's output (in summary order, PyTorch layout), the
// class scores, Grad-CAM and an input-gradient saliency map. Pure tfjs; runs in the model worker.
//
// The network is run layer by layer (the tfjs layers each spec layer was built into, by name), so
// one pass yields every intermediate output, and the tail after the Grad-CAM layer can be
// differentiated on its own.
//
// Definitions (test/fixtures/inspect/make_fixture.py computes the same in PyTorch):
//  * Grad-CAM (Selvaraju et al. 2017) on A = the output of the activation that follows the last
//    convolution (BatchNorm may sit between them; pooling may not): alpha_k = mean over (i, j) of
//    d logit_c / d A[k, i, j]; raw = relu(sum_k alpha_k A[k]) at A's resolution; upsampled = raw
//    resized bilinearly to the input (half-pixel centres, as PyTorch's align_corners=False). The
//    class score is the logit, not the softmax probability (the paper's choice: softmax gradients
//    mix in the other classes). Values are not normalised: a viewer scales them.
//  * Saliency (Simonyan et al. 2013): max over channels of |d logit_c / d input|.
import * as tf from '@tensorflow/tfjs'
import type { ModelSpec } from '../../shared/schemas'
import { inferLayers, type LayerInfo } from '../models/spec'

export interface Values {
  shape: number[]
  values: Float32Array
}

export interface Inspection {
  /** [C, H, W] */
  input: Values
  layers: (Values & { name: string })[]
  logits: Float32Array
  probabilities: Float32Array
  predicted: number
  gradcam: { layer: string; classIndex: number; raw: Values; upsampled: Values } | null
  saliency: Values
}

const activations = new Set(['sigmoid', 'relu', 'tanh', 'leakyRelu'])

/** The spec layer Grad-CAM reads: the activation after the last conv, else the conv (or its BatchNorm); null without a conv. */
export function gradCamLayerIndex(spec: ModelSpec): number | null {
  const layers = spec.layers
  let conv = -1
  layers.forEach((l, i) => {
    if (l.type === 'conv2d') conv = i
  })
  if (conv < 0) return null
  let at = conv
  for (let i = conv + 1; i < layers.length; i++) {
    const t = layers[i].type
    if (activations.has(t)) return i
    if (t === 'batchNorm2d') at = i
    else break
  }
  return at
}

/** The summary's name of a layer: Conv2d-1, Sigmoid-2, ... */
export function summaryName(info: LayerInfo): string {
  return `${info.className}-${info.index + 1}`
}

/** The tfjs layers each spec layer was built into (build.ts names them `<class>_<n>`, padding `<class>_<n>_pad`). */
function tfLayersBySpec(model: tf.LayersModel, infos: LayerInfo[]): tf.layers.Layer[][] {
  const byName = new Map(model.layers.map((l) => [l.name, l]))
  return infos.map((info) => {
    const name = `${info.className.toLowerCase()}_${info.index + 1}`
    const main = byName.get(name)
    if (!main) throw new Error(`the saved model has no layer '${name}' for ${summaryName(info)}; it was not built from this run's spec`)
    const pad = byName.get(`${name}_pad`)
    return pad ? [pad, main] : [main]
  })
}

function toValues(t: tf.Tensor, hwcFlat: [number, number, number] | null): Values {
  // NHWC -> C, H, W; a flat vector that is still in tfjs' H, W, C order (Flatten until the next
  // Linear) is put back into PyTorch's C, H, W order.
  return tf.tidy(() => {
    if (t.rank === 4) {
      const [, h, w, c] = t.shape
      return { shape: [c, h, w], values: tf.transpose(t, [0, 3, 1, 2]).dataSync() as Float32Array }
    }
    const f = t.shape[1] as number
    if (hwcFlat) {
      const [h, w, c] = hwcFlat
      return { shape: [f], values: tf.transpose(tf.reshape(t, [1, h, w, c]), [0, 3, 1, 2]).dataSync() as Float32Array }
    }
    return { shape: [f], values: Float32Array.from(t.dataSync()) }
  })
}

/**
 * Inspects one image. `x` is the network's input, [1, H, W, C] (toInputTensor's output); `classIndex`
 * picks the class Grad-CAM and saliency explain (default: the predicted one).
 */
export function inspectImage(model: tf.LayersModel, spec: ModelSpec, x: tf.Tensor4D, classIndex?: number): Inspection {
  if (x.shape[0] !== 1) throw new RangeError(`inspectImage takes one image, not ${x.shape[0]}`)
  if (classIndex !== undefined && (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= spec.numClasses))
    throw new RangeError(`class ${classIndex} does not exist: the network has ${spec.numClasses} classes (0 to ${spec.numClasses - 1})`)
  const infos = inferLayers(spec)
  const parts = tfLayersBySpec(model, infos)
  const run = (h: tf.Tensor, from: number, to: number): tf.Tensor => {
    for (let i = from; i < to; i++) for (const l of parts[i]) h = l.apply(h, { training: false }) as tf.Tensor
    return h
  }
  const camAt = gradCamLayerIndex(spec)

  // Forward, keeping every output.
  const outputs: tf.Tensor[] = []
  const layers: Inspection['layers'] = []
  let logitsT: tf.Tensor | null = null
  try {
    let h: tf.Tensor = x
    let hwcFlat: [number, number, number] | null = null
    infos.forEach((info, i) => {
      const before = h
      h = tf.tidy(() => run(before, i, i + 1))
      outputs.push(h)
      if (info.layer.type === 'flatten') {
        const [, hh, ww, cc] = before.shape
        hwcFlat = [hh, ww, cc]
      } else if (info.layer.type === 'linear') hwcFlat = null
      layers.push({ name: summaryName(info), ...toValues(h, hwcFlat) })
    })
    logitsT = h
    const logits = Float32Array.from(logitsT.dataSync())
    const probabilities = tf.tidy(() => tf.softmax(logitsT as tf.Tensor).dataSync() as Float32Array)
    let predicted = 0
    for (let k = 1; k < logits.length; k++) if (logits[k] > logits[predicted]) predicted = k
    const c = classIndex ?? predicted
    const score = (from: number) => (t: tf.Tensor) => tf.squeeze(tf.slice(run(t, from, infos.length), [0, c], [1, 1])) as tf.Scalar

    let gradcam: Inspection['gradcam'] = null
    if (camAt !== null) {
      const A = outputs[camAt]
      gradcam = tf.tidy(() => {
        const dA = tf.grad(score(camAt + 1))(A)
        const alpha = tf.mean(dA, [1, 2], true) // [1, 1, 1, K]
        const raw = tf.relu(tf.sum(tf.mul(A, alpha), 3, true)) as tf.Tensor4D // [1, h, w, 1]
        const up = tf.image.resizeBilinear(raw, [x.shape[1], x.shape[2]], false, true)
        return {
          layer: summaryName(infos[camAt]),
          classIndex: c,
          raw: { shape: [raw.shape[1], raw.shape[2]], values: raw.dataSync() as Float32Array },
          upsampled: { shape: [x.shape[1], x.shape[2]], values: up.dataSync() as Float32Array }
        }
      })
    }
    const saliency = tf.tidy(() => {
      const dx = tf.grad(score(0))(x)
      return { shape: [x.shape[1], x.shape[2]], values: tf.max(tf.abs(dx), 3).dataSync() as Float32Array }
    })
    return { input: toValues(x, null), layers, logits, probabilities, predicted, gradcam, saliency }
  } finally {
    tf.dispose(outputs)
  }
}
