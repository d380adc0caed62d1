import { describe, expect, it } from 'vitest'
import { learningRateAt } from '../../../src/core/training/schedule'

describe('learningRateAt', () => {
  it('constant', () => {
    expect(learningRateAt({ lr: 0.9, epochs: 10, schedule: { type: 'constant' } }, 7)).toBe(0.9)
  })
  it('step: multiplies by gamma every stepEpochs epochs', () => {
    const c = { lr: 0.1, epochs: 10, schedule: { type: 'step' as const, stepEpochs: 3, gamma: 0.5 } }
    expect([1, 2, 3, 4, 6, 7, 10].map((e) => learningRateAt(c, e))).toEqual([0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
  })
  it('cosine: lr at epoch 1, half way at the middle, approaches minLr at the end', () => {
    const c = { lr: 1, epochs: 4, schedule: { type: 'cosine' as const, minLr: 0.2 } }
    expect(learningRateAt(c, 1)).toBeCloseTo(1)
    expect(learningRateAt(c, 3)).toBeCloseTo(0.6)
    expect(learningRateAt(c, 2)).toBeCloseTo(0.2 + 0.8 * (1 + Math.cos(Math.PI / 4)) / 2)
    expect(learningRateAt(c, 4)).toBeGreaterThan(0.2)
  })
})
