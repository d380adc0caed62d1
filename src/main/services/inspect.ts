// Inspection queries over recorded runs: the examples behind a confusion-matrix cell, with the
// probabilities the run's best weights give them. Which images a run's predictions are of is
// recomputed exactly as the trainer chose them (same labels prefix, fraction, seed).
import { StudioError } from '../../shared/contract'
import type { CellExample } from '../../shared/domain'
import type { ParsedArgs } from '../../shared/contract'
import { splitIndices } from '../../core/data/split'
import type { DatasetArrays } from '../../core/data/types'
import type { RunStore } from './runs'
import type { DatasetStore } from './datasets'
import type { ModelWorker } from './model-worker'

export interface Inspector {
  cellExamples(a: ParsedArgs<'runs.cellExamples'>): Promise<CellExample[]>
}

export function createInspector(deps: { runs: RunStore; datasets: DatasetStore; models: Pick<ModelWorker, 'predictPixels'> }): Inspector {
  const { runs, datasets, models } = deps
  // A person clicks cell after cell of one run: keep the last dataset loaded.
  let datasetCache: { id: string; data: DatasetArrays } | null = null
  const loadDataset = async (id: string): Promise<DatasetArrays> => {
    if (datasetCache?.id === id) return datasetCache.data
    const data = await datasets.load(id)
    datasetCache = { id, data }
    return data
  }

  return {
    async cellExamples(a) {
      const run = runs.get(a.runId)
      const n = run.classes.length
      if (a.trueClass >= n || a.predictedClass >= n)
        throw new StudioError('invalid_argument', `Run ${a.runId} has ${n} classes; class ${Math.max(a.trueClass, a.predictedClass)} does not exist.`)
      const predicted = runs.predictions(a.runId, a.epoch)
      const data = await loadDataset(run.config.dataset)
      const v = run.config.validation
      const set = a.epoch === 'test' || v.source === 'test' ? data.test : data.train
      let indices: Uint32Array
      if (a.epoch === 'test' || v.source === 'test') {
        indices = Uint32Array.from({ length: Math.min(predicted.length, set.count) }, (_, i) => i)
      } else {
        const limit = run.config.trainLimit === null ? set.count : Math.min(run.config.trainLimit, set.count)
        indices = splitIndices(set.labels.subarray(0, limit), v.fraction, run.config.seed, v.stratified).val
      }
      if (indices.length !== predicted.length)
        throw new StudioError(
          'data_error',
          `Dataset '${run.config.dataset}' no longer matches run ${a.runId}: ${predicted.length} predictions but ${indices.length} examples.`
        )
      const size = set.height * set.width
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
        trueClass: a.trueClass,
        predictedClass: a.predictedClass,
        width: set.width,
        height: set.height,
        pixels: Buffer.from(images.subarray(k * size, (k + 1) * size)).toString('base64'),
        probabilities: probs ? Array.from(probs.subarray(k * n, (k + 1) * n)) : null
      }))
    }
  }
}
