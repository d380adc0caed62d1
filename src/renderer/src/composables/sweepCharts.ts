// Layout for the sweep page's charts, as plain functions: each axis of a parallel-coordinates chart
// maps its values to [0, 1] (numbers linearly, or on a log scale when they span a decade or more;
// words in order of first appearance), and a run is a polyline through its values.

export type Value = string | number

export interface Axis {
  key: string
  /** Value -> position in [0, 1] (0 at the bottom). */
  pos: (v: Value) => number
  /** Tick labels with their positions. */
  ticks: { label: string; at: number }[]
  log: boolean
}

function fmt(n: number): string {
  if (n === 0) return '0'
  const a = Math.abs(n)
  return a >= 1000 || a < 0.001 ? n.toExponential(1) : String(Number(n.toPrecision(3)))
}

export function makeAxis(key: string, values: readonly Value[]): Axis {
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
  if (nums.length === values.length && nums.length > 0) {
    const lo = Math.min(...nums)
    const hi = Math.max(...nums)
    const log = lo > 0 && hi / lo >= 10
    const f = log ? Math.log10 : (x: number) => x
    const a = f(lo)
    const b = f(hi)
    const pos = (v: Value) => (b === a ? 0.5 : (f(Number(v)) - a) / (b - a))
    const ticks = b === a ? [{ label: fmt(lo), at: 0.5 }] : [0, 0.5, 1].map((t) => ({ label: fmt(log ? 10 ** (a + t * (b - a)) : lo + t * (hi - lo)), at: t }))
    return { key, pos, ticks, log }
  }
  const words = [...new Set(values.map(String))]
  const pos = (v: Value) => (words.length === 1 ? 0.5 : words.indexOf(String(v)) / (words.length - 1))
  return { key, pos, ticks: words.map((w, i) => ({ label: w, at: words.length === 1 ? 0.5 : i / (words.length - 1) })), log: false }
}

/** SVG points "x,y x,y" of one run through the axes; null where a value is missing. */
export function polyline(axes: readonly Axis[], row: Record<string, Value | null>, width: number, height: number, pad: number): string | null {
  const step = axes.length > 1 ? (width - 2 * pad) / (axes.length - 1) : 0
  const pts: string[] = []
  for (let i = 0; i < axes.length; i++) {
    const v = row[axes[i].key]
    if (v === null || v === undefined) return null
    const y = pad + (1 - axes[i].pos(v)) * (height - 2 * pad)
    pts.push(`${(pad + i * step).toFixed(1)},${y.toFixed(1)}`)
  }
  return pts.join(' ')
}

/** A colour from low (orange) to high (blue) for a metric in [0, 1] of its range: Okabe–Ito ends. */
export function metricColor(t: number): string {
  const c0 = [230, 159, 0]
  const c1 = [0, 114, 178]
  const k = Math.min(1, Math.max(0, t))
  return `rgb(${c0.map((c, i) => Math.round(c + (c1[i] - c) * k)).join(',')})`
}
