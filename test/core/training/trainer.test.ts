// The fit loop on the pure-JS cpu backend with a tiny network: determinism, callbacks, cancel,
// early stopping, validation split, best-checkpoint test evaluation and tensor leaks.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { modelFromArtifacts } from '../../../src/core/models/io'
import { TrainError, train, type EpochEnd } from '../../../src/core/training/trainer'
import type { BatchPoint } from '../../../src/shared/domain'
import type { TrainConfigInput } from '../../../src/shared/schemas'
import { bandData, tinySpec } from './synthetic'

const data = bandData(240, 60, 8, 3)

function config(over: Partial<TrainConfigInput> = {}): TrainConfigInput {
  return {
    model: 'custom',
    spec: tinySpec,
    dataset: 'bands',
    optimizer: 'sgd',
    lr: 0.5,
    batchSize: 16,
    epochs: 3,
    seed: 11,
    validation: { source: 'test' },
    init: 'xavier',
    ...over
  }
}

interface Recorded {
  points: BatchPoint[]
  epochs: EpochEnd[]
  tensorsAtEpochEnd: number[]
}

function recorder(): Recorded & { callbacks: Parameters<typeof train>[2] } {
  const r: Recorded = { points: [], epochs: [], tensorsAtEpochEnd: [] }
  return {
    ...r,
    callbacks: {
      onBatch: (e) => r.points.push(e),
      onEpoch: (e) => {
        r.epochs.push(e)
        r.tensorsAtEpochEnd.push(tf.memory().numTensors)
      }
    }
  }
}

const timing = ({ seconds: _s, examplesPerSec: _e, saveWeights: _w, saveState: _st, ...rest }: EpochEnd) => rest
const pointValues = ({ examplesPerSec: _e, etaSeconds: _t, ...rest }: BatchPoint) => rest

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('train() on the cpu backend', () => {
  it('learns a separable problem and reports start info, points and epochs', async () => {
    const rec = recorder()
    let start: unknown = null
    const result = await train(config(), data, { ...rec.callbacks, onStart: (i) => void (start = i) }, { pointsPerEpoch: 5 })
    expect(start).toEqual({ paramCount: 4 * 9 + 4 + 64 * 3 + 3, trainCount: 240, valCount: 60, testCount: 60, stepsPerEpoch: 15 })
    expect(result.status).toBe('completed')
    expect(result.epochsDone).toBe(3)
    expect(rec.epochs.map((e) => e.epoch)).toEqual([1, 2, 3])
    // 15 steps, 5 points: one every 3 batches; x runs up to the epoch number.
    expect(rec.points.filter((p) => p.epoch === 1).map((p) => p.batch)).toEqual([3, 6, 9, 12, 15])
    expect(rec.points.at(-1)!.x).toBe(3)
    expect(result.test!.acc).toBeGreaterThan(0.9)
    expect(result.test!.predictions.length).toBe(60)
    expect(result.test!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(60)
    expect(result.test!.precision.length).toBe(3)
    expect(result.examplesPerSec).toBeGreaterThan(0)
    const last = rec.epochs.at(-1)!
    expect(last.predictions.length).toBe(60)
    expect(last.trainAcc).toBeGreaterThan(0.8)
  })

  it('same seed -> identical curves, epochs and predictions; another seed differs', async () => {
    const a = recorder()
    const b = recorder()
    const c = recorder()
    const ra = await train(config(), data, a.callbacks)
    const rb = await train(config(), data, b.callbacks)
    await train(config({ seed: 12 }), data, c.callbacks)
    expect(b.points.map(pointValues)).toEqual(a.points.map(pointValues))
    expect(b.epochs.map(timing)).toEqual(a.epochs.map(timing))
    expect(Array.from(rb.test!.predictions)).toEqual(Array.from(ra.test!.predictions))
    expect(c.points.map(pointValues)).not.toEqual(a.points.map(pointValues))
  })

  it('keeps tf.memory().numTensors flat across epochs and frees everything at the end', async () => {
    const before = tf.memory().numTensors
    const rec = recorder()
    await train(config({ epochs: 4, optimizer: 'adam', lr: 0.01, weightDecay: 1e-4 }), data, rec.callbacks)
    expect(new Set(rec.tensorsAtEpochEnd).size).toBe(1)
    expect(tf.memory().numTensors).toBe(before)
  })

  it('cancels between batches and returns promptly with status cancelled', async () => {
    const controller = new AbortController()
    const before = tf.memory().numTensors
    const rec = recorder()
    const result = await train(config({ epochs: 5 }), data, {
      ...rec.callbacks,
      onBatch: (e) => {
        rec.points.push(e)
        if (e.epoch === 2) controller.abort()
      }
    }, { signal: controller.signal, pointsPerEpoch: 15 })
    expect(result.status).toBe('cancelled')
    expect(result.epochsDone).toBe(1)
    expect(result.test).toBeNull()
    // The abort came at the first point of epoch 2 (batch 1); the loop stopped before batch 2.
    expect(rec.points.filter((p) => p.epoch === 2).length).toBe(1)
    expect(tf.memory().numTensors).toBe(before)
  })

  it('an abort at the last batch of an epoch skips the evaluation (long for AlexNet) and onEpoch', async () => {
    const controller = new AbortController()
    let epochs = 0
    const result = await train(config({ epochs: 3 }), data, {
      onBatch: (e) => {
        if (e.batch === 15) controller.abort()
      },
      onEpoch: () => void epochs++
    }, { signal: controller.signal, pointsPerEpoch: 5 })
    expect(result).toMatchObject({ status: 'cancelled', epochsDone: 0, test: null })
    expect(epochs).toBe(0)
  })

  it('cancels while awaiting onEpoch too (signal checked after the callback)', async () => {
    const controller = new AbortController()
    const result = await train(config({ epochs: 5 }), data, { onEpoch: () => controller.abort() }, { signal: controller.signal })
    expect(result).toMatchObject({ status: 'cancelled', epochsDone: 1 })
  })

  it('stops early after `patience` epochs without a better validation accuracy', async () => {
    // A learning rate this small leaves accuracy where initialisation put it.
    const rec = recorder()
    const result = await train(config({ epochs: 10, lr: 1e-9, earlyStoppingPatience: 2 }), data, rec.callbacks)
    expect(result.status).toBe('completed')
    expect(result.epochsDone).toBe(3)
    expect(result.bestEpoch).toBe(1)
    expect(rec.epochs.map((e) => e.isBest)).toEqual([true, false, false])
  })

  it('validates on a split of the training set and tests the best checkpoint', async () => {
    const rec = recorder()
    const result = await train(
      config({ epochs: 4, validation: { source: 'split', fraction: 0.25, stratified: true }, optimizer: 'adam', lr: 0.02 }),
      data,
      rec.callbacks
    )
    expect(rec.epochs[0].predictions.length).toBe(60)
    expect(rec.epochs[0].confusion.flat().reduce((a, b) => a + b, 0)).toBe(60)
    const best = rec.epochs.find((e) => e.isBest && e.epoch === result.bestEpoch)!
    expect(result.bestValAcc).toBe(Math.max(...rec.epochs.map((e) => e.valAcc)))
    expect(best.valAcc).toBe(result.bestValAcc)
    expect(result.test!.predictions.length).toBe(60)
  })

  it('with validation on the test set, the final test evaluation is the best epoch again', async () => {
    const rec = recorder()
    // lr large enough that accuracy moves around between epochs.
    const result = await train(config({ epochs: 4, lr: 2 }), data, rec.callbacks)
    const best = rec.epochs.find((e) => e.epoch === result.bestEpoch)!
    expect(result.test!.acc).toBe(best.valAcc)
    expect(Array.from(result.test!.predictions)).toEqual(Array.from(best.predictions))
  })

  it('saveWeights() hands over artifacts that load back into an equivalent model', async () => {
    let artifacts: tf.io.ModelArtifacts | null = null
    const result = await train(config({ epochs: 1 }), data, {
      onEpoch: async (e) => {
        artifacts = await e.saveWeights()
      }
    })
    const model = await modelFromArtifacts(artifacts!)
    const x = tf.div(tf.tensor4d(Float32Array.from(data.test.images), [60, 8, 8, 1]), 255)
    const predicted = (model.predict(x) as tf.Tensor).argMax(1).dataSync()
    expect(Array.from(predicted)).toEqual(Array.from(result.test!.predictions))
    model.dispose()
    x.dispose()
  })

  it('rejects a dataset whose class count differs from the model, and a bad config, with clear errors', async () => {
    await expect(train(config({ spec: { ...tinySpec, numClasses: 4, layers: [...tinySpec.layers.slice(0, -1), { type: 'linear', outFeatures: 4 }] } }), data, {})).rejects.toThrow(
      /dataset 'bands' has 3 classes but the model outputs 4/
    )
    await expect(train(config({ batchSize: 0 }), data, {})).rejects.toThrow(TrainError)
    await expect(train(config({ batchSize: 0 }), data, {})).rejects.toThrow(/batchSize/)
  })
})
