// Inspection queries over recorded runs: the examples behind a confusion-matrix cell, one image
// seen through the network (the work runs in the model worker), the hardest examples and the
// examples that flipped between two epochs. Which images a run's predictions are of is recomputed
// exactly as the trainer chose them (same labels prefix, fraction, seed).
import { imageBytes } from '../../core/data/types'
import { StudioError } from '../../shared/contract'
import type { CellExample, ExampleFlips, GrayImage, HardestExamples, HardExample, HardExampleImage, InspectResult, InspectTensor, RunRecord } from '../../shared/domain'
import type { ParsedArgs } from '../../shared/contract'
import { splitIndices } from '../../core/data/split'
import type { DatasetArrays, ImageSet } from '../../core/data/types'
import type { Inspection, Values } from '../../core/inspect/inspect'
import type { PipelineImage } from '../../core/predict/pipeline'
import type { RunStore } from './runs'
import type { DatasetStore } from './datasets'
import type { ModelWorker } from './model-worker'

export interface Inspector {
  cellExamples(a: ParsedArgs<'runs.cellExamples'>): Promise<CellExample[]>
  image(a: ParsedArgs<'inspect.image'>): Promise<InspectResult>
  example(a: ParsedArgs<'inspect.example'>): Promise<InspectResult>
  hardest(a: ParsedArgs<'runs.hardest'>): Promise<HardestExamples>
  flips(a: ParsedArgs<'runs.flips'>): Promise<ExampleFlips>
}

function tensor(v: Values): InspectTensor {
  return { shape: v.shape, values: Buffer.from(v.values.buffer, v.values.byteOffset, v.values.byteLength).toString('base64') }
}

/** The core's inspection as the contract's JSON (float32 values as base64). */
export function toInspectResult(r: Inspection, classes: string[], image: PipelineImage, milliseconds: number): InspectResult {
  const order = Array.from(r.probabilities.keys()).sort((a, b) => r.probabilities[b] - r.probabilities[a])
  const gray: GrayImage = { width: image.width, height: image.height, ...(image.channels === 3 ? { channels: 3 as const } : {}), pixels: Buffer.from(image.pixels).toString('base64') }
  return {
    input: tensor(r.input),
    layers: r.layers.map((l) => ({ name: l.name, ...tensor(l) })),
    top: order.slice(0, Math.min(5, order.length)).map((i) => ({ classIndex: i, label: classes[i] ?? String(i), probability: r.probabilities[i] })),
    predicted: r.predicted,
    gradcam: r.gradcam ? { layer: r.gradcam.layer, classIndex: r.gradcam.classIndex, raw: tensor(r.gradcam.raw), upsampled: tensor(r.gradcam.upsampled) } : null,
    saliency: tensor(r.saliency),
    image: gray,
    milliseconds
  }
}

/** The example with its stored pixels, so a list of them can show each image. */
function withImage(set: ImageSet, e: HardExample): HardExampleImage {
  const size = imageBytes(set)
  return { ...e, width: set.width, height: set.height, ...(set.channels === 3 ? { channels: 3 as const } : {}), pixels: Buffer.from(set.images.subarray(e.index * size, (e.index + 1) * size)).toString('base64') }
}

/** Decodes an InspectTensor's values (the CLI prints them as numbers). */
export function tensorValues(t: InspectTensor): Float32Array {
  const b = Buffer.from(t.values, 'base64')
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

/** The examples a run's recorded predictions are of, in recording order, and the set they come from. */
export function examplesOf(run: RunRecord, data: DatasetArrays, epoch: number | 'test', recorded: number): { set: ImageSet; split: 'test' | 'train'; indices: Uint32Array } {
  const v = run.config.validation
  const fromTest = epoch === 'test' || v.source === 'test'
  const set = fromTest ? data.test : data.train
  let indices: Uint32Array
  if (fromTest) {
    indices = Uint32Array.from({ length: Math.min(recorded, set.count) }, (_, i) => i)
  } else {
    const limit = run.config.trainLimit === null ? set.count : Math.min(run.config.trainLimit, set.count)
    indices = splitIndices(set.labels.subarray(0, limit), v.fraction, run.config.seed, v.stratified).val
  }
  if (indices.length !== recorded)
    throw new StudioError('data_error', `Dataset '${run.config.dataset}' no longer matches run ${run.id}: ${recorded} predictions but ${indices.length} examples.`)
  return { set, split: fromTest ? 'test' : 'train', indices }
}

export function createInspector(deps: {
  runs: RunStore
  datasets: DatasetStore
  models: Pick<ModelWorker, 'predictPixels' | 'inspectFile' | 'inspectPixels'>
}): Inspector {
  const { runs, datasets, models } = deps
  // A person clicks cell after cell of one run: keep the last dataset loaded.
  let datasetCache: { id: string; data: DatasetArrays } | null = null
  const loadDataset = async (id: string): Promise<DatasetArrays> => {
    if (datasetCache?.id === id) return datasetCache.data
    const data = await datasets.load(id)
    datasetCache = { id, data }
    return data
  }
  const checkClass = (run: RunRecord, k: number | undefined): void => {
    if (k !== undefined && k >= run.classes.length)
      throw new StudioError('invalid_argument', `Run ${run.id} has ${run.classes.length} classes; class ${k} does not exist.`)
  }

  /** Each example's probability of its true class with its prediction, for the test set or one epoch's validation. */
  const scored = async (runId: number, epoch: number | 'test'): Promise<{ set: ImageSet; examples: HardExample[] }> => {
    const run = runs.get(runId)
    const probs = runs.trueProbabilities(runId, epoch)
    const predicted = runs.predictions(runId, epoch)
    if (probs.length !== predicted.length)
      throw new StudioError('data_error', `Run ${runId}: ${probs.length} probabilities but ${predicted.length} predictions for ${epoch === 'test' ? 'the test set' : `epoch ${epoch}`}.`)
    const data = await loadDataset(run.config.dataset)
    const { set, split, indices } = examplesOf(run, data, epoch, predicted.length)
    return { set, examples: Array.from(indices, (index, i) => ({ index, split, trueClass: set.labels[index], predictedClass: predicted[i], trueProbability: probs[i] })) }
  }

  return {
    async cellExamples(a) {
      const run = runs.get(a.runId)
      const n = run.classes.length
      if (a.trueClass >= n || a.predictedClass >= n)
        throw new StudioError('invalid_argument', `Run ${a.runId} has ${n} classes; class ${Math.max(a.trueClass, a.predictedClass)} does not exist.`)
      const predicted = runs.predictions(a.runId, a.epoch)
      const data = await loadDataset(run.config.dataset)
      const { set, indices, split } = examplesOf(run, data, a.epoch, predicted.length)
      // Colour sets hold 3 bytes a pixel; the cell images keep them (the UI draws RGB).
      const size = imageBytes(set)
      const picked: number[] = []
      for (let i = 0; i < indices.length && picked.length < a.limit; i++) {
        const idx = indices[i]
        if (set.labels[idx] === a.trueClass && predicted[i] === a.predictedClass) picked.push(idx)
      }
      const images = new Uint8Array(picked.length * size)
      picked.forEach((idx, k) => images.set(set.images.subarray(idx * size, (idx + 1) * size), k * size))
      let probs: Float32Array | null = null
      if (picked.length > 0) {
        try {
          probs = await models.predictPixels(a.runId, 'best', images, picked.length, set.width)
        } catch (err) {
          console.error(`[services] run ${a.runId}: probabilities unavailable:`, (err as Error).message)
          probs = null
        }
      }
      return picked.map((idx, k) => ({
        index: idx,
        split,
        trueClass: a.trueClass,
        predictedClass: a.predictedClass,
        width: set.width,
        height: set.height,
        ...(set.channels === 3 ? { channels: 3 as const } : {}),
        pixels: Buffer.from(images.subarray(k * size, (k + 1) * size)).toString('base64'),
        probabilities: probs ? Array.from(probs.subarray(k * n, (k + 1) * n)) : null
      }))
    },

    async image(a) {
      const run = runs.get(a.runId)
      checkClass(run, a.classIndex)
      const bytes = new Uint8Array(Buffer.from(a.data, 'base64'))
      if (bytes.length === 0) throw new StudioError('invalid_argument', `The file '${a.fileName}' is empty.`)
      return models.inspectFile(a.runId, a.weights, a.fileName, bytes, a.classIndex ?? null)
    },

    async example(a) {
      const run = runs.get(a.runId)
      checkClass(run, a.classIndex)
      const data = await loadDataset(run.config.dataset)
      const set = a.split === 'test' ? data.test : data.train
      if (a.index >= set.count)
        throw new StudioError('invalid_argument', `The ${a.split} set of '${run.config.dataset}' has ${set.count} examples; example ${a.index} does not exist.`)
      // A colour example is width*height*3 bytes (RGB interleaved), as the set stores it.
      const size = set.width * set.height * (set.channels ?? 1)
      const pixels = set.images.slice(a.index * size, (a.index + 1) * size)
      return models.inspectPixels(a.runId, a.weights, pixels, set.width, a.classIndex ?? null)
    },

    async hardest(a) {
      // A class the run does not have would list nothing, silently.
      checkClass(runs.get(a.runId), a.trueClass)
      const { set, examples } = await scored(a.runId, a.epoch)
      const all = examples.filter((e) => a.trueClass === undefined || e.trueClass === a.trueClass)
      const wrong = all.filter((e) => e.predictedClass !== e.trueClass).sort((x, y) => (x.trueProbability ?? 0) - (y.trueProbability ?? 0))
      const right = all.filter((e) => e.predictedClass === e.trueClass).sort((x, y) => (x.trueProbability ?? 0) - (y.trueProbability ?? 0))
      return { confidentMistakes: wrong.slice(0, a.limit).map((e) => withImage(set, e)), leastConfidentCorrect: right.slice(0, a.limit).map((e) => withImage(set, e)) }
    },

    async flips(a) {
      const run = runs.get(a.runId)
      const data = await loadDataset(run.config.dataset)
      const before = runs.predictions(a.runId, a.from)
      const after = runs.predictions(a.runId, a.to)
      const { set, split, indices } = examplesOf(run, data, a.to, after.length)
      if (before.length !== after.length) throw new StudioError('data_error', `Run ${a.runId}: epochs ${a.from} and ${a.to} hold different numbers of predictions.`)
      let probs: Float32Array | null = null
      try {
        probs = runs.trueProbabilities(a.runId, a.to)
      } catch {
        probs = null
      }
      const rightToWrong: HardExampleImage[] = []
      const wrongToRight: HardExampleImage[] = []
      indices.forEach((index, i) => {
        const label = set.labels[index]
        const was = before[i] === label
        const is = after[i] === label
        if (was === is) return
        const e = withImage(set, { index, split, trueClass: label, predictedClass: after[i], trueProbability: probs ? probs[i] : null })
        if (was && rightToWrong.length < a.limit) rightToWrong.push(e)
        else if (!was && wrongToRight.length < a.limit) wrongToRight.push(e)
      })
      return { from: a.from, to: a.to, rightToWrong, wrongToRight }
    }
  }
}
