// One training step (forward, gradients, optimizer update) of a built model, in one of three ways:
//
//  * 'explicit': forward and a hand-written backward, layer by layer, with no gradient tape. Used when
//    every layer of the model is of a type it knows (conv2d + its zero padding, linear, average/max
//    pooling, sigmoid, relu, tanh, leaky relu, flatten, dropout) and the backend has the gradient
//    kernels. It computes no gradient nobody needs (the first convolution's input gradient, which
//    tfjs-layers' fused conv2d always computes: the largest single cost of a LeNet-5 step), runs
//    each gradient as one kernel (SigmoidGrad, AvgPoolGrad, ...) and, on the native backend, uses
//    TensorFlow ops tfjs does not reach (BiasAdd, SigmoidGrad, 2-D MatMul, the fused softmax
//    cross-entropy). See ../../../../shared/reviews/lenet-profile.md for the measurements.
//  * 'tape': tfjs' gradient tape over the model's layers, with the cheap levers applied (plain conv2d
//    + bias add with a two-stage bias gradient, so the tape can skip unneeded input gradients; on
//    the native backend one SigmoidGrad op and one fused softmax cross-entropy op). Any layer without
//    a lever (batch norm) runs its own call(). The fallback for models 'explicit' does not cover.
//  * 'reference': the step as the trainer did it before, model.apply under optimizer.minimize; kept
//    as the measure the other two are tested against.
//
// All three compute the same loss (weight decay included) and the same gradients up to float
// rounding, and leave the optimizer update to the tfjs optimizer (SGD, momentum, Adam alike).
import * as tf from '@tensorflow/tfjs'
import { SeededDropout } from '../models/build'

export type StepKind = 'explicit' | 'tape' | 'reference'

export interface StepOptions {
  numClasses: number
  weightDecay: number
  /** 'auto' (default): 'explicit' where it covers the model and backend, else 'tape'. */
  kind?: StepKind | 'auto'
}

export interface StepOutput {
  loss: tf.Scalar
  /** Number of examples whose arg-max prediction equals the label (float32 scalar). */
  correct: tf.Scalar
}

export interface TrainStep {
  readonly kind: StepKind
  /** Why 'explicit' was not used (null when it is, or when another kind was asked for). */
  readonly fallbackReason: string | null
  /** One optimizer step on the batch. Call inside tf.tidy: the outputs belong to the caller's scope. */
  run(x: tf.Tensor4D, labels: tf.Tensor1D): StepOutput
  /** The loss and the gradient per trainable variable name, nothing applied (tests compare kinds with it). */
  gradients(x: tf.Tensor4D, labels: tf.Tensor1D): { loss: tf.Scalar; grads: tf.NamedTensorMap }
}

// ---------------------------------------------------------------------------------------------
// Native TensorFlow ops that tfjs' kernels do not reach, through tfjs-node's backend.

interface NodeBackend {
  binding: Record<string, number>
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.Tensor[]): tf.Tensor
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.Tensor[], count: number): tf.Tensor[]
}

interface NativeOps {
  biasAdd(x: tf.Tensor, b: tf.Tensor): tf.Tensor
  /** dy * y * (1 - y) as one op. */
  sigmoidGrad(y: tf.Tensor, dy: tf.Tensor): tf.Tensor
  /** dy * (x > 0) as one op; `features` may be the relu's output (positive exactly where its input is). */
  reluGrad(dy: tf.Tensor, features: tf.Tensor): tf.Tensor
  /** dy * (1 - y^2) as one op. */
  tanhGrad(y: tf.Tensor, dy: tf.Tensor): tf.Tensor
  /** 2-D MatMul (tfjs-node runs every matMul as a slower BatchMatMulV2 on rank-3 reshapes). */
  matMul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor
  /** Per-example loss and d(loss)/d(logits) of softmax cross-entropy, in one op. */
  softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor): [tf.Tensor, tf.Tensor]
}

function nativeOps(): NativeOps | null {
  if (tf.getBackend() !== 'tensorflow') return null
  const be = tf.backend() as unknown as Partial<NodeBackend>
  if (typeof be.executeSingleOutput !== 'function' || typeof be.executeMultipleOutputs !== 'function' || !be.binding) return null
  const node = be as NodeBackend
  const b = node.binding
  const T = { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT }
  const bool = (name: string, value: boolean) => ({ name, type: b.TF_ATTR_BOOL, value })
  const nhwc = { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' }
  const one = (name: string, attrs: unknown[], inputs: tf.Tensor[]) => node.executeSingleOutput(name, attrs, inputs)
  return {
    biasAdd: (x, bias) => one('BiasAdd', [T, nhwc], [x, bias]),
    sigmoidGrad: (y, dy) => one('SigmoidGrad', [T], [y, dy]),
    reluGrad: (dy, features) => one('ReluGrad', [T], [dy, features]),
    tanhGrad: (y, dy) => one('TanhGrad', [T], [y, dy]),
    matMul: (x, w, ta, tb) => one('MatMul', [T, bool('transpose_a', ta), bool('transpose_b', tb)], [x, w]),
    softmaxCrossEntropy: (logits, labels) => {
      const [loss, backprop] = node.executeMultipleOutputs('SoftmaxCrossEntropyWithLogits', [T], [logits, labels], 2)
      return [loss, backprop]
    }
  }
}

/** Bias gradient of an NHWC map: summed over N first, then over H*W (a 3-axis Sum is ~4x slower). */
function mapBiasGrad(dy: tf.Tensor): tf.Tensor {
  const [n, h, w, c] = dy.shape
  return tf.sum(tf.reshape(tf.sum(tf.reshape(dy, [n, h * w * c]), 0), [h * w, c]), 0)
}

// ---------------------------------------------------------------------------------------------
// 'explicit': one stage per layer, each with a forward and a backward.

interface Stage {
  /** The stage's trainable variables, in the layer's weight order. */
  vars: tf.Variable[]
  /** Kernel names the stage needs on the backend (checked before the explicit step is chosen). */
  kernels: string[]
  forward(x: tf.Tensor): { y: tf.Tensor; saved: tf.Tensor[] }
  /** Gradients of the stage's vars (same order), and of its input when `needDx`. */
  backward(dy: tf.Tensor, saved: tf.Tensor[], needDx: boolean): { dx: tf.Tensor | null; grads: tf.Tensor[] }
}

type LayerConfig = Record<string, unknown>
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)])
const run1 = (name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor

class Unsupported extends Error {}

function stageFor(layer: tf.layers.Layer, native: NativeOps | null): Stage | null {
  const cls = layer.getClassName()
  const cfg = layer.getConfig() as LayerConfig
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable)
  const channelsLast = cfg.dataFormat === undefined || cfg.dataFormat === 'channelsLast'
  if (!channelsLast) throw new Unsupported(`${layer.name}: channels-first data format`)
  switch (cls) {
    case 'InputLayer':
      return null
    case 'Conv2D': {
      if (cfg.activation !== 'linear' || cfg.useBias !== true || vars.length !== 2) throw new Unsupported(`${layer.name}: conv with activation or without bias`)
      if (pair(cfg.dilationRate).some((d) => d !== 1)) throw new Unsupported(`${layer.name}: dilated conv`)
      const strides = pair(cfg.strides)
      const pad = cfg.padding as 'same' | 'valid'
      const [kernel, bias] = vars
      const filterShape = kernel.shape as [number, number, number, number]
      const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined }
      return {
        vars,
        kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
        forward: (x) => {
          const z = run1('Conv2D', { x, filter: kernel }, attrs)
          return { y: native ? native.biasAdd(z, bias) : tf.add(z, bias), saved: [x] }
        },
        backward: (dy, [x], needDx) => ({
          grads: [run1('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }), mapBiasGrad(dy)],
          dx: needDx ? run1('Conv2DBackpropInput', { dy, filter: kernel }, { ...attrs, inputShape: x.shape }) : null
        })
      }
    }
    case 'ZeroPadding2D': {
      const [[top, bottom], [left, right]] = cfg.padding as [[number, number], [number, number]]
      return {
        vars,
        kernels: ['PadV2', 'Slice'],
        forward: (x) => ({ y: tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]), saved: [x] }),
        backward: (dy, [x], needDx) => ({
          grads: [],
          dx: needDx ? tf.slice(dy, [0, top, left, 0], x.shape) : null
        })
      }
    }
    case 'Dense': {
      if (cfg.activation !== 'linear' || cfg.useBias !== true || vars.length !== 2) throw new Unsupported(`${layer.name}: dense with activation or without bias`)
      const [kernel, bias] = vars
      const mm = native ? native.matMul : (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb)
      return {
        vars,
        kernels: [],
        forward: (x) => {
          if (x.rank !== 2) throw new Unsupported(`${layer.name}: dense on a rank-${x.rank} input`)
          const z = mm(x, kernel, false, false)
          return { y: native ? native.biasAdd(z, bias) : tf.add(z, bias), saved: [x] }
        },
        backward: (dy, [x], needDx) => ({
          grads: [mm(x, dy, true, false), tf.sum(dy, 0)],
          dx: needDx ? mm(dy, kernel, false, true) : null
        })
      }
    }
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      const max = cls === 'MaxPooling2D'
      const attrs = { filterSize: pair(cfg.poolSize), strides: pair(cfg.strides ?? cfg.poolSize), pad: cfg.padding as 'same' | 'valid', dimRoundingMode: undefined }
      return {
        vars,
        kernels: max ? ['MaxPool', 'MaxPoolGrad'] : ['AvgPool', 'AvgPoolGrad'],
        forward: (x) => {
          const y = run1(max ? 'MaxPool' : 'AvgPool', { x }, attrs)
          return { y, saved: max ? [x, y] : [x] }
        },
        backward: (dy, [x, y], needDx) => ({
          grads: [],
          dx: !needDx ? null : max ? run1('MaxPoolGrad', { dy, input: x, output: y }, attrs) : run1('AvgPoolGrad', { dy, input: x }, attrs)
        })
      }
    }
    case 'Activation': {
      const act = cfg.activation
      if (act === 'sigmoid') {
        return {
          vars,
          kernels: ['Sigmoid'],
          forward: (x) => {
            const y = tf.sigmoid(x)
            return { y, saved: [y] }
          },
          // tfjs' own Sigmoid gradient is dy * (y * (1 - y)): the same arithmetic.
          backward: (dy, [y], needDx) => ({ grads: [], dx: !needDx ? null : native ? native.sigmoidGrad(y, dy) : tf.mul(dy, tf.mul(y, tf.sub(1, y))) })
        }
      }
      if (act === 'relu') {
        return {
          vars,
          kernels: ['Relu'],
          forward: (x) => {
            const y = tf.relu(x)
            return { y, saved: [y] }
          },
          backward: (dy, [y], needDx) => ({ grads: [], dx: !needDx ? null : native ? native.reluGrad(dy, y) : tf.mul(dy, tf.step(y)) })
        }
      }
      if (act === 'tanh') {
        return {
          vars,
          kernels: ['Tanh'],
          forward: (x) => {
            const y = tf.tanh(x)
            return { y, saved: [y] }
          },
          backward: (dy, [y], needDx) => ({ grads: [], dx: !needDx ? null : native ? native.tanhGrad(y, dy) : tf.mul(tf.sub(1, tf.square(y)), dy) })
        }
      }
      throw new Unsupported(`${layer.name}: activation '${String(act)}'`)
    }
    case 'LeakyReLU': {
      const alpha = Number(cfg.alpha)
      return {
        vars,
        kernels: ['LeakyRelu'],
        forward: (x) => ({ y: tf.leakyRelu(x, alpha), saved: [x] }),
        // As tfjs' LeakyRelu gradient: where(x > 0, dy, dy * alpha).
        backward: (dy, [x], needDx) => ({ grads: [], dx: needDx ? tf.where(tf.greater(x, 0), dy, tf.mul(dy, alpha)) : null })
      }
    }
    case 'Flatten':
      return {
        vars,
        kernels: [],
        forward: (x) => ({ y: tf.reshape(x, [x.shape[0], -1]), saved: [x] }),
        backward: (dy, [x], needDx) => ({ grads: [], dx: needDx ? tf.reshape(dy, x.shape) : null })
      }
    case SeededDropout.className: {
      const drop = layer as SeededDropout
      if (drop.rate <= 0) return null
      return {
        vars,
        kernels: [],
        forward: (x) => {
          const mask = drop.nextMask(x.shape)
          return { y: tf.mul(x, mask), saved: [mask] }
        },
        backward: (dy, [mask], needDx) => ({ grads: [], dx: needDx ? tf.mul(dy, mask) : null })
      }
    }
    default:
      throw new Unsupported(`layer type ${cls} (${layer.name})`)
  }
}

/** The explicit stages of the model, or why it cannot have them. */
function explicitStages(model: tf.LayersModel, native: NativeOps | null): Stage[] | string {
  const stages: Stage[] = []
  try {
    for (const layer of model.layers) {
      const stage = stageFor(layer, native)
      if (stage) stages.push(stage)
    }
  } catch (error) {
    if (error instanceof Unsupported) return error.message
    throw error
  }
  const backend = tf.getBackend()
  const missing = [...new Set(stages.flatMap((s) => s.kernels))].filter((k) => !tf.getKernel(k, backend))
  if (missing.length > 0) return `backend ${backend} lacks ${missing.join(', ')}`
  const covered = stages.reduce((n, s) => n + s.vars.length, 0)
  if (covered !== model.trainableWeights.length) return `${model.trainableWeights.length - covered} trainable weights outside the known layers`
  return stages
}

// ---------------------------------------------------------------------------------------------

/** Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits. */
function lossAndGrad(logits: tf.Tensor2D, onehot: tf.Tensor2D, native: NativeOps | null): { loss: tf.Scalar; dlogits: tf.Tensor } {
  const n = logits.shape[0]
  if (native) {
    const [perExample, backprop] = native.softmaxCrossEntropy(logits, onehot)
    return { loss: tf.mean(perExample) as tf.Scalar, dlogits: tf.mul(backprop, 1 / n) }
  }
  const logp = tf.logSoftmax(logits)
  const loss = tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar
  return { loss, dlogits: tf.div(tf.sub(tf.exp(logp), onehot), n) }
}

function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar
}

/** Weight decay as the loss term wd/2 * sum(w^2) over every trainable weight (kernels and biases). */
function decayTerm(vars: tf.Variable[], weightDecay: number): tf.Scalar {
  return tf.mul(tf.addN(vars.map((w) => tf.sum(tf.square(w)))), weightDecay / 2) as tf.Scalar
}

export function makeTrainStep(model: tf.LayersModel, optimizer: tf.Optimizer, options: StepOptions): TrainStep {
  const { numClasses, weightDecay } = options
  const wanted = options.kind ?? 'auto'
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable)
  const native = nativeOps()

  // Today's step, unchanged.
  const referenceLoss = (x: tf.Tensor4D, labels: tf.Tensor1D, onLogits: (l: tf.Tensor2D) => void): tf.Scalar => {
    const logits = model.apply(x, { training: true }) as tf.Tensor2D
    onLogits(logits)
    const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), logits) as tf.Scalar
    return weightDecay === 0 ? ce : (tf.add(ce, decayTerm(trainable, weightDecay)) as tf.Scalar)
  }

  // The tape with levers.
  const biasAdd = tf.customGrad(((x: tf.Tensor, b: tf.Tensor) => ({
    value: native ? native.biasAdd(x, b) : tf.add(x, b),
    gradFunc: (dy: tf.Tensor) => [dy, dy.rank === 4 ? mapBiasGrad(dy) : tf.sum(dy, 0)]
  })) as never) as (x: tf.Tensor, b: tf.Tensor) => tf.Tensor
  const sigmoid = native
    ? (tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
        const y = tf.sigmoid(x)
        save([y])
        return { value: y, gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => native.sigmoidGrad(saved, dy) }
      }) as never) as (x: tf.Tensor) => tf.Tensor)
    : null
  const tapeForward = (x: tf.Tensor): tf.Tensor => {
    let h = x
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue
      const cfg = layer.getConfig() as LayerConfig
      const plainConv = layer.getClassName() === 'Conv2D' && cfg.activation === 'linear' && cfg.useBias === true && (cfg.dataFormat ?? 'channelsLast') === 'channelsLast'
      if (plainConv && pair(cfg.dilationRate).every((d) => d === 1)) {
        const [kernel, bias] = layer.trainableWeights.map((w) => w.read())
        h = biasAdd(tf.conv2d(h as tf.Tensor4D, kernel as tf.Tensor4D, pair(cfg.strides), cfg.padding as 'same' | 'valid'), bias)
      } else if (sigmoid && layer.getClassName() === 'Activation' && cfg.activation === 'sigmoid') {
        h = sigmoid(h)
      } else {
        h = layer.apply(h, { training: true }) as tf.Tensor
      }
    }
    return h
  }
  const fusedCE = native
    ? (tf.customGrad(((logits: tf.Tensor, onehot: tf.Tensor, save: tf.GradSaveFunc) => {
        const [perExample, backprop] = native.softmaxCrossEntropy(logits, onehot)
        save([backprop])
        const labelShape = onehot.shape
        return {
          value: tf.mean(perExample),
          // The labels are no variable; their zero gradient is never used (and `onehot` may be freed by then).
          gradFunc: (dy: tf.Tensor, [bp]: tf.Tensor[]) => [tf.mul(bp, tf.div(dy, logits.shape[0])), tf.zeros(labelShape)]
        }
      }) as never) as (logits: tf.Tensor, onehot: tf.Tensor) => tf.Scalar)
    : null
  const tapeLoss = (x: tf.Tensor4D, labels: tf.Tensor1D, onLogits: (l: tf.Tensor2D) => void): tf.Scalar => {
    const logits = tapeForward(x) as tf.Tensor2D
    onLogits(logits)
    const onehot = tf.oneHot(labels, numClasses)
    const ce = fusedCE ? fusedCE(logits, tf.cast(onehot, 'float32')) : (tf.losses.softmaxCrossEntropy(onehot, logits) as tf.Scalar)
    return weightDecay === 0 ? ce : (tf.add(ce, decayTerm(trainable, weightDecay)) as tf.Scalar)
  }

  const tapeStep = (kind: 'tape' | 'reference', fallbackReason: string | null): TrainStep => {
    const lossOf = kind === 'tape' ? tapeLoss : referenceLoss
    return {
      kind,
      fallbackReason,
      run: (x, labels) => {
        let correct: tf.Scalar | null = null
        const loss = optimizer.minimize(() => lossOf(x, labels, (logits) => void (correct = tf.keep(countCorrect(logits, labels)))), true, trainable) as tf.Scalar
        const kept = correct as unknown as tf.Scalar
        // tf.keep let it out of minimize()'s scope; hand it to the caller's scope instead.
        const out = tf.clone(kept) as tf.Scalar
        kept.dispose()
        return { loss, correct: out }
      },
      gradients: (x, labels) => {
        const { value, grads } = tf.variableGrads(() => lossOf(x, labels, () => undefined), trainable)
        return { loss: value, grads }
      }
    }
  }

  if (wanted === 'reference') return tapeStep('reference', null)
  const stages = wanted === 'tape' ? 'the tape was asked for' : explicitStages(model, native)
  if (typeof stages === 'string') return tapeStep('tape', wanted === 'tape' ? null : stages)

  // 'explicit'. needDx[i]: whether any stage before i has weights (else its input gradient is waste).
  const needDx = stages.map((_, i) => stages.slice(0, i).some((s) => s.vars.length > 0))
  const explicitGradients = (x: tf.Tensor4D, labels: tf.Tensor1D): { loss: tf.Scalar; logits: tf.Tensor2D; grads: tf.NamedTensorMap } => {
    const saved: tf.Tensor[][] = []
    let h: tf.Tensor = x
    for (const stage of stages) {
      const r = stage.forward(h)
      saved.push(r.saved)
      h = r.y
    }
    const logits = h as tf.Tensor2D
    const onehot = tf.cast(tf.oneHot(labels, numClasses), 'float32') as tf.Tensor2D
    const first = lossAndGrad(logits, onehot, native)
    let loss = first.loss
    const grads: tf.NamedTensorMap = {}
    let dy: tf.Tensor | null = first.dlogits
    for (let i = stages.length - 1; i >= 0 && dy !== null; i--) {
      const { dx, grads: g } = stages[i].backward(dy, saved[i], needDx[i])
      stages[i].vars.forEach((v, k) => (grads[v.name] = g[k]))
      dy = dx
    }
    if (weightDecay !== 0) {
      loss = tf.add(loss, decayTerm(trainable, weightDecay)) as tf.Scalar
      for (const v of trainable) grads[v.name] = tf.add(grads[v.name], tf.mul(v, weightDecay))
    }
    return { loss, logits, grads }
  }
  return {
    kind: 'explicit',
    fallbackReason: null,
    run: (x, labels) => {
      const { loss, logits, grads } = explicitGradients(x, labels)
      optimizer.applyGradients(grads)
      return { loss, correct: countCorrect(logits, labels) }
    },
    gradients: (x, labels) => {
      const { loss, grads } = explicitGradients(x, labels)
      return { loss, grads }
    }
  }
}
