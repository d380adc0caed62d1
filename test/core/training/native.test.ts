// Full-size presets need the native backend to train in test time (the pure-JS cpu backend does
// about 4 LeNet examples/s on this machine). When @tensorflow/tfjs-node is not installed these tests
// are skipped with a message instead.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { getPreset } from '../../../src/core/models/presets'
import { train } from '../../../src/core/training/trainer'
import type { TrainConfigInput } from '../../../src/shared/schemas'
import { selectBackend } from '../../../src/main/backends'
import { bandData } from './synthetic'

let nativeError: string | null = null
beforeAll(async () => {
  try {
    await selectBackend('tensorflow')
  } catch (error) {
    nativeError = error instanceof Error ? error.message.split('\n')[0] : String(error)
    console.warn(`native tensorflow backend not loadable, skipping full-size preset tests: ${nativeError}`)
  }
})

function preset(id: string, over: Partial<TrainConfigInput>): TrainConfigInput {
  const p = getPreset(id)!
  return { ...(p.recommended as TrainConfigInput), model: id, spec: p.spec, dataset: 'bands', seed: 0, ...over }
}

describe('full-size presets on the native backend', () => {
  it('lenet5-leaky learns a tiny separable 28x28 problem', async (ctx) => {
    if (nativeError) ctx.skip()
    const data = bandData(600, 100, 28, 10)
    const result = await train(preset('lenet5-leaky', { epochs: 8, batchSize: 32 }), data, {})
    expect(result.status).toBe('completed')
    expect(result.test!.acc).toBeGreaterThan(0.9)
  })

  // Sigmoid LeNet sits on a plateau at chance for the first few hundred steps (Fashion-MNIST: about
  // one epoch at lr 0.9; see bench/accuracy.ts for the full runs), too long for a unit test; here
  // it must at least train with finite, falling loss.
  it('lenet5 (sigmoid, d2l settings) trains with finite, falling loss', async (ctx) => {
    if (nativeError) ctx.skip()
    const data = bandData(512, 64, 28, 10)
    const losses: number[] = []
    const result = await train(preset('lenet5', { epochs: 3, batchSize: 64 }), data, { onEpoch: (e) => void losses.push(e.trainLoss) })
    expect(result.status).toBe('completed')
    losses.forEach((l) => expect(Number.isFinite(l)).toBe(true))
    expect(losses[2]).toBeLessThan(losses[0])
  })

  it('lenet5-modern (batch norm) trains and evaluates with its moving statistics', async (ctx) => {
    if (nativeError) ctx.skip()
    const data = bandData(400, 100, 28, 10)
    const result = await train(preset('lenet5-modern', { epochs: 3, batchSize: 32 }), data, {})
    expect(result.test!.acc).toBeGreaterThan(0.9)
  })

  it('alexnet trains a few steps on tiny data (28 -> 224 on the fly) without leaking', async (ctx) => {
    if (nativeError) ctx.skip()
    const data = bandData(6, 2, 28, 10)
    const before = tf.memory().numTensors
    const losses: number[] = []
    const result = await train(preset('alexnet', { epochs: 1, batchSize: 2 }), data, {
      onStart: (i) => expect(i.paramCount).toBe(46_764_746),
      onBatch: (e) => losses.push(e.loss)
    }, { pointsPerEpoch: 3 })
    expect(result.status).toBe('completed')
    expect(losses.length).toBe(3)
    losses.forEach((l) => expect(Number.isFinite(l)).toBe(true))
    expect(result.test!.predictions.length).toBe(2)
    expect(tf.memory().numTensors).toBe(before)
  })
})
