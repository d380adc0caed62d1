// Curve transforms the charts share, as plain functions (tested apart from chart.js): TensorBoard's
// debiased EMA smoothing, epoch -> wall-clock time, a zoom step around a point, seed-group bands.
import type { EpochRecord } from '../../../shared/domain'

export interface Point {
  x: number
  y: number
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `w` in [0, 1), debiased so the
 * first points are not pulled towards 0. w = 0 returns the points unchanged.
 */
export function emaSmooth(points: readonly Point[], w: number): Point[] {
  if (!(w > 0)) return points.slice()
  const weight = Math.min(w, 0.999)
  let last = 0
  let n = 0
  return points.map((p) => {
    if (!Number.isFinite(p.y)) return p
    last = last * weight + (1 - weight) * p.y
    n++
    return { x: p.x, y: last / (1 - weight ** n) }
  })
}

/** Fractional epoch -> seconds since the run started, from each epoch's recorded duration. */
export function epochToSeconds(epochs: readonly Pick<EpochRecord, 'epoch' | 'seconds'>[]): (x: number) => number {
  const starts = [0]
  for (const e of epochs) starts.push(starts[starts.length - 1] + e.seconds)
  const last = epochs.length ? epochs[epochs.length - 1].seconds : 0
  return (x: number) => {
    const i = Math.max(0, Math.floor(x))
    const frac = x - i
    if (i < epochs.length) return starts[i] + frac * epochs[i].seconds
    // Past the recorded epochs (a live run's current one): as long as the last one took.
    return starts[epochs.length] + (x - epochs.length) * last
  }
}

/** The x range after zooming by `factor` (< 1 in, > 1 out) around `at`, kept inside [lo, hi]. */
export function zoomRange(range: [number, number], at: number, factor: number, bounds: [number, number]): [number, number] {
  const [a, b] = range
  let na = at - (at - a) * factor
  let nb = at + (b - at) * factor
  const width = Math.min(nb - na, bounds[1] - bounds[0])
  if (na < bounds[0]) [na, nb] = [bounds[0], bounds[0] + width]
  if (nb > bounds[1]) [na, nb] = [bounds[1] - width, bounds[1]]
  return [na, nb]
}

/** The x range moved by `dx`, kept inside bounds. */
export function panRange(range: [number, number], dx: number, bounds: [number, number]): [number, number] {
  const w = range[1] - range[0]
  const a = Math.min(Math.max(range[0] + dx, bounds[0]), bounds[1] - w)
  return [a, a + w]
}

export { runsEpochsCsv } from '../../../shared/runs-csv'
