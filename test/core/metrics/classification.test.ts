import { describe, expect, it } from 'vitest'
import { accuracy, accuracyFromConfusion, confusionMatrix, precisionPerClass, recallPerClass } from '../../../src/core/metrics/classification'

describe('classification metrics', () => {
  const labels = [0, 0, 0, 1, 1, 2]
  const preds = [0, 1, 0, 1, 1, 0]
  it('builds matrix[true][predicted]', () => {
    expect(confusionMatrix(labels, preds, 3)).toEqual([
      [2, 1, 0],
      [0, 2, 0],
      [1, 0, 0]
    ])
  })
  it('computes accuracy, precision and recall per class (0 where undefined)', () => {
    const m = confusionMatrix(labels, preds, 3)
    expect(accuracy(labels, preds)).toBeCloseTo(4 / 6)
    expect(accuracyFromConfusion(m)).toBeCloseTo(4 / 6)
    expect(precisionPerClass(m)).toEqual([2 / 3, 2 / 3, 0])
    expect(recallPerClass(m)).toEqual([2 / 3, 1, 0])
  })
  it('rejects mismatched lengths and out-of-range classes', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(/2 labels but 1 predictions/)
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/example 1 has label 3/)
  })
})
