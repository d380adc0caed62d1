// The LeNet-5 training benchmark, measured for real on a fast backend for a fraction of a second.
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { benchmarkBackends } from '../../../src/main/backends'
import { nativePrecheck } from '../../../src/main/backends/native'

describe('benchmarkBackends', () => {
  it('measures LeNet-5 training examples/s on wasm and restores the active backend', async () => {
    await tf.setBackend('cpu')
    const before = tf.memory().numTensors
    const [r] = await benchmarkBackends(0.3, ['wasm'])
    expect(r.backend).toBe('wasm')
    expect(r.error).toBeNull()
    expect(r.examplesPerSec).toBeGreaterThan(0)
    expect(r.steps).toBeGreaterThanOrEqual(2)
    expect([16, 32, 64, 128, 256]).toContain(r.batchSize)
    expect(r.examplesPerSec).toBeCloseTo((r.steps * r.batchSize) / r.seconds, 6)
    expect(tf.getBackend()).toBe('cpu')
    expect(tf.memory().numTensors).toBe(before)
  })

  it('reports an unavailable backend with its reason instead of a figure', async (ctx) => {
    const missing = nativePrecheck('@tensorflow/tfjs-node-gpu')
    if (!missing) return ctx.skip()
    const [r] = await benchmarkBackends(0.3, ['tensorflow-gpu'])
    expect(r.examplesPerSec).toBeNull()
    expect(r.error).toContain('@tensorflow/tfjs-node-gpu')
  })
})
