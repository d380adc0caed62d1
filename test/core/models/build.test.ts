import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { buildModel } from '../../../src/core/models/build'
import { modelFromArtifacts, modelToArtifacts, toInputTensor } from '../../../src/core/models/io'
import { getPreset } from '../../../src/core/models/presets'
import { summarize } from '../../../src/core/models/summary'

async function weightsOf(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array))
}

describe('buildModel', () => {
  for (const id of ['lenet5', 'lenet5-leaky', 'lenet5-modern']) {
    it(`${id}: trainable parameter count equals the spec's and the output is [N, 10]`, () => {
      const spec = getPreset(id)!.spec
      const model = buildModel(spec, { init: 'xavier', seed: 3 })
      const trainable = model.trainableWeights.reduce((s, w) => s + w.shape.reduce<number>((p, d) => p * (d ?? 1), 1), 0)
      expect(trainable).toBe(summarize(spec).trainableParams)
      const y = tf.tidy(() => model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor)
      expect(y.shape).toEqual([2, 10])
      y.dispose()
      model.dispose()
    })
  }

  it('same seed -> same weights; another seed -> other weights; xavier bounds hold', async () => {
    const spec = getPreset('lenet5')!.spec
    const [a, b, c] = [1, 1, 2].map((seed) => buildModel(spec, { init: 'xavier', seed }))
    const [wa, wb, wc] = await Promise.all([a, b, c].map(weightsOf))
    expect(wa).toEqual(wb)
    expect(wa[0]).not.toEqual(wc[0])
    // Linear(400, 120): xavier bound sqrt(6 / (400 + 120)).
    const dense = a.getLayer('linear_8').getWeights()[0]
    const bound = Math.sqrt(6 / 520)
    const max = dense.abs().max().dataSync()[0]
    expect(max).toBeLessThanOrEqual(bound)
    expect(max).toBeGreaterThan(bound * 0.9)
    ;[a, b, c].forEach((m) => m.dispose())
  })

  it("'default' init is PyTorch's U(+-1/sqrt(fan_in)) for weights", () => {
    const model = buildModel(getPreset('lenet5')!.spec, { init: 'default', seed: 5 })
    const max = model.getLayer('linear_8').getWeights()[0].abs().max().dataSync()[0]
    expect(max).toBeLessThanOrEqual(1 / Math.sqrt(400))
    expect(max).toBeGreaterThan(0.9 / Math.sqrt(400))
    model.dispose()
  })

  it('round-trips through artifacts with the same predictions (SeededDropout included)', async () => {
    const spec = {
      name: 'tiny',
      inputSize: 8,
      inputChannels: 1 as const,
      numClasses: 3,
      layers: [
        { type: 'conv2d' as const, outChannels: 2, kernelSize: 3, stride: 2, padding: 1 },
        { type: 'relu' as const },
        { type: 'flatten' as const },
        { type: 'dropout' as const, p: 0.5 },
        { type: 'linear' as const, outFeatures: 3 }
      ]
    }
    const model = buildModel(spec, { init: 'xavier', seed: 9 })
    const x = toInputTensor(new Uint8Array(2 * 16 * 16).map((_, i) => i % 256), 2, 16, spec)
    expect(x.shape).toEqual([2, 8, 8, 1])
    const loaded = await modelFromArtifacts(await modelToArtifacts(model))
    const p1 = (model.predict(x) as tf.Tensor).dataSync()
    const p2 = (loaded.predict(x) as tf.Tensor).dataSync()
    expect(Array.from(p2)).toEqual(Array.from(p1))
    tf.dispose([x])
    model.dispose()
    loaded.dispose()
  })
})
