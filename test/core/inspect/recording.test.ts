// What train() records for the inspection views when asked (options.inspection): histograms and
// first-conv filters per epoch, and each example's probability of its true class, checked against
// the weights the same epoch saved, run through a fresh model here.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { modelFromArtifacts } from '../../../src/core/models/io'
import { train, type EpochEnd } from '../../../src/core/training/trainer'
import type { TrainConfigInput } from '../../../src/shared/schemas'
import { bandData, tinySpec } from '../training/synthetic'

const data = bandData(96, 40, 8, 3)
const config: TrainConfigInput = {
  model: 'custom',
  spec: tinySpec,
  dataset: 'bands',
  optimizer: 'sgd',
  lr: 0.5,
  batchSize: 16,
  epochs: 2,
  seed: 5,
  validation: { source: 'split', fraction: 0.25, stratified: true },
  init: 'xavier'
}

/** Probability of the true class for every image, computed here from saved weights. */
async function trueProbs(weights: tf.io.ModelArtifacts, images: Uint8Array, labels: Uint8Array): Promise<Float32Array> {
  const model = await modelFromArtifacts(weights)
  const n = labels.length
  const p = tf.tidy(() => tf.softmax(model.predict(tf.div(tf.tensor4d(Float32Array.from(images), [n, 8, 8, 1]), 255)) as tf.Tensor2D).arraySync() as number[][])
  model.dispose()
  return Float32Array.from(p, (row, i) => row[labels[i]])
}

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('train() with inspection', () => {
  it('gives every epoch histograms, the first conv filters and the validation true-class probabilities; the test set too', async () => {
    const epochs: { e: EpochEnd; weights: tf.io.ModelArtifacts }[] = []
    const before = tf.memory().numTensors
    const result = await train(config, data, { onEpoch: async (e) => void epochs.push({ e, weights: await e.saveWeights() }) }, { inspection: true })
    expect(tf.memory().numTensors).toBe(before)
    expect(epochs.map(({ e }) => e.epoch)).toEqual([1, 2])
    for (const { e } of epochs) {
      const i = e.inspection!
      // Conv2d-1 and Linear-5 of tinySpec, a weight and a gradient histogram each.
      expect(i.histograms.map((h) => `${h.layer}/${h.kind}`)).toEqual(['Conv2d-1/weight', 'Conv2d-1/gradient', 'Linear-5/weight', 'Linear-5/gradient'])
      expect(i.histograms.find((h) => h.layer === 'Conv2d-1' && h.kind === 'weight')!.counts.reduce((a, b) => a + b, 0)).toBe(4 * 9)
      expect(i.histograms.find((h) => h.layer === 'Linear-5' && h.kind === 'weight')!.counts.reduce((a, b) => a + b, 0)).toBe(64 * 3)
      expect(i.filters).toMatchObject({ epoch: e.epoch, layer: 'Conv2d-1', shape: [4, 1, 3, 3] })
      expect(i.filters!.values).toHaveLength(36)
      expect(i.trueProbabilities).toHaveLength(e.predictions.length)
    }
    // The filters moved between the epochs (they are snapshots, not one shared array).
    expect(epochs[0].e.inspection!.filters!.values).not.toEqual(epochs[1].e.inspection!.filters!.values)

    // Test set, evaluated with the best epoch's weights: recomputed independently from those weights.
    const bestWeights = epochs.find(({ e }) => e.epoch === result.bestEpoch)!.weights
    const expected = await trueProbs(bestWeights, data.test.images, data.test.labels)
    const got = result.test!.trueProbabilities!
    expect(got).toHaveLength(40)
    expect(Math.max(...Array.from(got, (v, i) => Math.abs(v - expected[i])))).toBeLessThan(1e-5)
    // A correct prediction's true class is at least as likely as any other: > 1/3 for 3 classes.
    result.test!.predictions.forEach((p, i) => {
      if (p === data.test.labels[i]) expect(got[i]).toBeGreaterThan(1 / 3 - 1e-6)
    })
  })

  it('records nothing extra without the option', async () => {
    const epochs: EpochEnd[] = []
    const result = await train(config, data, { onEpoch: (e) => void epochs.push(e) })
    expect(epochs.every((e) => e.inspection === undefined)).toBe(true)
    expect(result.test!.trueProbabilities).toBeUndefined()
  })
})
