// ModelSpec -> tf.LayersModel. Inside tfjs images are NHWC (the layout every tfjs backend is
// fastest in); shapes and parameter counts equal PyTorch's NCHW network layer for layer.
//
// Differences from PyTorch that do not change what the network computes:
//  * Padding: PyTorch pads symmetrically. Where TensorFlow's 'same' padding is the same thing
//    (stride 1, padding = (k-1)/2) we use it; otherwise an explicit zeroPadding2d layer precedes the
//    convolution.
//  * Flatten runs over H, W, C instead of C, H, W: the features are the same, in another order, which
//    matters only when importing PyTorch weights (not supported).
//  * BatchNorm: PyTorch's momentum 0.1 is Keras' momentum 0.9; epsilon 1e-5 as PyTorch.
//
// Initialisation (seeded, so the same seed on the same backend gives the same weights):
//  * 'xavier' is d2l's init_weights: xavier_uniform_ on Linear and Conv2d weights; biases keep
//    PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
//  * 'default' is PyTorch's default for both (kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in))).
import * as tf from '@tensorflow/tfjs'
import type { ModelSpec } from '../../shared/schemas'
import { inferLayers, ModelSpecError } from './spec'

export interface BuildOptions {
  /** 'zeros' is for a model whose weights are set right after (an import): no random draw. */
  init: 'xavier' | 'default' | 'zeros'
  seed: number
}

/**
 * Dropout whose mask is drawn from a seeded stream: tfjs' own Dropout reuses one fixed seed (the
 * same mask at every step) or, unseeded, Math.random (no reproducible runs).
 */
export class SeededDropout extends tf.layers.Layer {
  static className = 'SeededDropout'
  readonly rate: number
  readonly seed: number
  private calls = 0

  constructor(args: { rate: number; seed: number; name?: string }) {
    super({ name: args.name })
    this.rate = args.rate
    this.seed = args.seed
    this.supportsMasking = true
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs
    if (kwargs['training'] !== true || this.rate <= 0) return tf.clone(x)
    return tf.tidy(() => tf.mul(x, this.nextMask(x.shape)))
  }

  /**
   * The next training step's scaled keep-mask (0 or 1/(1-rate)) for an input of `shape`; advances
   * the stream. The trainer's hand-written step uses it so that it drops exactly what call() would.
   */
  nextMask(shape: number[]): tf.Tensor {
    const seed = (this.seed + 9973 * this.calls++) % 2147483647
    return tf.tidy(() => {
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', seed), this.rate), 'float32')
      return tf.mul(keep, 1 / (1 - this.rate))
    })
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed }
  }
}
tf.serialization.registerClass(SeededDropout)

type Initializer = ReturnType<typeof tf.initializers.glorotUniform>

function layerSeed(seed: number, index: number, slot: number): number {
  return (seed * 7919 + index * 31 + slot * 7 + 1) % 2147483647
}

export function buildModel(spec: ModelSpec, opts: BuildOptions): tf.LayersModel {
  const infos = inferLayers(spec)
  const input = tf.input({ shape: [spec.inputSize, spec.inputSize, spec.inputChannels], name: 'image' })
  let x = input as tf.SymbolicTensor
  for (const info of infos) {
    const { layer, index, inputShape } = info
    const name = `${info.className.toLowerCase()}_${index + 1}`
    const apply = (l: tf.layers.Layer): void => {
      x = l.apply(x) as tf.SymbolicTensor
    }
    switch (layer.type) {
      case 'conv2d': {
        const fanIn = inputShape[0] * layer.kernelSize * layer.kernelSize
        const same = layer.stride === 1 && layer.kernelSize % 2 === 1 && layer.padding * 2 === layer.kernelSize - 1
        if (layer.padding > 0 && !same) apply(tf.layers.zeroPadding2d({ padding: layer.padding, name: `${name}_pad` }))
        apply(
          tf.layers.conv2d({
            name,
            filters: layer.outChannels,
            kernelSize: layer.kernelSize,
            strides: layer.stride,
            padding: same ? 'same' : 'valid',
            kernelInitializer: weightInit(opts, fanIn, layerSeed(opts.seed, index, 0)),
            biasInitializer: biasInit(opts, fanIn, layerSeed(opts.seed, index, 1))
          })
        )
        break
      }
      case 'linear': {
        const fanIn = inputShape[0]
        apply(
          tf.layers.dense({
            name,
            units: layer.outFeatures,
            kernelInitializer: weightInit(opts, fanIn, layerSeed(opts.seed, index, 0)),
            biasInitializer: biasInit(opts, fanIn, layerSeed(opts.seed, index, 1))
          })
        )
        break
      }
      case 'avgPool2d':
        apply(tf.layers.averagePooling2d({ name, poolSize: layer.kernelSize, strides: layer.stride, padding: 'valid' }))
        break
      case 'maxPool2d':
        apply(tf.layers.maxPooling2d({ name, poolSize: layer.kernelSize, strides: layer.stride, padding: 'valid' }))
        break
      case 'batchNorm2d':
      case 'batchNorm1d':
        apply(tf.layers.batchNormalization({ name, axis: -1, momentum: 0.9, epsilon: 1e-5 }))
        break
      case 'sigmoid':
      case 'relu':
      case 'tanh':
        apply(tf.layers.activation({ name, activation: layer.type }))
        break
      case 'leakyRelu':
        apply(tf.layers.leakyReLU({ name, alpha: layer.negativeSlope }))
        break
      case 'flatten':
        apply(tf.layers.flatten({ name }))
        break
      case 'dropout':
        apply(new SeededDropout({ name, rate: layer.p, seed: layerSeed(opts.seed, index, 2) }))
        break
    }
  }
  const model = tf.model({ inputs: input, outputs: x, name: spec.name.replace(/[^A-Za-z0-9_]/g, '_') })
  const expected = infos.reduce((s, l) => s + l.params, 0)
  const trainable = model.trainableWeights.reduce((s, w) => s + w.shape.reduce<number>((p, d) => p * (d ?? 1), 1), 0)
  if (trainable !== expected) {
    model.dispose()
    throw new ModelSpecError(`built model has ${trainable} trainable parameters, the spec ${expected}`, null)
  }
  return model
}

function weightInit(opts: BuildOptions, fanIn: number, seed: number): Initializer {
  if (opts.init === 'zeros') return tf.initializers.zeros()
  if (opts.init === 'xavier') return tf.initializers.glorotUniform({ seed })
  const bound = 1 / Math.sqrt(fanIn)
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed })
}

function biasInit(opts: BuildOptions, fanIn: number, seed: number): Initializer {
  if (opts.init === 'zeros') return tf.initializers.zeros()
  const bound = 1 / Math.sqrt(fanIn)
  return tf.initializers.randomUniform({ minval: -bound, maxval: bound, seed })
}
