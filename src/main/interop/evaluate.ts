// The worker's side of `models import`: read the checkpoint, fill the preset's model, evaluate it
// on the dataset's test set exactly as the trainer does (pixels / 255, resized on the fly, logits
// through softmax cross-entropy) and write the weights as a tfjs checkpoint into the staging
// folder the host named. Runs in a worker process, never in the host: AlexNet's 10,000 test
// images take minutes on a CPU.
import * as tf from '@tensorflow/tfjs'
import type { DatasetArrays } from '../../core/data/types'
import { toInputTensor } from '../../core/models/io'
import { classMetrics, confusionMatrix } from '../../core/metrics/classification'
import type { ModelSpec } from '../../shared/schemas'
import { writeCheckpointStreamed } from '../storage/checkpoint'
import { StudioError } from '../../shared/contract'
import { selectBackend } from '../backends'
import { DatasetStore } from '../services/datasets'
import { toBase64, type FromChild, type ToChild } from '../training-protocol'
import type { TestResultMessage } from '../../shared/worker-messages'
import { importProblem, importWeights } from './import'

export interface EvaluateJob {
  file: string
  spec: ModelSpec
  stagingDir: string
}

export interface Evaluated {
  test: TestResultMessage
  style: string
  format: string
}

/** Loss, accuracy and every prediction of `model` on a test set, in chunks that fit AlexNet's activations. */
export async function evaluateOnTest(model: tf.LayersModel, spec: ModelSpec, data: DatasetArrays): Promise<TestResultMessage> {
  const set = data.test
  const chunk = spec.inputSize > 64 ? 32 : 1024
  const pixels = set.height * set.width
  const predictions = new Uint8Array(set.count)
  let lossSum = 0
  for (let start = 0; start < set.count; start += chunk) {
    const n = Math.min(chunk, set.count - start)
    const [lossT, predT] = tf.tidy(() => {
      const x = toInputTensor(set.images.subarray(start * pixels, (start + n) * pixels), n, set.width, spec)
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(set.labels.subarray(start, start + n)), 'int32'), spec.numClasses)
      const logits = model.apply(x, { training: false }) as tf.Tensor2D
      return [tf.losses.softmaxCrossEntropy(y, logits, undefined, 0, tf.Reduction.SUM), tf.argMax(logits, 1)]
    })
    lossSum += (await lossT.data())[0]
    predictions.set(await predT.data(), start)
    tf.dispose([lossT, predT])
  }
  const labels = set.labels.subarray(0, set.count)
  const confusion = confusionMatrix(labels, predictions, spec.numClasses)
  const { precision, recall } = classMetrics(confusion)
  let right = 0
  for (let i = 0; i < set.count; i++) if (predictions[i] === labels[i]) right++
  return {
    loss: set.count ? lossSum / set.count : 0,
    acc: set.count ? right / set.count : 0,
    confusion,
    precision,
    recall,
    predictions: toBase64(predictions),
    labels: toBase64(labels)
  }
}

/**
 * The model's checkpoint as model.save() would write it (the same model.json and weights.bin),
 * taken out of the backend a slice of `chunkValues` values at a time: save() gathers every weight
 * and concatenates them, two more 187 MB copies of AlexNet beside the model, and even one whole
 * weight out of the backend is AlexNet's 105 MB dense kernel.
 */
export async function writeModelCheckpoint(dir: string, model: tf.LayersModel, chunkValues = 1 << 20): Promise<void> {
  const weights = model.weights
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for (const w of weights) {
      const flat = tf.reshape(w.read(), [-1])
      const n = flat.shape[0]
      try {
        for (let at = 0; at < n; at += chunkValues) {
          const part = n <= chunkValues ? flat : tf.slice(flat, at, Math.min(chunkValues, n - at))
          const v = (await part.data()) as Float32Array
          if (part !== flat) part.dispose()
          yield new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
        }
      } finally {
        flat.dispose()
      }
    }
  }
  const head = {
    modelTopology: model.toJSON(null, false) as object,
    weightSpecs: weights.map((w) => ({ name: w.originalName, shape: w.shape as number[], dtype: w.dtype as 'float32' })),
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null
  }
  await writeCheckpointStreamed(dir, head, bytes())
}

export async function evaluateImport(job: EvaluateJob, data: DatasetArrays): Promise<Evaluated> {
  if (data.classes.length !== job.spec.numClasses)
    throw new Error(`the dataset has ${data.classes.length} classes but ${job.spec.name} outputs ${job.spec.numClasses}`)
  const { model, plan, format } = await importWeights(job.file, job.spec)
  try {
    const test = await evaluateOnTest(model, job.spec, data)
    await writeModelCheckpoint(job.stagingDir, model)
    return { test, style: plan.style, format }
  } finally {
    model.dispose()
  }
}

/** The worker's handler of an 'evaluate' message: always answers 'evaluated' or 'evaluateFailed'. */
export async function handleEvaluate(msg: Extract<ToChild, { type: 'evaluate' }>, send: (m: FromChild) => void): Promise<void> {
  try {
    const selected = await selectBackend('auto')
    const data = await new DatasetStore({ dataDir: msg.dataDir }).load(msg.dataset)
    const r = await evaluateImport({ file: msg.file, spec: msg.spec, stagingDir: msg.stagingDir }, data)
    send({ type: 'evaluated', ...r, backend: selected.name, device: selected.device, versions: selected.versions })
  } catch (err) {
    const problem = importProblem(err, msg.file)
    if (problem !== null) return send({ type: 'evaluateFailed', code: 'invalid_argument', message: problem })
    if (err instanceof StudioError) return send({ type: 'evaluateFailed', code: err.code, message: err.message })
    if (typeof (err as { code?: unknown })?.code !== 'string') console.error('[evaluate]', err)
    send({ type: 'evaluateFailed', code: 'internal', message: (err as Error)?.message ?? String(err) })
  }
}
