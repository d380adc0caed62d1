// One training step (forward, gradients, optimizer update) of a built model, in one of three ways:
//
//  * 'explicit': forward and a hand-written backward, layer by layer, with no gradient tape. Used when
//    every layer of the model is of a type it knows (conv2d + its zero padding, linear, average/max
//    pooling, sigmoid, relu, tanh, leaky relu, flatten, dropout) and the backend has the gradient
//    kernels. It computes no gradient nobody needs (the first convolution's input gradient, which
//    tfjs-layers' fused conv2d always computes: the largest single cost of a LeNet-5 step) and runs
//    each gradient as one kernel (SigmoidGrad, AvgPoolGrad, ...). It is written once against
//    StepOps (step-ops.ts): tfjs kernels on every backend, TensorFlow ops straight through the
//    binding on the native one. See ../../../../shared/reviews/lenet-profile.md for the measurements.
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
import { nativeOps, nodeBackend, portableOps, type StepOps } from './step-ops'

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
  /** Frees the constants the step keeps between batches (the model and optimizer stay). */
  dispose(): void
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

class Unsupported extends Error {}

function stageFor(layer: tf.layers.Layer, ops: StepOps): Stage | null {
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
      const [kernel, bias] = vars
      const filterShape = kernel.shape
      const conv = ops.conv({ strides: pair(cfg.strides), pad: cfg.padding as 'same' | 'valid' })
      return {
        vars,
        kernels: ['Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'],
        forward: (x) => ({ y: ops.addBias(conv.forward(x, kernel), bias), saved: [x] }),
        backward: (dy, [x], needDx) => ({
          grads: [conv.filterGrad(x, dy, filterShape), ops.biasGrad(dy)],
          dx: needDx ? conv.inputGrad(dy, kernel, x.shape) : null
        })
      }
    }
    case 'ZeroPadding2D': {
      const padding = cfg.padding as [[number, number], [number, number]]
      const [[top], [left]] = padding
      return {
        vars,
        kernels: ['PadV2', 'Slice'],
        forward: (x) => ({ y: ops.pad(x, padding), saved: [x] }),
        backward: (dy, [x], needDx) => ({ grads: [], dx: needDx ? ops.slice(dy, [0, top, left, 0], x.shape) : null })
      }
    }
    case 'Dense': {
      if (cfg.activation !== 'linear' || cfg.useBias !== true || vars.length !== 2) throw new Unsupported(`${layer.name}: dense with activation or without bias`)
      const [kernel, bias] = vars
      return {
        vars,
        kernels: [],
        forward: (x) => {
          if (x.rank !== 2) throw new Unsupported(`${layer.name}: dense on a rank-${x.rank} input`)
          return { y: ops.addBias(ops.matMul(x, kernel, false, false), bias), saved: [x] }
        },
        backward: (dy, [x], needDx) => ({
          grads: [ops.matMul(x, dy, true, false), ops.biasGrad(dy)],
          dx: needDx ? ops.matMul(dy, kernel, false, true) : null
        })
      }
    }
    case 'AveragePooling2D':
    case 'MaxPooling2D': {
      const max = cls === 'MaxPooling2D'
      const pool = ops.pool({ filterSize: pair(cfg.poolSize), strides: pair(cfg.strides ?? cfg.poolSize), pad: cfg.padding as 'same' | 'valid' }, max)
      return {
        vars,
        kernels: max ? ['MaxPool', 'MaxPoolGrad'] : ['AvgPool', 'AvgPoolGrad'],
        forward: (x) => {
          const y = pool.forward(x)
          return { y, saved: [x, y] }
        },
        backward: (dy, [x, y], needDx) => ({ grads: [], dx: needDx ? pool.grad(dy, x, y) : null })
      }
    }
    case 'Activation': {
      const act = cfg.activation
      if (act !== 'sigmoid' && act !== 'relu' && act !== 'tanh') throw new Unsupported(`${layer.name}: activation '${String(act)}'`)
      // The gradients are tfjs' own arithmetic (dy * y * (1 - y), dy * step(y), dy * (1 - y^2)), as one op where native.
      const f = ops.activation(act)
      return {
        vars,
        kernels: [act === 'sigmoid' ? 'Sigmoid' : act === 'relu' ? 'Relu' : 'Tanh'],
        forward: (x) => {
          const y = f.forward(x)
          return { y, saved: [y] }
        },
        backward: (dy, [y], needDx) => ({ grads: [], dx: needDx ? f.grad(dy, y) : null })
      }
    }
    case 'BatchNormalization': {
      const axis = cfg.axis
      if ((axis !== -1 && axis !== undefined) || cfg.center !== true || cfg.scale !== true || vars.length !== 2) throw new Unsupported(`${layer.name}: batch norm other than over the last axis with scale and centre`)
      const [gamma, beta] = vars
      const [movingMean, movingVariance] = layer.nonTrainableWeights
      const momentum = Number(cfg.momentum)
      const bn = ops.batchNorm(Number(cfg.epsilon))
      return {
        vars,
        kernels: [],
        forward: (x) => {
          const { y, mean, variance, saved } = bn.forward(x, gamma, beta)
          // The moving statistics, as tfjs-layers updates them in training: m - (m - batch) * (1 - momentum).
          for (const [moving, batch] of [[movingMean, mean], [movingVariance, variance]] as const) {
            const m = moving.read()
            moving.write(tf.sub(m, tf.mul(tf.sub(m, batch), 1 - momentum)))
          }
          return { y, saved: [x, ...saved] }
        },
        backward: (dy, [x, ...saved], needDx) => {
          const { dx, dgamma, dbeta } = bn.grad(dy, x, gamma, saved)
          return { grads: [dgamma, dbeta], dx: needDx ? dx : null }
        }
      }
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
        forward: (x) => ({ y: ops.reshape(x, [x.shape[0], x.size / x.shape[0]]), saved: [x] }),
        backward: (dy, [x], needDx) => ({ grads: [], dx: needDx ? ops.reshape(dy, x.shape) : null })
      }
    case SeededDropout.className: {
      const drop = layer as SeededDropout
      if (drop.rate <= 0) return null
      return {
        vars,
        kernels: [],
        forward: (x) => {
          const mask = drop.nextMask(x.shape)
          return { y: ops.mul(x, mask), saved: [mask] }
        },
        backward: (dy, [mask], needDx) => ({ grads: [], dx: needDx ? ops.mul(dy, mask) : null })
      }
    }
    default:
      throw new Unsupported(`layer type ${cls} (${layer.name})`)
  }
}

/** The explicit stages of the model, or why it cannot have them. */
function explicitStages(model: tf.LayersModel, ops: StepOps): Stage[] | string {
  const stages: Stage[] = []
  try {
    for (const layer of model.layers) {
      const stage = stageFor(layer, ops)
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

/** Weight decay as the loss term wd/2 * sum(w^2) over every trainable weight (kernels and biases). */
function decayTerm(vars: tf.Variable[], weightDecay: number): tf.Scalar {
  return tf.mul(tf.addN(vars.map((w) => tf.sum(tf.square(w)))), weightDecay / 2) as tf.Scalar
}

export function makeTrainStep(model: tf.LayersModel, optimizer: tf.Optimizer, options: StepOptions): TrainStep {
  const { numClasses, weightDecay } = options
  const wanted = options.kind ?? 'auto'
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable)
  const node = nodeBackend()
  const ops = node ? nativeOps(node) : portableOps()

  // Today's step, unchanged.
  const referenceLoss = (x: tf.Tensor4D, labels: tf.Tensor1D, onLogits: (l: tf.Tensor2D) => void): tf.Scalar => {
    const logits = model.apply(x, { training: true }) as tf.Tensor2D
    onLogits(logits)
    const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, numClasses), logits) as tf.Scalar
    return weightDecay === 0 ? ce : (tf.add(ce, decayTerm(trainable, weightDecay)) as tf.Scalar)
  }

  // The tape with levers.
  const biasAdd = tf.customGrad(((x: tf.Tensor, b: tf.Tensor) => ({
    value: ops.addBias(x, b),
    gradFunc: (dy: tf.Tensor) => [dy, ops.biasGrad(dy)]
  })) as never) as (x: tf.Tensor, b: tf.Tensor) => tf.Tensor
  const sigmoidOps = ops.activation('sigmoid')
  const sigmoid = ops.native
    ? (tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
        const y = tf.sigmoid(x)
        save([y])
        return { value: y, gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => sigmoidOps.grad(dy, saved) }
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
  const fusedCE = ops.native
    ? (tf.customGrad(((logits: tf.Tensor, onehot: tf.Tensor, save: tf.GradSaveFunc) => {
        const { loss, dlogits } = ops.softmaxCrossEntropy(logits, onehot)
        save([dlogits])
        const labelShape = onehot.shape
        return {
          value: loss,
          // The labels are no variable; their zero gradient is never used (and `onehot` may be freed by then).
          gradFunc: (dy: tf.Tensor, [g]: tf.Tensor[]) => [tf.mul(g, dy), tf.zeros(labelShape)]
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
        const loss = optimizer.minimize(() => lossOf(x, labels, (logits) => void (correct = tf.keep(ops.countCorrect(logits, labels)))), true, trainable) as tf.Scalar
        const kept = correct as unknown as tf.Scalar
        // tf.keep let it out of minimize()'s scope; hand it to the caller's scope instead.
        const out = tf.clone(kept) as tf.Scalar
        kept.dispose()
        return { loss, correct: out }
      },
      gradients: (x, labels) => {
        const { value, grads } = tf.variableGrads(() => lossOf(x, labels, () => undefined), trainable)
        return { loss: value, grads }
      },
      dispose: () => ops.dispose()
    }
  }

  if (wanted === 'reference') return tapeStep('reference', null)
  const stages = wanted === 'tape' ? 'the tape was asked for' : explicitStages(model, ops)
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
    const first = ops.softmaxCrossEntropy(logits, ops.oneHot(labels, numClasses))
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
  // SGD and Adam on the native backend update through the binding with the optimizers' own
  // arithmetic and state (2 and 14 calls per weight); every other case lets the optimizer do it.
  const apply = (grads: tf.NamedTensorMap): void => {
    if (!ops.applyGradients(optimizer, grads)) optimizer.applyGradients(grads)
  }
  return {
    kind: 'explicit',
    fallbackReason: null,
    run: (x, labels) => {
      const { loss, logits, grads } = explicitGradients(x, labels)
      apply(grads)
      return { loss, correct: ops.countCorrect(logits, labels) }
    },
    gradients: (x, labels) => {
      const { loss, grads } = explicitGradients(x, labels)
      return { loss, grads }
    },
    dispose: () => ops.dispose()
  }
}
