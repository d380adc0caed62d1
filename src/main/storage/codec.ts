// Compact encodings of what the store keeps as BLOBs.

/** n*n counts as uint32 little endian, row = true class. 10 classes -> 400 bytes. */
export function encodeMatrix(m: number[][]): Buffer {
  const n = m.length
  const buf = Buffer.alloc(n * n * 4)
  for (let i = 0; i < n; i++) {
    const row = m[i]
    if (!row || row.length !== n) throw new RangeError(`confusion matrix row ${i} has ${row?.length ?? 0} cells, expected ${n}`)
    for (let j = 0; j < n; j++) {
      const v = row[j]
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`confusion matrix cell [${i}][${j}] = ${v} is not a count`)
      buf.writeUInt32LE(v, (i * n + j) * 4)
    }
  }
  return buf
}

export function decodeMatrix(b: Uint8Array): number[][] {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const n = Math.round(Math.sqrt(buf.length / 4))
  if (n * n * 4 !== buf.length) throw new RangeError(`a stored confusion matrix has ${buf.length} bytes, not n*n*4`)
  const m: number[][] = []
  for (let i = 0; i < n; i++) {
    const row: number[] = []
    for (let j = 0; j < n; j++) row.push(buf.readUInt32LE((i * n + j) * 4))
    m.push(row)
  }
  return m
}

export function toBlob(a: Uint8Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

export function fromBlob(b: Uint8Array): Uint8Array {
  // A copy: better-sqlite3 hands out Buffers that may share a pool.
  return new Uint8Array(b)
}

/**
 * Largest-triangle-three-buckets over columns: the indices of the points that shape the curve (spikes
 * included), always the first and the last, at most `maxPoints` of them, in order.
 */
export function decimateIndices(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints: number): number[] {
  const n = x.length
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => i)
  if (maxPoints < 3) return maxPoints <= 1 ? [n - 1] : [0, n - 1]
  const out = [0]
  const every = (n - 2) / (maxPoints - 2)
  let a = 0
  for (let i = 0; i < maxPoints - 2; i++) {
    // Average of the next bucket: the third corner of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n)
    let avgX = 0
    let avgY = 0
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += x[j]
      avgY += y[j]
    }
    const len = Math.max(1, nextEnd - nextStart)
    avgX /= len
    avgY /= len
    const start = Math.floor(i * every) + 1
    const end = Math.floor((i + 1) * every) + 1
    const ax = x[a]
    const ay = y[a]
    let best = start
    let bestArea = -1
    for (let j = start; j < end; j++) {
      const area = Math.abs((ax - avgX) * (y[j] - ay) - (ax - x[j]) * (avgY - ay))
      if (area > bestArea) {
        bestArea = area
        best = j
      }
    }
    out.push(best)
    a = best
  }
  out.push(n - 1)
  return out
}

/** decimateIndices over the loss of curve points. */
export function decimate<T extends { x: number; loss: number }>(points: T[], maxPoints: number): T[] {
  return decimateIndices(
    points.map((p) => p.x),
    points.map((p) => p.loss),
    maxPoints
  ).map((i) => points[i])
}
