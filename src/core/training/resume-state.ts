// What a run needs, beyond its weights, to continue from the end of an epoch exactly as if it had
// never stopped: the optimizer's slots (SGD-with-momentum buffers, Adam's moments, its step count and
// running beta powers), the schedule position (the epoch: learningRateAt is a function of it) and the
// position of every random stream. Shuffling and the validation split are pure functions of (seed,
// epoch) (data/batches.ts, data/split.ts), so the only stream with a position is each SeededDropout
// layer's call counter. Pure: tensors in and out, no files (storage/checkpoint.ts writes it).
import * as tf from '@tensorflow/tfjs'

export interface OptimizerSlot {
  name: string
  shape: number[]
  values: Float32Array
}

export interface OptimizerState {
  /** tfjs' class name: 'SGDOptimizer', 'MomentumOptimizer', 'AdamOptimizer'. */
  kind: string
  iterations: number
  /**
   * Adam's beta1^t and beta2^t as the optimizer accumulated them by repeated multiplication; tfjs'
   * own setWeights recomputes them with pow(), which can differ in the last bit and so would break
   * an exact resume.
   */
  accBeta1: number | null
  accBeta2: number | null
  /** In tfjs' getWeights order (iterations left out). */
  slots: OptimizerSlot[]
}

export interface TrainState {
  version: 1
  /** The last finished epoch: training continues with epoch + 1. */
  epoch: number
  optimizer: OptimizerState
  /** Each SeededDropout layer's call counter, in layer order. */
  dropoutCalls: number[]
  bestEpoch: number | null
  bestValAcc: number | null
  sinceBest: number
  trainedExamples: number
  trainSeconds: number
}

interface NamedTensor {
  name: string
  tensor: tf.Tensor
}

interface TfOptimizerInternals {
  getWeights(): Promise<NamedTensor[]>
  setWeights(w: NamedTensor[]): Promise<void>
  accBeta1?: tf.Variable
  accBeta2?: tf.Variable
  iterations: number
}

export async function readOptimizerState(optimizer: tf.Optimizer): Promise<OptimizerState> {
  const o = optimizer as unknown as TfOptimizerInternals
  const weights = await o.getWeights()
  const slots: OptimizerSlot[] = []
  // The first entry is tfjs' 'iter' scalar; it is disposed here because saveIterations made it fresh.
  const [iter, ...rest] = weights
  iter.tensor.dispose()
  // Async reads: tfjs-backend-webgpu's dataSync reads zeros on SwiftShader (see trainer.ts).
  for (const w of rest) slots.push({ name: w.name, shape: [...w.tensor.shape], values: Float32Array.from((await w.tensor.data()) as Float32Array) })
  return {
    kind: optimizer.getClassName(),
    iterations: o.iterations,
    accBeta1: o.accBeta1 ? ((await o.accBeta1.data()) as Float32Array)[0] : null,
    accBeta2: o.accBeta2 ? ((await o.accBeta2.data()) as Float32Array)[0] : null,
    slots
  }
}

export async function restoreOptimizerState(optimizer: tf.Optimizer, s: OptimizerState): Promise<void> {
  if (optimizer.getClassName() !== s.kind) throw new Error(`the saved optimizer state is for ${s.kind}, the run trains with ${optimizer.getClassName()}`)
  const o = optimizer as unknown as TfOptimizerInternals
  const named: NamedTensor[] = [
    { name: 'iter', tensor: tf.scalar(s.iterations, 'int32') },
    ...s.slots.map((slot) => ({ name: slot.name, tensor: tf.tensor(slot.values, slot.shape, 'float32') }))
  ]
  // setWeights turns each tensor into a variable sharing its data (and reads 'iter' at once): ours can go.
  await o.setWeights(named)
  tf.dispose(named.map((n) => n.tensor))
  tf.tidy(() => {
    if (s.accBeta1 !== null && o.accBeta1) o.accBeta1.assign(tf.scalar(s.accBeta1))
    if (s.accBeta2 !== null && o.accBeta2) o.accBeta2.assign(tf.scalar(s.accBeta2))
  })
}

interface DropoutLike {
  calls: number
}

function dropoutLayers(model: tf.LayersModel): DropoutLike[] {
  // SeededDropout keeps its counter private to its file (models/build.ts); it is a plain field.
  return model.layers.filter((l) => l.getClassName() === 'SeededDropout') as unknown as DropoutLike[]
}

export function readDropoutCalls(model: tf.LayersModel): number[] {
  return dropoutLayers(model).map((l) => l.calls)
}

export function restoreDropoutCalls(model: tf.LayersModel, calls: number[]): void {
  const layers = dropoutLayers(model)
  if (layers.length !== calls.length) throw new Error(`the saved state has ${calls.length} dropout streams, the model ${layers.length}`)
  layers.forEach((l, i) => (l.calls = calls[i]))
}

/**
 * Tensors of saved weights in the model's weight order, shapes checked. Matched by position, not by
 * name: tfjs names variables with a per-process counter, so another process's names may differ.
 */
export function weightsFromArtifacts(model: tf.LayersModel, a: tf.io.ModelArtifacts, what: string): tf.Tensor[] {
  const specs = a.weightSpecs ?? []
  const vars = model.weights
  if (specs.length !== vars.length) throw new Error(`${what} has ${specs.length} weight tensors; this model has ${vars.length}`)
  vars.forEach((v, i) => {
    if (JSON.stringify(specs[i].shape) !== JSON.stringify(v.shape))
      throw new Error(`${what}: weight ${i + 1} (${v.name}) is ${specs[i].shape.join('x')}, this model's is ${v.shape.join('x')}`)
  })
  const data = a.weightData
  const buffer = data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data
  const map = tf.io.decodeWeights(buffer, specs)
  return specs.map((s) => map[s.name])
}

/** Writes saved weights into the model's variables (same shapes, same order). */
export function loadWeightsInto(model: tf.LayersModel, a: tf.io.ModelArtifacts, what: string): void {
  const tensors = weightsFromArtifacts(model, a, what)
  model.weights.forEach((v, i) => v.write(tensors[i]))
  tf.dispose(tensors)
}
