// Predicting a dropped photo with a run trained on an imported picture folder: the photo is made
// exactly as the import made the dataset (colour, side, policy), normalised with the run's numbers,
// and the answer names the folder's classes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildModel } from '../../../src/core/models/build'
import { fitSpecToData } from '../../../src/core/models/fit'
import { modelToArtifacts } from '../../../src/core/models/io'
import { getPreset } from '../../../src/core/models/presets'
import { clearDatasetMemory, DatasetStore } from '../../../src/main/services/datasets'
import { prepareRunConfig } from '../../../src/main/services/datasets-run'
import { Predictor } from '../../../src/main/services/predict'
import { RunStore } from '../../../src/main/services/runs'
import { writeCheckpoint } from '../../../src/main/storage/checkpoint'
import { TrainConfigSchema } from '../../../src/shared/schemas'
import { makeShapesFolder } from '../../helpers/shapes'

let dir: string
let store: RunStore
let datasets: DatasetStore
let runId: number
let folder: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cs-pphoto-'))
  clearDatasetMemory()
  folder = join(dir, 'shapes')
  await makeShapesFolder(folder, { classes: { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'], 'green cross': ['cross', 'green'] }, perClass: 6, side: [30, 70], formats: ['jpeg', 'png'] })
  datasets = new DatasetStore({ dataDir: dir })
  await datasets.importImages(folder, 'shapes', { policy: 'fit', size: 24 })
  store = RunStore.open(dir)
  const preset = getPreset('lenet5-modern')!
  const config = await prepareRunConfig(
    datasets,
    TrainConfigSchema.parse({ model: 'lenet5-modern', spec: preset.spec, dataset: 'shapes', optimizer: 'adam', lr: 0.001, batchSize: 8, epochs: 1, seed: 1, validation: { source: 'test' }, init: 'default', normalize: 'dataset' })
  )
  const run = store.create(config, { classes: (await datasets.info('shapes')).classes, paramCount: 0 })
  runId = run.id
  const model = buildModel(config.spec, { init: 'default', seed: 3 })
  writeCheckpoint(store.weightsDir(run.id, 'best'), await modelToArtifacts(model))
  model.dispose()
})
afterAll(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('a photo set run predicts dropped photos as the set was made', () => {
  it('the run stores the import side and policy and the training split statistics', () => {
    const config = store.get(runId).config
    expect(config.imagePrep).toEqual({ size: 24, policy: 'fit' })
    expect(config.spec).toEqual(fitSpecToData(getPreset('lenet5-modern')!.spec, { channels: 3, size: 24, numClasses: 3 }))
    expect((config.normalize as { mean: number[] }).mean).toHaveLength(3)
  })

  it('a training file dropped in gives exactly the probabilities of its cached pixels (one preprocessing, colour kept)', async () => {
    const predictor = new Predictor({ runs: store, styleOf: () => 'photos' })
    const data = await datasets.load('shapes')
    const report = datasets.importReport('shapes')!
    // The first training image of class 0 ('blue square') is the first file of that class in name order
    // that the split left in train.
    const k = data.train.labels.indexOf(0)
    const pixels = data.train.images.subarray(k * 24 * 24 * 3, (k + 1) * 24 * 24 * 3)
    const fromCache = await predictor.predictPixels(runId, 'best', pixels, 1, 24)
    let matched = false
    for (const name of ['00000.jpg', '00001.png', '00002.jpg', '00003.png', '00004.jpg', '00005.png']) {
      const r = await predictor.predictFile(runId, 'best', name, readFileSync(join(folder, 'blue square', name)), 3)
      expect(r.top.map((t) => t.label).sort()).toEqual([...report.classes].sort())
      if (r.top.every((t) => Math.abs(t.probability - fromCache[t.classIndex]) < 1e-6)) matched = true
    }
    expect(matched).toBe(true)
  })

  it('shows each step in colour: the decoded photo, the import-sized picture, the normalisation', async () => {
    const predictor = new Predictor({ runs: store, styleOf: () => 'photos' })
    const r = await predictor.predictFile(runId, 'best', 'a.jpg', readFileSync(join(folder, 'red circle', '00000.jpg')), 2)
    expect(r.steps.map((s) => s.name)).toEqual([expect.stringMatching(/^decoded \(\d+x\d+\)$/), 'resized to 24x24 (fit)', expect.stringMatching(/^normalised: mean [\d.]+\/[\d.]+\/[\d.]+, std /)])
    expect(r.steps[1].image).toMatchObject({ width: 24, height: 24, channels: 3 })
    expect(Buffer.from(r.steps[1].image.pixels, 'base64').length).toBe(24 * 24 * 3)
    expect(r.top).toHaveLength(2)
  })

  it('the inputs are normalised with the run numbers: the same weights without them answer otherwise', async () => {
    const predictor = new Predictor({ runs: store, styleOf: () => 'photos' })
    const data = await datasets.load('shapes')
    const pixels = data.test.images.subarray(0, 24 * 24 * 3)
    const ours = await predictor.predictPixels(runId, 'best', pixels, 1, 24)
    const config = store.get(runId).config
    const n = config.normalize as { mean: number[]; std: number[] }
    const model = buildModel(config.spec, { init: 'default', seed: 3 })
    const x = tf.tensor4d(Float32Array.from(pixels, (v, i) => (v / 255 - n.mean[i % 3]) / n.std[i % 3]), [1, 24, 24, 3])
    const byHand = tf.softmax(model.predict(x) as tf.Tensor).dataSync()
    const raw = tf.softmax(model.predict(tf.tensor4d(Float32Array.from(pixels, (v) => v / 255), [1, 24, 24, 3])) as tf.Tensor).dataSync()
    for (let c = 0; c < 3; c++) expect(ours[c]).toBeCloseTo(byHand[c], 5)
    expect(Math.max(...[0, 1, 2].map((c) => Math.abs(raw[c] - byHand[c])))).toBeGreaterThan(1e-4)
    model.dispose()
  })
})
