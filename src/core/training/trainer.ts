// The fit loop: Keras' model.fit in spirit (callbacks get plain numbers; charts, recording,
// checkpoints and early stopping hang off them), written out by hand for speed and control.
//
// Where the time goes and what this loop does about it (see bench/training.ts):
//  * The whole normalised training set lives on the backend as one tensor; a batch is a tf.gather
//    by index, so no image is uploaded twice and no JS array is built per batch.
//  * Loss and accuracy are summed on the device; the loop reads them back (one sync) only at the
//    pointsPerEpoch curve points and at the end of the epoch, not after every batch.
//  * Everything a batch creates is freed by tf.tidy; the accumulators are swapped, never leaked.
//  * The step itself (forward, gradients, update) comes from step.ts: a hand-written backward
//    without the gradient tape where it covers the model's layers, else the tape with cheap levers.
//  * The loop yields to the event loop every few milliseconds, so a cancel message can arrive.
import * as tf from '@tensorflow/tfjs'
import type { BatchPoint, EpochRecord, FilterSnapshot, LayerHistogram, TrainStartInfo } from '../../shared/domain'
import type { ModelSpec, Normalize, TrainConfig, TrainConfigInput } from '../../shared/schemas'
import { TrainConfigSchema } from '../../shared/schemas'
import type { DatasetArrays, ImageSet } from '../data/types'
import { splitIndices } from '../data/split'
import { createRng, epochOrder } from '../data/batches'
import { augmentBatch, normalizeBatch } from '../data/augment'
import { channelStats } from '../data/normalise'
import { buildModel } from '../models/build'
import { modelToArtifacts, resizeTo } from '../models/io'
import { validateSpec } from '../models/spec'
import { classMetrics, confusionMatrix } from '../metrics/classification'
import { learningRateAt } from './schedule'
import { makeTrainStep, type StepKind, type TrainStep } from './step'
import { firstConvFilters, weightAndGradientHistograms } from '../inspect/histograms'
import { loadWeightsInto, readDropoutCalls, readOptimizerState, restoreDropoutCalls, restoreOptimizerState, weightsFromArtifacts, type TrainState } from './resume-state'

export interface EpochEnd extends EpochRecord {
  confusion: number[][]
  predictions: Uint8Array
  isBest: boolean
  /** The weights as they are at the end of this epoch. */
  saveWeights: () => Promise<tf.io.ModelArtifacts>
  /** What an exact resume from the end of this epoch needs beyond the weights (resume-state.ts). */
  saveState: () => Promise<TrainState>
  /** With options.inspection only: what the inspection views keep per epoch (issue 18). */
  inspection?: EpochInspection
}

export interface EpochInspection {
  /** Kernel weights and their loss gradient on a fixed probe batch of training examples. */
  histograms: LayerHistogram[]
  filters: FilterSnapshot | null
  /** Each validation example's probability of its true class, in `predictions` order. */
  trueProbabilities: Float32Array
}

export interface TrainCallbacks {
  onStart?(info: TrainStartInfo): void | Promise<void>
  onBatch?(e: BatchPoint): void
  /** Awaited: the caller writes checkpoints here. `predictions` = predicted class of every validation
      example, in validation order (the split's val indices, or the test set when validation.source = 'test'). */
  onEpoch?(e: EpochEnd): void | Promise<void>
}

export interface TestEvaluation {
  loss: number
  acc: number
  confusion: number[][]
  precision: (number | null)[]
  recall: (number | null)[]
  predictions: Uint8Array
  /** With options.inspection only: each test example's probability of its true class. */
  trueProbabilities?: Float32Array
}

export interface TrainResult {
  status: 'completed' | 'cancelled'
  epochsDone: number
  bestEpoch: number | null
  bestValAcc: number | null
  examplesPerSec: number
  test: TestEvaluation | null
}

export interface TrainOptions {
  signal?: AbortSignal
  /** Batch-curve points per epoch (default 20, at least 5 unless the epoch has fewer batches). */
  pointsPerEpoch?: number
  /** How a step computes its gradients (step.ts); 'auto' by default. Benchmarks and tests set it. */
  step?: StepKind | 'auto'
  /** Told which step kind trains, and why not the explicit one when it does not. */
  onStepKind?: (kind: StepKind, fallbackReason: string | null) => void
  /**
   * Continue a run after epoch `state.epoch`: its last weights, the state saved with them and its
   * best epoch's weights (null: the last ones are the best). Same config, so the same outcome.
   */
  resume?: { state: TrainState; weights: tf.io.ModelArtifacts; best: tf.io.ModelArtifacts | null }
  /** Start from these weights instead of the seeded initialisation (fine-tune); same shapes. */
  initialWeights?: tf.io.ModelArtifacts
  /** Also record histograms, first-conv filters and true-class probabilities (EpochEnd.inspection, test.trueProbabilities). */
  inspection?: boolean
}

export class TrainError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'TrainError'
  }
}

/** Images on the backend as [count, h, w, 1] float32 in [0, 1] plus int32 labels. */
interface DeviceSet {
  x: tf.Tensor4D
  y: tf.Tensor1D
  labels: Uint8Array
  count: number
}

function upload(set: ImageSet, limit: number | null, normalize: Normalize | 'dataset' | null = null): DeviceSet {
  const count = limit === null ? set.count : Math.min(limit, set.count)
  const channels = set.channels ?? 1
  const pixels = set.height * set.width * channels
  if (set.images.length < count * pixels || set.labels.length < count) {
    throw new TrainError(`dataset holds ${set.labels.length} labels / ${set.images.length} bytes, fewer than ${count} images of ${set.height}x${set.width}`)
  }
  const labels = set.labels.subarray(0, count)
  const x = tf.tidy(() =>
    normalizeBatch(tf.div(tf.tensor4d(Float32Array.from(set.images.subarray(0, count * pixels)), [count, set.height, set.width, channels]), 255) as tf.Tensor4D, normalize)
  ) as tf.Tensor4D
  const y = tf.tensor1d(Int32Array.from(labels), 'int32')
  return { x, y, labels, count }
}

function subset(set: DeviceSet, indices: Uint32Array): DeviceSet {
  const idx = tf.tensor1d(Int32Array.from(indices), 'int32')
  const x = tf.gather(set.x, idx) as tf.Tensor4D
  const y = tf.gather(set.y, idx) as tf.Tensor1D
  idx.dispose()
  const labels = new Uint8Array(indices.length)
  for (let i = 0; i < indices.length; i++) labels[i] = set.labels[indices[i]]
  return { x, y, labels, count: indices.length }
}

function disposeSet(s: DeviceSet | null): void {
  if (s) tf.dispose([s.x, s.y])
}

/** Gives the event loop a turn: setImmediate in Node (no 1 ms clamp), a zero timeout elsewhere. */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown }
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)))
}

function makeOptimizer(config: TrainConfig, lr: number): tf.Optimizer {
  if (config.optimizer === 'adam') return tf.train.adam(lr, 0.9, 0.999, 1e-8)
  return config.momentum > 0 ? tf.train.momentum(lr, config.momentum) : tf.train.sgd(lr)
}

function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  // SGD and momentum cache -lr in a scalar and must be told through setLearningRate; Adam reads
  // its learningRate field at every step.
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void }
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr)
  else o.learningRate = lr
}

/** Examples per evaluation chunk: big for small inputs, bounded by activation memory for AlexNet. */
function evalChunk(spec: ModelSpec, batchSize: number): number {
  return spec.inputSize > 64 ? Math.max(1, Math.min(batchSize, 64)) : 2048
}

interface Evaluation {
  loss: number
  acc: number
  predictions: Uint8Array
  trueProbabilities: Float32Array | null
}

/** Examples in the batch whose gradients the per-epoch histograms show (a fixed slice of the training set). */
const PROBE_EXAMPLES = 128

/** Null when the signal aborted part way (AlexNet's 10k test images take minutes on a CPU). */
async function evaluate(model: tf.LayersModel, set: DeviceSet, spec: ModelSpec, chunk: number, signal?: AbortSignal, withTrue = false): Promise<Evaluation | null> {
  const predictions = new Uint8Array(set.count)
  const trueProbabilities = withTrue ? new Float32Array(set.count) : null
  let lossSum = 0
  let lastYield = performance.now()
  for (let start = 0; start < set.count; start += chunk) {
    if (performance.now() - lastYield > 15) {
      await yieldToEventLoop()
      lastYield = performance.now()
    }
    if (signal?.aborted) return null
    const size = Math.min(chunk, set.count - start)
    const [lossT, predT, trueT] = tf.tidy(() => {
      const x = resizeTo(tf.slice(set.x, [start, 0, 0, 0], [size, -1, -1, -1]) as tf.Tensor4D, spec.inputSize)
      const y = tf.slice(set.y, [start], [size])
      const logits = model.apply(x, { training: false }) as tf.Tensor2D
      const oneHot = tf.oneHot(y, spec.numClasses)
      const loss = tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, 0, tf.Reduction.SUM)
      const truth = withTrue ? tf.sum(tf.mul(tf.softmax(logits), oneHot), 1) : null
      return truth ? [loss, tf.argMax(logits, 1), truth] : [loss, tf.argMax(logits, 1)]
    })
    // Async reads: tfjs-backend-webgpu's dataSync reads back through a canvas copy that gives zeros
    // on some adapters (SwiftShader), and the browser worker trains on it; elsewhere it costs nothing.
    lossSum += ((await lossT.data()) as Float32Array)[0]
    predictions.set((await predT.data()) as Int32Array, start)
    if (trueT && trueProbabilities) trueProbabilities.set((await trueT.data()) as Float32Array, start)
    tf.dispose([lossT, predT, ...(trueT ? [trueT] : [])])
  }
  let right = 0
  for (let i = 0; i < set.count; i++) if (predictions[i] === set.labels[i]) right++
  return { loss: set.count ? lossSum / set.count : 0, acc: set.count ? right / set.count : 0, predictions, trueProbabilities }
}

function snapshot(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights().map((w) => tf.keep(w.clone()))
}

export async function train(
  configInput: TrainConfig | TrainConfigInput,
  data: DatasetArrays,
  callbacks: TrainCallbacks,
  options: TrainOptions = {}
): Promise<TrainResult> {
  const parsed = TrainConfigSchema.safeParse(configInput)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new TrainError(`invalid training config at '${issue.path.join('.')}': ${issue.message}`)
  }
  const config = parsed.data
  const spec = config.spec
  validateSpec(spec)
  if (data.classes.length !== spec.numClasses) {
    throw new TrainError(`dataset '${data.id}' has ${data.classes.length} classes but the model outputs ${spec.numClasses}`)
  }
  if (data.train.height !== data.train.width || data.test.height !== data.train.height || data.test.width !== data.train.width) {
    throw new TrainError(`dataset '${data.id}' images must be square and the same size in train and test`)
  }
  if ((data.train.channels ?? 1) !== spec.inputChannels) {
    throw new TrainError(`dataset '${data.id}' has ${data.train.channels ?? 1}-channel images but the model takes ${spec.inputChannels}`)
  }
  // Seeded apart from the data order and dropout: switching augmentation on changes nothing else.
  // One stream per epoch (reseeded below), as the data order: a resumed run needs no replay of earlier epochs.
  let augmentRng = createRng((config.seed ^ 0x5eed) >>> 0)
  // The host resolves 'dataset' before queueing (so the run stores the numbers); direct callers get the same numbers here.
  if (config.normalize === 'dataset') config.normalize = channelStats(data.train)
  const signal = options.signal
  const pointsPerEpoch = Math.max(1, Math.floor(options.pointsPerEpoch ?? 20))
  const classes = spec.numClasses

  const owned: tf.Tensor[] = []
  let full: DeviceSet | null = null
  let trainSet: DeviceSet | null = null
  let valSet: DeviceSet | null = null
  let testSet: DeviceSet | null = null
  let model: tf.LayersModel | null = null
  let optimizer: tf.Optimizer | null = null
  let best: tf.Tensor[] | null = null
  let probe: { x: tf.Tensor4D; y: tf.Tensor1D } | null = null
  let step: TrainStep | null = null
  try {
    full = upload(data.train, config.trainLimit, config.normalize)
    if (config.validation.source === 'split') {
      const split = splitIndices(full.labels, config.validation.fraction, config.seed, config.validation.stratified)
      if (split.train.length === 0 || split.val.length === 0) {
        throw new TrainError(`a ${config.validation.fraction} validation split of ${full.count} examples leaves an empty side`)
      }
      trainSet = subset(full, split.train)
      valSet = subset(full, split.val)
      disposeSet(full)
      full = null
      testSet = upload(data.test, null, config.normalize)
    } else {
      trainSet = full
      full = null
      testSet = upload(data.test, null, config.normalize)
      valSet = testSet
    }

    model = buildModel(spec, { init: config.init, seed: config.seed })
    const paramCount = model.countParams()
    optimizer = makeOptimizer(config, learningRateAt(config, 1))
    const resume = options.resume ?? null
    try {
      if (resume) {
        loadWeightsInto(model, resume.weights, 'the last checkpoint')
        await restoreOptimizerState(optimizer, resume.state.optimizer)
        restoreDropoutCalls(model, resume.state.dropoutCalls)
      } else if (options.initialWeights) {
        loadWeightsInto(model, options.initialWeights, 'the other run')
      }
    } catch (err) {
      throw new TrainError(`${resume ? 'cannot continue from the saved state' : 'cannot start from those weights'}: ${(err as Error).message}`)
    }
    const batchSize = Math.min(config.batchSize, trainSet.count)
    const steps = Math.ceil(trainSet.count / batchSize)
    const chunk = evalChunk(spec, config.batchSize)
    const inspecting = options.inspection === true
    if (inspecting) {
      const n = Math.min(PROBE_EXAMPLES, trainSet.count)
      const ts = trainSet
      probe = tf.tidy(() => ({
        x: resizeTo(tf.slice(ts.x, [0, 0, 0, 0], [n, -1, -1, -1]) as tf.Tensor4D, spec.inputSize),
        y: tf.slice(ts.y, [0], [n]) as tf.Tensor1D
      }))
      tf.keep(probe.x)
      tf.keep(probe.y)
    }
    // Weight decay covers kernels and biases alike, as PyTorch's weight_decay does.
    const theStep = makeTrainStep(model, optimizer, { numClasses: classes, weightDecay: config.weightDecay, kind: options.step })
    step = theStep
    options.onStepKind?.(theStep.kind, theStep.fallbackReason)

    await callbacks.onStart?.({
      paramCount,
      trainCount: trainSet.count,
      valCount: valSet.count,
      testCount: testSet.count,
      stepsPerEpoch: steps
    })

    let bestEpoch: number | null = null
    let bestValAcc: number | null = null
    let sinceBest = 0
    let epochsDone = 0
    let status: TrainResult['status'] = 'completed'
    let trainedExamples = 0
    let trainSeconds = 0
    const totalSteps = steps * config.epochs
    let stepsDone = 0
    const everyPoint = Math.max(1, Math.floor(steps / Math.min(pointsPerEpoch, steps)))
    let firstEpoch = 1
    if (resume) {
      const st = resume.state
      firstEpoch = st.epoch + 1
      epochsDone = st.epoch
      bestEpoch = st.bestEpoch
      bestValAcc = st.bestValAcc
      sinceBest = st.sinceBest
      trainedExamples = st.trainedExamples
      trainSeconds = st.trainSeconds
      stepsDone = st.epoch * steps
      const m = model
      best = resume.best ? weightsFromArtifacts(m, resume.best, 'the best checkpoint').map((t) => tf.keep(t)) : snapshot(m)
    }

    epochs: for (let epoch = firstEpoch; epoch <= config.epochs; epoch++) {
      setLearningRate(optimizer, learningRateAt(config, epoch))
      augmentRng = createRng(((config.seed ^ 0x5eed) + Math.imul(epoch, 0x9e3779b1)) >>> 0)
      const order = epochOrder(trainSet.count, config.seed, epoch)
      const orderT = tf.tensor1d(Int32Array.from(order), 'int32')
      owned.push(orderT)
      // Running sums on the device: [loss * n, correct] since the last point and since the epoch start.
      let pointSums: tf.Tensor1D = tf.zeros([2])
      let epochSums: tf.Tensor1D = tf.zeros([2])
      let pointBatches = 0
      let pointExamples = 0
      const epochStart = performance.now()
      let lastYield = epochStart
      let epochExamples = 0

      for (let b = 0; b < steps; b++) {
        if (signal?.aborted) {
          tf.dispose([pointSums, epochSums, orderT])
          owned.pop()
          status = 'cancelled'
          break epochs
        }
        const start = b * batchSize
        const size = Math.min(batchSize, trainSet.count - start)
        const ts = trainSet
        const next = tf.tidy(() => {
          const idx = tf.slice(orderT, [start], [size])
          const x = resizeTo(augmentBatch(tf.gather(ts.x, idx) as tf.Tensor4D, config.augment, config.normalize, augmentRng), spec.inputSize)
          const yIdx = tf.gather(ts.y, idx) as tf.Tensor1D
          const { loss, correct } = theStep.run(x, yIdx)
          const both = tf.stack([tf.mul(loss, size), correct]) as tf.Tensor1D
          return [tf.add(pointSums, both) as tf.Tensor1D, tf.add(epochSums, both) as tf.Tensor1D] as const
        })
        tf.dispose([pointSums, epochSums])
        ;[pointSums, epochSums] = next
        pointBatches++
        pointExamples += size
        epochExamples += size
        stepsDone++

        const lastOfEpoch = b === steps - 1
        if (callbacks.onBatch && (pointBatches >= everyPoint || lastOfEpoch)) {
          const [lossSum, correct] = (await pointSums.data()) as Float32Array
          const now = performance.now()
          const secs = (now - epochStart) / 1000
          const rate = epochExamples / Math.max(secs, 1e-9)
          const secPerStep = (trainSeconds + secs) / stepsDone
          callbacks.onBatch({
            epoch,
            batch: b + 1,
            x: epoch - 1 + (b + 1) / steps,
            loss: lossSum / pointExamples,
            acc: correct / pointExamples,
            examplesPerSec: rate,
            etaSeconds: stepsDone > 0 ? secPerStep * (totalSteps - stepsDone) : null
          })
          pointSums.dispose()
          pointSums = tf.zeros([2])
          pointBatches = 0
          pointExamples = 0
        }
        if (performance.now() - lastYield > 15) {
          await yieldToEventLoop()
          lastYield = performance.now()
        }
      }
      const [epochLoss, epochCorrect] = (await epochSums.data()) as Float32Array
      const seconds = (performance.now() - epochStart) / 1000
      tf.dispose([pointSums, epochSums, orderT])
      owned.pop()
      trainedExamples += epochExamples
      trainSeconds += seconds

      const val = await evaluate(model, valSet, spec, chunk, signal, inspecting)
      if (val === null) {
        status = 'cancelled'
        break
      }
      const isBest = bestValAcc === null || val.acc > bestValAcc
      if (isBest) {
        bestValAcc = val.acc
        bestEpoch = epoch
        sinceBest = 0
        if (best) tf.dispose(best)
        best = snapshot(model)
      } else {
        sinceBest++
      }
      epochsDone = epoch
      const record: EpochRecord = {
        epoch,
        trainLoss: epochLoss / epochExamples,
        trainAcc: epochCorrect / epochExamples,
        valLoss: val.loss,
        valAcc: val.acc,
        seconds,
        examplesPerSec: epochExamples / Math.max(seconds, 1e-9)
      }
      const m = model
      const opt = optimizer
      const inspection: EpochInspection | undefined =
        probe && val.trueProbabilities
          ? { histograms: await weightAndGradientHistograms(m, spec, probe.x, probe.y), filters: await firstConvFilters(m, spec, epoch), trueProbabilities: val.trueProbabilities }
          : undefined
      await callbacks.onEpoch?.({
        ...record,
        confusion: confusionMatrix(valSet.labels, val.predictions, classes),
        predictions: val.predictions,
        isBest,
        saveWeights: () => modelToArtifacts(m),
        saveState: async () => ({
          version: 1,
          epoch,
          optimizer: await readOptimizerState(opt),
          dropoutCalls: readDropoutCalls(m),
          bestEpoch,
          bestValAcc,
          sinceBest,
          trainedExamples,
          trainSeconds
        }),
        ...(inspection ? { inspection } : {})
      })
      if (signal?.aborted) {
        status = 'cancelled'
        break
      }
      if (config.earlyStoppingPatience !== null && sinceBest >= config.earlyStoppingPatience) break
      await yieldToEventLoop()
    }

    let test: TestEvaluation | null = null
    if (status === 'completed' && epochsDone > 0) {
      if (best) model.setWeights(best)
      const ev = await evaluate(model, testSet, spec, chunk, signal, inspecting)
      if (ev === null) return { status: 'cancelled', epochsDone, bestEpoch, bestValAcc, examplesPerSec: trainSeconds > 0 ? trainedExamples / trainSeconds : 0, test: null }
      const confusion = confusionMatrix(testSet.labels, ev.predictions, classes)
      const { precision, recall } = classMetrics(confusion)
      test = { loss: ev.loss, acc: ev.acc, confusion, precision, recall, predictions: ev.predictions, ...(ev.trueProbabilities ? { trueProbabilities: ev.trueProbabilities } : {}) }
    }
    return {
      status,
      epochsDone,
      bestEpoch,
      bestValAcc,
      examplesPerSec: trainSeconds > 0 ? trainedExamples / trainSeconds : 0,
      test
    }
  } finally {
    tf.dispose(owned)
    if (best) tf.dispose(best)
    if (probe) tf.dispose([probe.x, probe.y])
    step?.dispose()
    const sameVal = valSet === testSet
    disposeSet(full)
    disposeSet(trainSet)
    if (!sameVal) disposeSet(valSet)
    disposeSet(testSet)
    optimizer?.dispose()
    model?.dispose()
  }
}
