// Seeded randomness for data order. Same seed, same numbers on every machine and backend, so a run
// can be repeated exactly and two runs with one seed see their examples in the same order.

/** Mixes a 32-bit state into a well-spread 32-bit value (the finaliser of MurmurHash3). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) >>> 0
}

/** Seeded uniform generator on [0, 1) (mulberry32); any finite seed, integers recommended. */
export function createRng(seed: number): () => number {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`)
  // Fold high bits in so seeds above 2^32 do not collide with their low 32 bits.
  let a = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 4294967296) >>> 0))
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fisher-Yates in place with the given generator. */
export function shuffleInPlace(a: Uint32Array, rng: () => number): Uint32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1))
    const t = a[i]
    a[i] = a[j]
    a[j] = t
  }
  return a
}

/**
 * The order in which epoch `epoch` visits `count` examples: a permutation of 0..count-1 that
 * depends only on (seed, epoch). Each epoch gets its own stream, so resuming at epoch k needs no
 * replay of epochs before it.
 */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`epochOrder: count must be a whole number >= 0, got ${count}`)
  const o = new Uint32Array(count)
  for (let i = 0; i < count; i++) o[i] = i
  return shuffleInPlace(o, createRng(mix32((seed >>> 0) ^ mix32((epoch + 0x9e3779b9) >>> 0))))
}

/** Consecutive batches of an order; the last one is shorter when count is not a multiple. */
export function* batches(order: Uint32Array, batchSize: number): Generator<Uint32Array> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batchSize must be a whole number >= 1, got ${batchSize}`)
  for (let i = 0; i < order.length; i += batchSize) yield order.subarray(i, Math.min(order.length, i + batchSize))
}
