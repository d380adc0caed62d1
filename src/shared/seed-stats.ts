// In shared (not core): the renderer draws seed groups with it, and imports only shared code.
// Seed groups: runs that differ only in their seed, shown as one thing — a metric as mean ± std (n),
// a curve as its mean with a min–max and a ±std band — and "is this difference real?": the
// difference of two groups' means with a Welch t confidence interval and a plain verdict.
// Pure numbers; no tfjs, no platform.

export interface Spread {
  n: number
  mean: number
  /** Sample standard deviation (n - 1); 0 for a single value. */
  std: number
  min: number
  max: number
}

export function spread(values: readonly number[]): Spread {
  const xs = values.filter((v) => Number.isFinite(v))
  const n = xs.length
  if (n === 0) return { n: 0, mean: NaN, std: NaN, min: NaN, max: NaN }
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const ss = xs.reduce((a, b) => a + (b - mean) ** 2, 0)
  return { n, mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, min: Math.min(...xs), max: Math.max(...xs) }
}

/** "0.912 ± 0.004 (n=3)"; digits after the point. */
export function formatSpread(s: Spread, digits = 3): string {
  if (s.n === 0) return 'n/a'
  return s.n === 1 ? `${s.mean.toFixed(digits)} (n=1)` : `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)} (n=${s.n})`
}

export interface Band {
  mean: number[]
  std: number[]
  min: number[]
  max: number[]
  /** How many series had a value at each position (a shorter run ends early). */
  n: number[]
}

/** Point-by-point mean, std and min–max of series aligned by index (per epoch, or resampled steps). */
export function band(series: readonly (readonly number[])[]): Band {
  const len = Math.max(0, ...series.map((s) => s.length))
  const out: Band = { mean: [], std: [], min: [], max: [], n: [] }
  for (let i = 0; i < len; i++) {
    const s = spread(series.filter((xs) => i < xs.length).map((xs) => xs[i]))
    out.mean.push(s.mean)
    out.std.push(s.std)
    out.min.push(s.min)
    out.max.push(s.max)
    out.n.push(s.n)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Student's t distribution, for the interval. The regularized incomplete beta function by its
// continued fraction (Numerical Recipes' betacf, Lentz's method); the quantile by bisection.

function logGamma(x: number): number {
  // Lanczos, g = 7, n = 9: 15 digits for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  x -= 1
  let a = c[0]
  const t = x + 7.5
  for (let i = 1; i < 9; i++) a += c[i] / (x + i)
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a)
}

function betacf(a: number, b: number, x: number): number {
  const tiny = 1e-300
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let h = d
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const del = d * c
    h *= del
    if (Math.abs(del - 1) < 1e-15) break
  }
  return h
}

/** I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2) ? (front * betacf(a, b, x)) / a : 1 - (front * betacf(b, a, 1 - x)) / b
}

/** P(T <= t) for Student's t with `df` degrees of freedom (df may be fractional: Welch). */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5)
  return t >= 0 ? 1 - tail : tail
}

/** The t with P(T <= t) = p. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile: p must be in (0, 1), got ${p}`)
  if (p < 0.5) return -studentTQuantile(1 - p, df)
  let lo = 0
  let hi = 1
  while (studentTCdf(hi, df) < p) hi *= 2
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2
    if (studentTCdf(mid, df) < p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

// ---------------------------------------------------------------------------------------------

export interface Difference {
  a: Spread
  b: Spread
  /** mean(b) - mean(a). */
  diff: number
  /** Welch's interval for the difference at `level`; null when either side has fewer than 2 values. */
  ci: [number, number] | null
  level: number
  df: number | null
  verdict: 'b-better' | 'a-better' | 'indistinguishable' | 'too-few'
  /** The verdict as a sentence a person reads. */
  sentence: string
}

/**
 * "Is this difference real?" Welch's two-sample t interval (no equal-variance assumption) for
 * mean(b) - mean(a). The verdict says the difference is larger than seed noise only when the
 * interval excludes 0; higher is better (accuracies).
 */
export function compareGroups(a: readonly number[], b: readonly number[], opts: { level?: number; what?: string; names?: [string, string] } = {}): Difference {
  const level = opts.level ?? 0.95
  const what = opts.what ?? 'accuracy'
  const [na, nb] = opts.names ?? ['A', 'B']
  const sa = spread(a)
  const sb = spread(b)
  const diff = sb.mean - sa.mean
  const pct = `${Math.round(level * 100)}%`
  if (sa.n < 2 || sb.n < 2) {
    return {
      a: sa,
      b: sb,
      diff,
      ci: null,
      level,
      df: null,
      verdict: 'too-few',
      sentence: `Need at least 2 seeds of each to tell a difference from seed noise (have ${sa.n} and ${sb.n}).`
    }
  }
  const va = sa.std ** 2 / sa.n
  const vb = sb.std ** 2 / sb.n
  const se = Math.sqrt(va + vb)
  let ci: [number, number]
  let df: number
  if (se === 0) {
    // Every seed gave the same number on both sides: the difference is exact.
    df = Infinity
    ci = [diff, diff]
  } else {
    df = (va + vb) ** 2 / (va ** 2 / (sa.n - 1) + vb ** 2 / (sb.n - 1))
    const t = studentTQuantile(1 - (1 - level) / 2, df)
    ci = [diff - t * se, diff + t * se]
  }
  const f = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4)
  const range = `${f(diff)} (${pct} CI ${f(ci[0])} to ${f(ci[1])}; ${sa.n} vs ${sb.n} seeds)`
  let verdict: Difference['verdict']
  let sentence: string
  if (ci[0] > 0) {
    verdict = 'b-better'
    sentence = `${nb} has the higher ${what} by ${range}: larger than seed noise.`
  } else if (ci[1] < 0) {
    verdict = 'a-better'
    sentence = `${na} has the higher ${what}: ${nb} − ${na} = ${range}, larger than seed noise.`
  } else {
    verdict = 'indistinguishable'
    sentence = `${nb} − ${na} = ${range}: not distinguishable from seed noise with these seeds.`
  }
  return { a: sa, b: sb, diff, ci, level, df, verdict, sentence }
}

/** Dotted leaves of a config except its seed: runs with the same key differ only in their seed. */
export function seedGroupKey(config: unknown): string {
  const flat: [string, unknown][] = []
  const walk = (v: unknown, prefix: string) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const k of Object.keys(v as object).sort()) walk((v as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k)
    } else if (prefix !== 'seed') flat.push([prefix, v])
  }
  walk(config, '')
  return JSON.stringify(flat)
}

/** Runs grouped by everything but their seed, in order of first appearance. */
export function seedGroups<R extends { config: unknown }>(runs: readonly R[]): R[][] {
  const groups = new Map<string, R[]>()
  for (const r of runs) {
    const k = seedGroupKey(r.config)
    const g = groups.get(k)
    if (g) g.push(r)
    else groups.set(k, [r])
  }
  return [...groups.values()]
}
