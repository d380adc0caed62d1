// Train/validation split of a training set, by seed. Stratified splits keep each class's share in
// both parts (as sklearn's train_test_split(stratify=...)), which matters for small samples.
import { createRng, shuffleInPlace } from './batches'

/**
 * Splits indices 0..labels.length-1 into train and validation parts; `fraction` of them (rounded)
 * go to validation. Both parts come back sorted ascending, so the split is a set, not an order
 * (the epoch order comes from epochOrder). Deterministic in (labels, fraction, seed, stratified).
 */
export function splitIndices(
  labels: Uint8Array,
  fraction: number,
  seed: number,
  stratified: boolean
): { train: Uint32Array; val: Uint32Array } {
  const n = labels.length
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`splitIndices: fraction must be between 0 and 1 (exclusive), got ${fraction}`)
  const nVal = Math.round(n * fraction)
  if (nVal < 1 || nVal > n - 1)
    throw new RangeError(`splitIndices: a validation fraction of ${fraction} of ${n} examples leaves ${nVal} for validation and ${n - nVal} for training; both need at least 1`)
  const rng = createRng(seed)
  const isVal = new Uint8Array(n)
  if (!stratified) {
    const all = new Uint32Array(n)
    for (let i = 0; i < n; i++) all[i] = i
    shuffleInPlace(all, rng)
    for (let i = 0; i < nVal; i++) isVal[all[i]] = 1
  } else {
    const byClass = new Map<number, number[]>()
    for (let i = 0; i < n; i++) {
      let list = byClass.get(labels[i])
      if (!list) byClass.set(labels[i], (list = []))
      list.push(i)
    }
    const classes = [...byClass.keys()].sort((a, b) => a - b)
    // Largest-remainder apportionment: per-class quotas that sum exactly to nVal.
    const quota = classes.map((c) => (byClass.get(c)!.length * nVal) / n)
    const take = quota.map(Math.floor)
    let left = nVal - take.reduce((a, b) => a + b, 0)
    const byRemainder = classes.map((_, k) => k).sort((a, b) => quota[b] - take[b] - (quota[a] - take[a]) || a - b)
    for (const k of byRemainder) {
      if (left === 0) break
      if (take[k] < byClass.get(classes[k])!.length) {
        take[k]++
        left--
      }
    }
    classes.forEach((c, k) => {
      const members = Uint32Array.from(byClass.get(c)!)
      shuffleInPlace(members, rng)
      for (let i = 0; i < take[k]; i++) isVal[members[i]] = 1
    })
  }
  const train = new Uint32Array(n - nVal)
  const val = new Uint32Array(nVal)
  let t = 0
  let v = 0
  for (let i = 0; i < n; i++) {
    if (isVal[i]) val[v++] = i
    else train[t++] = i
  }
  return { train, val }
}
