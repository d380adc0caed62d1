// The faster training steps (step.ts) against today's tape step, on the pure-JS cpu backend: same
// loss, same gradients, same weights after SGD / momentum / Adam steps, per layer type and for the
// LeNet-5 presets; and which kind each model gets.
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { getPreset } from '../../../src/core/models/presets'
import { buildModel } from '../../../src/core/models/build'
import { makeTrainStep } from '../../../src/core/training/step'
import { train } from '../../../src/core/training/trainer'
import { batchNormNet, compareWithReference, leakyDropoutNet, reluNet, sigmoidNet } from './step-cases'
import { bandData, tinySpec } from './synthetic'

const TOL = 1e-5

beforeAll(async () => {
  await tf.setBackend('cpu')
})

describe('training step kinds on the cpu backend', () => {
  const cases = [
    ['conv same padding, sigmoid, avg-pool, linear', sigmoidNet, 'explicit'],
    ['strided conv with zero padding, relu, max-pool, tanh', reluNet, 'explicit'],
    ['leaky relu and seeded dropout', leakyDropoutNet, 'explicit'],
    ['batch norm 2d and 1d', batchNormNet, 'explicit']
  ] as const
  for (const [name, spec, kind] of cases) {
    for (const optimizer of ['sgd', 'adam'] as const) {
      it(`${name} (${optimizer}): ${kind} step equals the reference in loss, gradients and weights`, () => {
        const c = compareWithReference(spec, { optimizer, lr: optimizer === 'adam' ? 0.01 : 0.5, steps: 3 })
        expect(c.kind).toBe(kind)
        expect(c.gradCount).toBeGreaterThan(0)
        expect(c.lossDiff).toBeLessThan(TOL)
        expect(c.gradDiff).toBeLessThan(TOL)
        expect(c.weightDiff).toBeLessThan(TOL)
        // The moving mean follows the bias before batch norm, which Adam moves by noise (step-cases.ts).
        if (!(spec === batchNormNet && optimizer === 'adam')) expect(c.stateDiff).toBeLessThan(TOL)
      })
    }
  }

  it('the tape step with levers equals the reference on a model the explicit step also covers', () => {
    const c = compareWithReference(sigmoidNet, { kind: 'tape' })
    expect(c.kind).toBe('tape')
    expect(c.gradDiff).toBeLessThan(TOL)
    expect(c.weightDiff).toBeLessThan(TOL)
  })

  it('weight decay and momentum: loss includes the decay term, gradients and weights equal', () => {
    for (const kind of ['auto', 'tape'] as const) {
      const c = compareWithReference(reluNet, { kind, optimizer: 'momentum', lr: 0.1, weightDecay: 0.01, steps: 3 })
      expect(c.lossDiff).toBeLessThan(TOL)
      expect(c.gradDiff).toBeLessThan(TOL)
      expect(c.weightDiff).toBeLessThan(TOL)
    }
  })

  it('LeNet-5 preset: explicit step equals the reference', () => {
    const c = compareWithReference(getPreset('lenet5')!.spec, { batchSize: 4, lr: 0.9, steps: 1 })
    expect(c.kind).toBe('explicit')
    expect(c.gradCount).toBe(10)
    expect(c.lossDiff).toBeLessThan(TOL)
    expect(c.gradDiff).toBeLessThan(TOL)
    expect(c.weightDiff).toBeLessThan(TOL)
  })

  it('LeNet-5 (modern, batch norm) preset: explicit step equals the reference, moving statistics included', () => {
    const c = compareWithReference(getPreset('lenet5-modern')!.spec, { batchSize: 4, lr: 0.1, steps: 1 })
    expect(c.kind).toBe('explicit')
    expect(c.gradDiff).toBeLessThan(TOL)
    expect(c.weightDiff).toBeLessThan(TOL)
    expect(c.stateDiff).toBeLessThan(TOL)
  })

  it('AlexNet gets the explicit step (all its layer types are covered)', () => {
    const model = buildModel(getPreset('alexnet')!.spec, { init: 'xavier', seed: 0 })
    const optimizer = tf.train.sgd(0.01)
    const step = makeTrainStep(model, optimizer, { numClasses: 10, weightDecay: 0 })
    expect(step.kind).toBe('explicit')
    optimizer.dispose()
    model.dispose()
  })

  it('train() curves are the same with the explicit and the reference step, and nothing leaks', async () => {
    const data = bandData(96, 24, 8, 3)
    const config = { model: 'custom', spec: tinySpec, dataset: 'bands', optimizer: 'sgd' as const, lr: 0.5, batchSize: 16, epochs: 2, seed: 5, validation: { source: 'test' as const }, init: 'xavier' as const }
    const losses: Record<string, number[]> = { auto: [], reference: [] }
    const kinds: string[] = []
    const before = tf.memory().numTensors
    for (const step of ['auto', 'reference'] as const) {
      await train(config, data, { onBatch: (e) => void losses[step].push(e.loss) }, { step, pointsPerEpoch: 6, onStepKind: (k) => void kinds.push(k) })
    }
    expect(kinds).toEqual(['explicit', 'reference'])
    expect(losses.auto.length).toBe(12)
    losses.auto.forEach((l, i) => expect(Math.abs(l - losses.reference[i])).toBeLessThan(1e-5))
    expect(tf.memory().numTensors).toBe(before)
  })
})
