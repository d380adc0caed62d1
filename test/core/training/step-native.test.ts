// The faster training steps against today's tape step on the native backend, where the explicit
// step runs TensorFlow's own BiasAdd, SigmoidGrad, ReluGrad, TanhGrad, 2-D MatMul and fused softmax
// cross-entropy: same loss, gradients and weights, per layer type and for every preset. Skipped with
// a message when @tensorflow/tfjs-node is not loadable.
import { beforeAll, describe, expect, it } from 'vitest'
import { getPreset } from '../../../src/core/models/presets'
import { selectBackend } from '../../../src/main/backends'
import { batchNormNet, compareWithReference, leakyDropoutNet, reluNet, sigmoidNet } from './step-cases'

// oneDNN's reductions and the reordered (two-stage) conv bias sum round differently from tfjs' own
// ops: up to ~1e-5 of a gradient's largest entry (1.0e-5 seen on LeNet-5 leaky at batch 64).
const TOL = 3e-5
let nativeError: string | null = null
beforeAll(async () => {
  try {
    await selectBackend('tensorflow')
  } catch (error) {
    nativeError = error instanceof Error ? error.message.split('\n')[0] : String(error)
    console.warn(`native tensorflow backend not loadable, skipping native step tests: ${nativeError}`)
  }
})

describe('training step kinds on the native backend', () => {
  const cases = [
    ['conv same padding, sigmoid, avg-pool, linear', sigmoidNet, 'explicit'],
    ['strided conv with zero padding, relu, max-pool, tanh', reluNet, 'explicit'],
    ['leaky relu and seeded dropout', leakyDropoutNet, 'explicit'],
    ['batch norm 2d and 1d', batchNormNet, 'explicit']
  ] as const
  for (const [name, spec, kind] of cases) {
    it(`${name}: ${kind} step equals the reference (SGD, Adam, and momentum with weight decay)`, (ctx) => {
      if (nativeError) ctx.skip()
      // Not with batch norm: weight decay turns the pre-batch-norm bias's noise gradient (step-cases.ts)
      // into a small real one that the noise then dominates (1e-4 relative).
      const decay = spec === batchNormNet ? 0 : 0.01
      // Adam: the native step updates through the binding with AdamOptimizer's arithmetic and state.
      for (const o of [{ optimizer: 'sgd' as const, lr: 0.5 }, { optimizer: 'adam' as const, lr: 0.01 }, { optimizer: 'momentum' as const, lr: 0.1, weightDecay: decay }]) {
        const c = compareWithReference(spec, { ...o, steps: 3 })
        expect(c.kind).toBe(kind)
        expect(c.lossDiff).toBeLessThan(TOL)
        expect(c.gradDiff).toBeLessThan(TOL)
        expect(c.weightDiff).toBeLessThan(TOL)
        // The moving mean follows the bias before batch norm, which Adam moves by noise (step-cases.ts).
        if (!(spec === batchNormNet && o.optimizer === 'adam')) expect(c.stateDiff).toBeLessThan(TOL)
      }
    })
  }

  const presets = [
    ['lenet5', 'explicit', 64, 0.9],
    ['lenet5-leaky', 'explicit', 64, 0.1],
    ['lenet5-modern', 'explicit', 64, 0.1],
    ['alexnet', 'explicit', 2, 0.01]
  ] as const
  for (const [id, kind, batchSize, lr] of presets) {
    it(`${id} preset: ${kind} step equals the reference in loss, gradients and weights`, (ctx) => {
      if (nativeError) ctx.skip()
      const c = compareWithReference(getPreset(id)!.spec, { batchSize, lr, steps: id === 'alexnet' ? 1 : 2 })
      expect(c.kind).toBe(kind)
      expect(c.lossDiff).toBeLessThan(TOL)
      expect(c.gradDiff).toBeLessThan(TOL)
      expect(c.weightDiff).toBeLessThan(TOL)
      expect(c.stateDiff).toBeLessThan(TOL)
    }, 120_000)
  }

  it('the tape step with levers (fused cross-entropy, SigmoidGrad) equals the reference on LeNet-5', (ctx) => {
    if (nativeError) ctx.skip()
    const c = compareWithReference(getPreset('lenet5')!.spec, { kind: 'tape', batchSize: 64, lr: 0.9, steps: 2 })
    expect(c.kind).toBe('tape')
    expect(c.lossDiff).toBeLessThan(TOL)
    expect(c.gradDiff).toBeLessThan(TOL)
    expect(c.weightDiff).toBeLessThan(TOL)
  })
})
