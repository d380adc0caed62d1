import { describe, expect, it } from 'vitest'
import { batches, createRng, epochOrder } from '../../../src/core/data/batches'
import { splitIndices } from '../../../src/core/data/split'

const labels = Uint8Array.from({ length: 1000 }, (_, i) => (i < 900 ? i % 3 : 3)) // class 3 is rare
const isPermutation = (a: Uint32Array, n: number) => a.length === n && new Set(a).size === n && Math.max(...a) === n - 1

describe('createRng', () => {
  it('is reproducible, seed-dependent and in [0, 1)', () => {
    const a = createRng(42)
    const b = createRng(42)
    const xs = Array.from({ length: 1000 }, () => a())
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs)
    expect(createRng(43)()).not.toBe(xs[0])
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...xs)).toBeLessThan(1)
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05)
    // Seeds beyond 32 bits are not folded onto their low bits.
    expect(createRng(2 ** 32 + 5)()).not.toBe(createRng(5)())
  })
})

describe('epochOrder', () => {
  it('is a permutation, the same for the same (seed, epoch), different across epochs and seeds', () => {
    const o = epochOrder(500, 7, 1)
    expect(isPermutation(o, 500)).toBe(true)
    expect(Array.from(epochOrder(500, 7, 1))).toEqual(Array.from(o))
    expect(Array.from(epochOrder(500, 7, 2))).not.toEqual(Array.from(o))
    expect(Array.from(epochOrder(500, 8, 1))).not.toEqual(Array.from(o))
    expect(epochOrder(0, 1, 1).length).toBe(0)
  })
  it('pins the order so a seed means the same thing in every version', () => {
    expect(Array.from(epochOrder(10, 0, 0))).toMatchInlineSnapshot(`
      [
        5,
        4,
        2,
        1,
        9,
        0,
        3,
        8,
        7,
        6,
      ]
    `)
  })
})

describe('batches', () => {
  it('cuts an order into batches with a shorter last one', () => {
    const sizes = [...batches(epochOrder(10, 1, 0), 4)].map((b) => b.length)
    expect(sizes).toEqual([4, 4, 2])
    expect(() => [...batches(new Uint32Array(3), 0)]).toThrow(RangeError)
  })
})

describe('splitIndices', () => {
  for (const stratified of [false, true]) {
    it(`partitions every index, sizes by fraction, reproducible (stratified=${stratified})`, () => {
      const s = splitIndices(labels, 0.2, 3, stratified)
      expect(s.val.length).toBe(200)
      expect(s.train.length).toBe(800)
      const all = new Uint32Array([...s.train, ...s.val]).sort()
      expect(isPermutation(all, 1000)).toBe(true)
      expect(Array.from(s.val)).toEqual([...s.val].sort((a, b) => a - b))
      const again = splitIndices(labels, 0.2, 3, stratified)
      expect(Array.from(again.val)).toEqual(Array.from(s.val))
      expect(Array.from(splitIndices(labels, 0.2, 4, stratified).val)).not.toEqual(Array.from(s.val))
    })
  }

  it('stratified keeps each class share exactly (largest remainder)', () => {
    const s = splitIndices(labels, 0.2, 11, true)
    const per = [0, 0, 0, 0]
    for (const i of s.val) per[labels[i]]++
    expect(per).toEqual([60, 60, 60, 20])
  })

  it('refuses fractions that leave a part empty', () => {
    expect(() => splitIndices(labels, 0, 1, true)).toThrow(RangeError)
    expect(() => splitIndices(labels, 1, 1, true)).toThrow(RangeError)
    expect(() => splitIndices(new Uint8Array(3), 0.1, 1, false)).toThrow(/leaves 0 for validation/)
  })
})
