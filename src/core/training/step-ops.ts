// The operations the explicit training step (step.ts) is written in, in two implementations:
//
//  * portableOps(): tfjs kernels through the engine, for every backend (wasm, cpu, webgpu, and the
//    native one when asked);
//  * nativeOps(): the same arithmetic as TensorFlow ops called straight through tfjs-node's binding.
//    On the native backend a LeNet-5 step is ~75 small ops, and each one through tfjs' engine and
//    kernel wrappers costs ~15-25 µs of JavaScript (conv geometry recomputed, attribute arrays and
//    shape tensors rebuilt, scopes opened): ~2 ms of a ~10 ms step, on a 2-core machine serial with
//    the kernels. Here the attributes are built once per layer and the shape/axis tensors once per
//    shape, so a call costs the binding's ~4 µs. It also reaches TensorFlow ops tfjs does not use:
//    BiasAdd, SigmoidGrad/ReluGrad/TanhGrad, 2-D MatMul (tfjs-node runs every matMul as
//    BatchMatMulV2) and the fused softmax cross-entropy. See ../../../../shared/reviews/lenet-profile.md.
//
// Both give the same values up to float rounding (step tests compare them).
import * as tf from '@tensorflow/tfjs'

/** Convolution geometry in the step's terms (NHWC, no dilation). */
export interface ConvGeom {
  strides: [number, number]
  pad: 'same' | 'valid'
}

/** Pooling geometry (NHWC). */
export interface PoolGeom {
  filterSize: [number, number]
  strides: [number, number]
  pad: 'same' | 'valid'
}

/** A layer's prepared operations: geometry bound once, so a call only passes tensors. */
export interface ConvOps {
  forward(x: tf.Tensor, kernel: tf.Tensor): tf.Tensor
  filterGrad(x: tf.Tensor, dy: tf.Tensor, filterShape: number[]): tf.Tensor
  inputGrad(dy: tf.Tensor, kernel: tf.Tensor, inputShape: number[]): tf.Tensor
}

export interface PoolOps {
  forward(x: tf.Tensor): tf.Tensor
  /** `y` is the forward output (max pooling needs it). */
  grad(dy: tf.Tensor, x: tf.Tensor, y: tf.Tensor): tf.Tensor
}

/** Batch normalisation in training mode over every axis but the last (N, or N, H, W). */
export interface BatchNormOps {
  /** y from the batch's own statistics, the batch mean and biased variance, and what grad() needs. */
  forward(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor; saved: tf.Tensor[] }
  grad(dy: tf.Tensor, x: tf.Tensor, gamma: tf.Tensor, saved: tf.Tensor[]): { dx: tf.Tensor; dgamma: tf.Tensor; dbeta: tf.Tensor }
}

export interface StepOps {
  readonly native: boolean
  batchNorm(epsilon: number): BatchNormOps
  conv(g: ConvGeom): ConvOps
  pool(g: PoolGeom, max: boolean): PoolOps
  /** x + b, b broadcast over the last axis. */
  addBias(x: tf.Tensor, b: tf.Tensor): tf.Tensor
  /** Sum over every axis but the last (the bias gradient of a map or of a batch of rows). */
  biasGrad(dy: tf.Tensor): tf.Tensor
  activation(kind: 'sigmoid' | 'relu' | 'tanh'): { forward(x: tf.Tensor): tf.Tensor; /** from the forward output */ grad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor }
  matMul(a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean): tf.Tensor
  reshape(x: tf.Tensor, shape: number[]): tf.Tensor
  /** Zero padding of H and W. */
  pad(x: tf.Tensor, paddings: [[number, number], [number, number]]): tf.Tensor
  slice(x: tf.Tensor, begin: number[], size: number[]): tf.Tensor
  mul(a: tf.Tensor, b: tf.Tensor): tf.Tensor
  add(a: tf.Tensor, b: tf.Tensor): tf.Tensor
  scale(x: tf.Tensor, s: number): tf.Tensor
  /** Float32 one-hot rows. */
  oneHot(labels: tf.Tensor, depth: number): tf.Tensor
  /** Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits. */
  softmaxCrossEntropy(logits: tf.Tensor, onehot: tf.Tensor): { loss: tf.Scalar; dlogits: tf.Tensor }
  /** Number of rows whose arg-max equals the label, as a float32 scalar. */
  countCorrect(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar
  /**
   * The optimizer's own update, with its own arithmetic and its own state (moments, iterations),
   * for plain SGD and Adam on the native backend; false where the caller must call
   * optimizer.applyGradients itself.
   */
  applyGradients(optimizer: tf.Optimizer, grads: tf.NamedTensorMap): boolean
  /** Tensors the ops keep between steps (shape and axis constants). */
  dispose(): void
}

/** What tfjs 4.22's AdamOptimizer keeps (adam_optimizer.ts); read and written as it does. */
interface AdamState {
  learningRate: number
  beta1: number
  beta2: number
  epsilon: number
  accBeta1: tf.Variable
  accBeta2: tf.Variable
  accumulatedFirstMoment: ({ originalName: string; variable: tf.Variable } | undefined)[]
  accumulatedSecondMoment: ({ originalName: string; variable: tf.Variable } | undefined)[]
  incrementIterations(): void
}

const runKernel = (name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor

/** Sum over N first, then over H*W: a 3-axis Sum is ~4x slower on the native backend, and no slower elsewhere. */
function biasGradOf(dy: tf.Tensor, reshape: (x: tf.Tensor, s: number[]) => tf.Tensor, sum0: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  if (dy.rank === 2) return sum0(dy)
  const c = dy.shape[dy.rank - 1]
  const perExample = dy.size / dy.shape[0]
  return sum0(reshape(sum0(reshape(dy, [dy.shape[0], perExample])), [perExample / c, c]))
}

/** The largest k <= most that divides rows: how many bias copies fit side by side. */
function widestTiling(rows: number, most: number): number {
  for (let k = Math.min(most, rows); k > 1; k--) if (rows % k === 0) return k
  return 1
}

export function portableOps(): StepOps {
  return {
    native: false,
    batchNorm: (epsilon) => ({
      // tfjs-layers' own arithmetic: moments (biased variance), then (x - mean) * rsqrt(var + eps) * gamma + beta.
      forward: (x, gamma, beta) => {
        const axes = x.shape.slice(0, -1).map((_, i) => i)
        const { mean, variance } = tf.moments(x, axes)
        const invStd = tf.rsqrt(tf.add(variance, epsilon))
        const xhat = tf.mul(tf.sub(x, mean), invStd)
        return { y: tf.add(tf.mul(xhat, gamma), beta), mean, variance, saved: [xhat, invStd] }
      },
      // d(loss)/dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)), the means over the reduced axes.
      grad: (dy, x, gamma, [xhat, invStd]) => {
        const axes = x.shape.slice(0, -1).map((_, i) => i)
        const count = x.size / x.shape[x.rank - 1]
        const dbeta = tf.sum(dy, axes)
        const dgamma = tf.sum(tf.mul(dy, xhat), axes)
        const centred = tf.sub(tf.sub(dy, tf.div(dbeta, count)), tf.mul(xhat, tf.div(dgamma, count)))
        return { dx: tf.mul(centred, tf.mul(gamma, invStd)), dgamma, dbeta }
      }
    }),
    conv: ({ strides, pad }) => {
      const attrs = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined }
      return {
        forward: (x, filter) => runKernel('Conv2D', { x, filter }, attrs),
        filterGrad: (x, dy, filterShape) => runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }),
        inputGrad: (dy, filter, inputShape) => runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape })
      }
    },
    pool: (g, max) => {
      const attrs = { ...g, dimRoundingMode: undefined }
      return {
        forward: (x) => runKernel(max ? 'MaxPool' : 'AvgPool', { x }, attrs),
        grad: (dy, x, y) => (max ? runKernel('MaxPoolGrad', { dy, input: x, output: y }, attrs) : runKernel('AvgPoolGrad', { dy, input: x }, attrs))
      }
    },
    addBias: (x, b) => tf.add(x, b),
    biasGrad: (dy) => biasGradOf(dy, (x, s) => tf.reshape(x, s), (x) => tf.sum(x, 0)),
    activation: (kind) => {
      if (kind === 'sigmoid') return { forward: (x) => tf.sigmoid(x), grad: (dy, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y))) }
      if (kind === 'relu') return { forward: (x) => tf.relu(x), grad: (dy, y) => tf.mul(dy, tf.step(y)) }
      return { forward: (x) => tf.tanh(x), grad: (dy, y) => tf.mul(tf.sub(1, tf.square(y)), dy) }
    },
    matMul: (a, b, ta, tb) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb),
    reshape: (x, shape) => tf.reshape(x, shape),
    pad: (x, [[t, b], [l, r]]) => tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]),
    slice: (x, begin, size) => tf.slice(x, begin, size),
    mul: (a, b) => tf.mul(a, b),
    add: (a, b) => tf.add(a, b),
    scale: (x, s) => tf.mul(x, s),
    oneHot: (labels, depth) => tf.cast(tf.oneHot(labels as tf.Tensor1D, depth), 'float32'),
    softmaxCrossEntropy: (logits, onehot) => {
      const n = logits.shape[0]
      const logp = tf.logSoftmax(logits)
      const loss = tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), 1))) as tf.Scalar
      return { loss, dlogits: tf.div(tf.sub(tf.exp(logp), onehot), n) }
    },
    countCorrect: (logits, labels) => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')) as tf.Scalar,
    applyGradients: () => false,
    dispose: () => undefined
  }
}

// ---------------------------------------------------------------------------------------------

interface NodeBackend {
  binding: Record<string, number>
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.Tensor[]): tf.Tensor
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.Tensor[], count: number): tf.Tensor[]
}

/** The native backend's binding, or null when the active backend is not tfjs-node's. */
export function nodeBackend(): NodeBackend | null {
  if (tf.getBackend() !== 'tensorflow') return null
  const be = tf.backend() as unknown as Partial<NodeBackend>
  if (typeof be.executeSingleOutput !== 'function' || typeof be.executeMultipleOutputs !== 'function' || !be.binding) return null
  return be as NodeBackend
}

export function nativeOps(node: NodeBackend): StepOps {
  const b = node.binding
  const type = (name: string, value: number) => ({ name, type: b.TF_ATTR_TYPE, value })
  const bool = (name: string, value: boolean) => ({ name, type: b.TF_ATTR_BOOL, value })
  const ints = (name: string, value: number[]) => ({ name, type: b.TF_ATTR_INT, value })
  const str = (name: string, value: string) => ({ name, type: b.TF_ATTR_STRING, value })
  const T = type('T', b.TF_FLOAT)
  const nhwc = str('data_format', 'NHWC')
  const one = (name: string, attrs: unknown[], inputs: tf.Tensor[]) => node.executeSingleOutput(name, attrs, inputs)

  // int32 constants (shapes, axes, paddings), made once per value and kept until dispose().
  const constants = new Map<string, tf.Tensor>()
  const int32 = (values: number[], shape?: number[]): tf.Tensor => {
    const key = `${values.join(',')}|${shape?.join(',') ?? ''}`
    let t = constants.get(key)
    if (!t) {
      t = tf.keep(shape ? tf.tensor(values, shape, 'int32') : tf.tensor1d(values, 'int32'))
      constants.set(key, t)
    }
    return t
  }
  const floats = new Map<number, tf.Tensor>()
  const scalar = (v: number): tf.Tensor => {
    let t = floats.get(v)
    if (!t) {
      t = tf.keep(tf.scalar(v))
      floats.set(v, t)
    }
    return t
  }
  let empty: tf.Tensor | null = null
  const noStatistics = (): tf.Tensor => (empty ??= tf.keep(tf.tensor1d([], 'float32')))
  const sumAttrs = [bool('keep_dims', false), T, type('Tidx', b.TF_INT32)]
  const sum0 = (x: tf.Tensor) => one('Sum', sumAttrs, [x, int32([0])])
  const reshape = (x: tf.Tensor, shape: number[]) => one('Reshape', [T, type('Tshape', b.TF_INT32)], [x, int32(shape)])
  const padding = (pad: 'same' | 'valid') => str('padding', pad === 'same' ? 'SAME' : 'VALID')

  return {
    native: true,
    batchNorm: (epsilon) => {
      const attrs = [T, type('U', b.TF_FLOAT), { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: epsilon }, nhwc, bool('is_training', true)]
      const as4d = (t: tf.Tensor) => (t.rank === 4 ? t : reshape(t, [t.shape[0], 1, 1, t.size / t.shape[0]]))
      return {
        // One FusedBatchNormV3 op. Its batch_variance output is Bessel-corrected (for running averages);
        // tfjs-layers averages the biased variance, so it is scaled back by (n - 1) / n.
        forward: (x, gamma, beta) => {
          const count = x.size / x.shape[x.rank - 1]
          // Training mode takes no running statistics: empty inputs.
          const none = noStatistics()
          const [y, mean, unbiased, r1, r2, r3] = node.executeMultipleOutputs('FusedBatchNormV3', attrs, [as4d(x), gamma, beta, none, none], 6)
          return { y: x.rank === 4 ? y : reshape(y, x.shape), mean, variance: one('Mul', [T], [unbiased, scalar(count > 1 ? (count - 1) / count : 1)]), saved: [r1, r2, r3] }
        },
        grad: (dy, x, gamma, [r1, r2, r3]) => {
          const [dx, dgamma, dbeta] = node.executeMultipleOutputs('FusedBatchNormGradV3', attrs, [as4d(dy), as4d(x), gamma, r1, r2, r3], 5)
          return { dx: x.rank === 4 ? dx : reshape(dx, x.shape), dgamma, dbeta }
        }
      }
    },
    conv: ({ strides, pad }) => {
      const attrs = [T, ints('strides', [1, strides[0], strides[1], 1]), padding(pad), nhwc, bool('use_cudnn_on_gpu', true), ints('dilations', [1, 1, 1, 1])]
      return {
        forward: (x, kernel) => one('Conv2D', attrs, [x, kernel]),
        filterGrad: (x, dy, filterShape) => one('Conv2DBackpropFilter', attrs, [x, int32(filterShape), dy]),
        inputGrad: (dy, kernel, inputShape) => one('Conv2DBackpropInput', attrs, [int32(inputShape), kernel, dy])
      }
    },
    pool: ({ filterSize, strides, pad }, max) => {
      const attrs = [T, ints('ksize', [1, filterSize[0], filterSize[1], 1]), ints('strides', [1, strides[0], strides[1], 1]), padding(pad), nhwc]
      return {
        forward: (x) => one(max ? 'MaxPool' : 'AvgPool', attrs, [x]),
        grad: (dy, x, y) => (max ? one('MaxPoolGrad', attrs, [x, y, dy]) : one('AvgPoolGrad', attrs, [int32(x.shape), dy]))
      }
    },
    // TensorFlow's BiasAdd is slow on rows of a few channels: on LeNet-5's conv1 output
    // (256x28x28x6) it took 0.76-1.26 ms, and the same sum over rows of 192 (the map seen as
    // [size / 192, 192], the bias tiled 32 times) 0.35 ms. Same values, element for element.
    addBias: (x, bias) => {
      const c = x.shape[x.rank - 1]
      const copies = x.rank > 2 && c < 16 ? widestTiling(x.size / c, Math.floor(192 / c)) : 1
      if (copies === 1) return one('BiasAdd', [T, nhwc], [x, bias])
      const tiled = one('Tile', [T, type('Tmultiples', b.TF_INT32)], [bias, int32([copies])])
      return reshape(one('BiasAdd', [T, nhwc], [reshape(x, [x.size / (c * copies), c * copies]), tiled]), x.shape)
    },
    biasGrad: (dy) => biasGradOf(dy, reshape, sum0),
    activation: (kind) => {
      const [fwd, grad] = kind === 'sigmoid' ? ['Sigmoid', 'SigmoidGrad'] : kind === 'relu' ? ['Relu', 'ReluGrad'] : ['Tanh', 'TanhGrad']
      return {
        forward: (x) => one(fwd, [T], [x]),
        // ReluGrad takes the relu's input; its output is positive exactly where the input is.
        grad: (dy, y) => (kind === 'relu' ? one(grad, [T], [dy, y]) : one(grad, [T], [y, dy]))
      }
    },
    matMul: (x, w, ta, tb) => one('MatMul', [T, bool('transpose_a', ta), bool('transpose_b', tb)], [x, w]),
    reshape,
    pad: (x, [[t, bt], [l, r]]) => one('Pad', [T, type('Tpaddings', b.TF_INT32)], [x, int32([0, 0, t, bt, l, r, 0, 0], [4, 2])]),
    slice: (x, begin, size) => one('Slice', [T, type('Index', b.TF_INT32)], [x, int32(begin), int32(size)]),
    mul: (x, y) => one('Mul', [T], [x, y]),
    add: (x, y) => one('AddV2', [T], [x, y]),
    scale: (x, s) => one('Mul', [T], [x, scalar(s)]),
    oneHot: (labels, depth) =>
      one('OneHot', [T, type('TI', b.TF_INT32), { name: 'axis', type: b.TF_ATTR_INT, value: -1 }], [labels, int32([depth], []), scalar(1), scalar(0)]),
    softmaxCrossEntropy: (logits, onehot) => {
      const n = logits.shape[0]
      const [perExample, backprop] = node.executeMultipleOutputs('SoftmaxCrossEntropyWithLogits', [T], [logits, onehot], 2)
      return { loss: one('Mean', sumAttrs, [perExample, int32([0])]) as tf.Scalar, dlogits: one('Mul', [T], [backprop, scalar(1 / n)]) }
    },
    countCorrect: (logits, labels) => {
      const predicted = one('ArgMax', [T, type('Tidx', b.TF_INT32), type('output_type', b.TF_INT32)], [logits, int32([1], [])])
      const hits = one('Equal', [type('T', b.TF_INT32)], [predicted, labels])
      return sum0(one('Cast', [type('SrcT', b.TF_BOOL), type('DstT', b.TF_FLOAT), bool('Truncate', false)], [hits])) as tf.Scalar
    },
    applyGradients: (optimizer, grads) => {
      const cls = optimizer.getClassName()
      const names = Object.keys(grads)
      const variable = (name: string) => tf.engine().registeredVariables[name]
      const add = (x: tf.Tensor, y: tf.Tensor) => one('Add', [T], [x, y])
      const mul = (x: tf.Tensor, y: tf.Tensor) => one('Mul', [T], [x, y])
      if (cls === 'SGD') {
        // SGDOptimizer: value + (-lr) * g.
        const o = optimizer as unknown as { learningRate: number; incrementIterations(): void }
        for (const name of names) variable(name).assign(add(mul(scalar(-o.learningRate), grads[name]), variable(name)))
        o.incrementIterations()
        return true
      }
      if (cls !== 'Adam') return false
      // AdamOptimizer.applyGradients, op for op: the moments are indexed by the gradients' order, and
      // created as it creates them, so saved optimizer states and resumed runs stay the same.
      const o = optimizer as unknown as AdamState
      tf.tidy(() => {
        const oneMinusAccBeta1 = one('Sub', [T], [scalar(1), o.accBeta1])
        const oneMinusAccBeta2 = one('Sub', [T], [scalar(1), o.accBeta2])
        names.forEach((name, i) => {
          const value = variable(name)
          o.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) }
          o.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) }
          const g = grads[name]
          const m = o.accumulatedFirstMoment[i]!.variable
          const v = o.accumulatedSecondMoment[i]!.variable
          const m1 = add(mul(m, scalar(o.beta1)), mul(g, scalar(1 - o.beta1)))
          const v1 = add(mul(v, scalar(o.beta2)), mul(one('Square', [T], [g]), scalar(1 - o.beta2)))
          const mHat = one('RealDiv', [T], [m1, oneMinusAccBeta1])
          const vHat = one('RealDiv', [T], [v1, oneMinusAccBeta2])
          m.assign(m1)
          v.assign(v1)
          const stepDir = one('RealDiv', [T], [mHat, add(one('Sqrt', [T], [vHat]), scalar(o.epsilon))])
          value.assign(add(mul(stepDir, scalar(-o.learningRate)), value))
        })
        o.accBeta1.assign(mul(o.accBeta1, scalar(o.beta1)))
        o.accBeta2.assign(mul(o.accBeta2, scalar(o.beta2)))
      })
      o.incrementIterations()
      return true
    },
    dispose: () => {
      tf.dispose([...constants.values(), ...floats.values(), ...(empty ? [empty] : [])])
      empty = null
      constants.clear()
      floats.clear()
    }
  }
}
