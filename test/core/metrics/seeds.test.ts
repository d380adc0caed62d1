// Seed-group statistics on numbers worked out by hand or from tables, and the verdict on synthetic
// groups where the truth is known.
import { describe, expect, it } from 'vitest'
import { band, compareGroups, formatSpread, seedGroups, spread, studentTCdf, studentTQuantile } from '../../../src/shared/seed-stats'
import { createRng } from '../../../src/core/data/batches'

describe('spread and band', () => {
  it('mean, sample std, min and max of known numbers', () => {
    const s = spread([2, 4, 4, 4, 5, 5, 7, 9])
    expect(s.n).toBe(8)
    expect(s.mean).toBe(5)
    // Sum of squares 32; sample variance 32/7.
    expect(s.std).toBeCloseTo(Math.sqrt(32 / 7), 12)
    expect([s.min, s.max]).toEqual([2, 9])
    expect(formatSpread(spread([0.91, 0.92, 0.93]))).toBe('0.920 ± 0.010 (n=3)')
    expect(formatSpread(spread([0.5]))).toBe('0.500 (n=1)')
    expect(spread([]).n).toBe(0)
    expect(spread([1, NaN, 3]).mean).toBe(2)
  })

  it('bands point by point; a shorter series counts only where it has values', () => {
    const b = band([
      [1, 2, 3],
      [3, 4, 5],
      [2, 3]
    ])
    expect(b.mean).toEqual([2, 3, 4])
    expect(b.min).toEqual([1, 2, 3])
    expect(b.max).toEqual([3, 4, 5])
    expect(b.n).toEqual([3, 3, 2])
    expect(b.std[0]).toBeCloseTo(1, 12)
  })
})

describe("Student's t", () => {
  it('matches the printed table (two-sided 95%: 12.706, 4.303, 2.776, 2.228, 2.042; 99% at df 10: 3.169)', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3)
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.3027, 3)
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764, 3)
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.2281, 3)
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.0423, 3)
    expect(studentTQuantile(0.995, 10)).toBeCloseTo(3.1693, 3)
    expect(studentTQuantile(0.025, 10)).toBeCloseTo(-2.2281, 3)
    expect(studentTCdf(0, 5)).toBeCloseTo(0.5, 12)
    // df = 1 is Cauchy: P(T <= 1) = 3/4.
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 10)
  })
})

describe('compareGroups: is this difference real?', () => {
  it("Welch's interval on worked numbers: [1..5] vs [3..7] is +2 with 95% CI ±2.306 (df 8): indistinguishable", () => {
    const d = compareGroups([1, 2, 3, 4, 5], [3, 4, 5, 6, 7])
    expect(d.diff).toBe(2)
    expect(d.df).toBeCloseTo(8, 10)
    expect(d.ci![0]).toBeCloseTo(2 - 2.306004, 4)
    expect(d.ci![1]).toBeCloseTo(2 + 2.306004, 4)
    expect(d.verdict).toBe('indistinguishable')
    expect(d.sentence).toMatch(/not distinguishable from seed noise/)
  })

  it('unequal variances use the Welch–Satterthwaite degrees of freedom', () => {
    // s_a^2 = 1 (n=3), s_b^2 = 40 (n=5): va = 1/3, vb = 8.
    const d = compareGroups([0, 1, 2], [0, 4, 8, 12, 16].map((x) => x - 8 + 10))
    const va = 1 / 3
    const vb = 40 / 5
    expect(d.df).toBeCloseTo((va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 4), 8)
  })

  it('says plainly when a real gap is larger than seed noise, and which side is better', () => {
    const rng = createRng(42)
    const noise = () => (rng() - 0.5) * 0.004
    const a = Array.from({ length: 5 }, () => 0.9 + noise())
    const b = Array.from({ length: 5 }, () => 0.92 + noise())
    const d = compareGroups(a, b, { names: ['lr 0.1', 'lr 0.3'] })
    expect(d.verdict).toBe('b-better')
    expect(d.ci![0]).toBeGreaterThan(0)
    expect(d.ci![0]).toBeLessThan(0.02)
    expect(d.ci![1]).toBeGreaterThan(0.02)
    expect(d.sentence).toMatch(/^lr 0\.3 has the higher accuracy by \+0\.0\d+ \(95% CI .*larger than seed noise\.$/)
    expect(compareGroups(b, a).verdict).toBe('a-better')
  })

  it('a gap smaller than the seed noise is indistinguishable; one seed each is too few', () => {
    const rng = createRng(7)
    const a = Array.from({ length: 3 }, () => 0.9 + (rng() - 0.5) * 0.05)
    const b = a.map((x) => x + 0.001)
    expect(compareGroups(a, b).verdict).toBe('indistinguishable')
    const few = compareGroups([0.9], [0.95])
    expect(few.verdict).toBe('too-few')
    expect(few.ci).toBeNull()
    expect(few.sentence).toMatch(/at least 2 seeds/)
  })

  it('over many synthetic draws with no true difference, a 95% interval excludes 0 about 5% of the time', () => {
    const rng = createRng(1)
    const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())
    let wrong = 0
    const trials = 2000
    for (let i = 0; i < trials; i++) {
      const a = Array.from({ length: 4 }, () => 0.9 + 0.01 * normal())
      const b = Array.from({ length: 4 }, () => 0.9 + 0.01 * normal())
      if (compareGroups(a, b).verdict !== 'indistinguishable') wrong++
    }
    // Welch is slightly conservative at n = 4; allow 3%..7%.
    expect(wrong / trials).toBeGreaterThan(0.03)
    expect(wrong / trials).toBeLessThan(0.07)
  })
})

describe('seedGroups', () => {
  it('groups runs that differ only in seed, in order of first appearance', () => {
    const runs = [
      { id: 1, config: { lr: 0.1, seed: 0, validation: { source: 'test' } } },
      { id: 2, config: { lr: 0.3, seed: 0, validation: { source: 'test' } } },
      { id: 3, config: { seed: 1, lr: 0.1, validation: { source: 'test' } } },
      { id: 4, config: { lr: 0.1, seed: 2, validation: { source: 'split' } } }
    ]
    expect(seedGroups(runs).map((g) => g.map((r) => r.id))).toEqual([[1, 3], [2], [4]])
  })
})
