// Loading saved weights and turning raw dataset bytes into the network's input, exactly as the
// trainer does (pixel / 255, bilinear resize with half-pixel centres like PIL when the network
// expects another size), so predictions after training see what training saw.
import * as tf from '@tensorflow/tfjs'
import type { ModelSpec, Normalize } from '../../shared/schemas'
import { normalizeBatch } from '../data/augment'
// Registers SeededDropout so models that use it deserialise.
import './build'

export async function modelFromArtifacts(a: tf.io.ModelArtifacts): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(a))
}

/** Artifacts (topology + weights) of a model, in memory. */
export async function modelToArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    })
  )
  if (saved === null) throw new Error('tfjs did not hand over the model artifacts')
  return saved
}

/**
 * [count, size, size, channels] float32 in [0, 1] (then (x - mean) / std when the run normalises);
 * size = spec.inputSize, channels = spec.inputChannels (images are HWC bytes, RGB interleaved).
 */
export function toInputTensor(images: Uint8Array, count: number, srcSize: number, spec: ModelSpec, normalize: Normalize | 'dataset' | null = null): tf.Tensor4D {
  const c = spec.inputChannels
  if (images.length < count * srcSize * srcSize * c) {
    throw new RangeError(`toInputTensor: ${images.length} bytes cannot hold ${count} images of ${srcSize}x${srcSize}x${c}`)
  }
  return tf.tidy(() => {
    const bytes = images.subarray(0, count * srcSize * srcSize * c)
    const x = tf.div(tf.tensor4d(Float32Array.from(bytes), [count, srcSize, srcSize, c]), 255) as tf.Tensor4D
    return resizeTo(normalizeBatch(x, normalize), spec.inputSize)
  })
}

/** Resizes an NHWC batch to size x size the way the trainer does; returns x itself when it fits. */
export function resizeTo(x: tf.Tensor4D, size: number): tf.Tensor4D {
  if (x.shape[1] === size && x.shape[2] === size) return x
  return tf.image.resizeBilinear(x, [size, size], false, true)
}
