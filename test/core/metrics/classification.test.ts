import { describe, expect, it } from 'vitest'
import { accuracy, accuracyFromConfusion, classMetrics, confusionMatrix } from '../../../src/core/metrics/classification'

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
  it('computes accuracy, precision, recall and support per class; null where a ratio is undefined', () => {
    const m = confusionMatrix(labels, preds, 3)
    expect(accuracy(labels, preds)).toBeCloseTo(4 / 6)
    expect(accuracyFromConfusion(m)).toBeCloseTo(4 / 6)
    // Class 2 is never predicted: its precision is undefined, its recall a real 0 (1 example, missed).
    expect(classMetrics(m)).toEqual({ precision: [2 / 3, 2 / 3, null], recall: [2 / 3, 1, 0], support: [3, 2, 1] })
    // A class with no examples has no recall.
    expect(classMetrics([[5, 0], [0, 0]]).recall).toEqual([1, null])
    expect(accuracyFromConfusion([[0, 0], [0, 0]])).toBeNull()
  })
  it('rejects mismatched lengths and out-of-range classes', () => {
    expect(() => confusionMatrix([0, 1], [0], 2)).toThrow(/2 labels but 1 predictions/)
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/example 1 has label 3/)
  })
})
