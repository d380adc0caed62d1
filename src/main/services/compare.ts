// Two or more runs side by side: their records and curves, the config fields that differ, the test
// confusion of the second minus the first, and the test examples one got right and the other wrong.
// Read-only, over the run store's public reads.
import { StudioError } from '../../shared/contract'
import type { CompareResult } from '../../shared/domain'
import type { RunStore } from './runs'

/** The value, or null where the run has none (the store says 'not_found'). */
function orNull<T>(fn: () => T): T | null {
  try {
    return fn()
  } catch (err) {
    if (err instanceof StudioError && err.code === 'not_found') return null
    throw err
  }
}

export function compareRuns(store: RunStore, runIds: number[]): CompareResult {
  if (runIds.length < 2) throw new StudioError('invalid_argument', 'Pick at least two runs to compare.')
  if (new Set(runIds).size !== runIds.length) throw new StudioError('invalid_argument', 'A run appears twice in the comparison.')
  const runs = runIds.map((id) => store.get(id))
  const datasets = [...new Set(runs.map((r) => r.dataset))]
  if (datasets.length > 1)
    throw new StudioError(
      'invalid_argument',
      `Runs ${runs.map((r) => `${r.id} (${r.dataset})`).join(', ')} were trained on different datasets; compare needs runs on one dataset.`
    )
  const curves = runIds.map((id) => store.curves(id, 2000))
  const configDiff = diffConfigs(runs.map((r) => r.config))

  const [a, b] = runs
  let confusionDiff: number[][] | null = null
  const ca = a.testAcc !== null ? orNull(() => store.confusion(a.id, 'test').matrix) : null
  const cb = b.testAcc !== null ? orNull(() => store.confusion(b.id, 'test').matrix) : null
  if (ca && cb && ca.length === cb.length) confusionDiff = cb.map((row, i) => row.map((v, j) => v - ca[i][j]))

  const disagreements: CompareResult['disagreements'] = []
  const pa = orNull(() => store.predictions(a.id, 'test'))
  const pb = orNull(() => store.predictions(b.id, 'test'))
  const labels = store.testLabels(a.id) ?? store.testLabels(b.id)
  if (pa && pb && labels) {
    if (pa.length !== pb.length || labels.length !== pa.length)
      throw new StudioError('conflict', `Runs ${a.id} and ${b.id} were tested on different numbers of examples (${pa.length} vs ${pb.length}).`)
    for (let i = 0; i < labels.length; i++) {
      const ra = pa[i] === labels[i]
      const rb = pb[i] === labels[i]
      if (ra !== rb) disagreements.push({ index: i, trueClass: labels[i], predicted: [pa[i], pb[i]] })
    }
  }
  return { runs, curves, configDiff, confusionDiff, disagreements }
}

/** Dotted paths of the leaves (arrays count as one value) whose values are not the same in every config. */
function diffConfigs(configs: unknown[]): { field: string; values: unknown[] }[] {
  const flat = configs.map((c) => flatten(c))
  const fields = new Set<string>()
  for (const f of flat) for (const k of f.keys()) fields.add(k)
  const out: { field: string; values: unknown[] }[] = []
  for (const field of [...fields].sort()) {
    const values = flat.map((f) => (f.has(field) ? f.get(field) : null))
    const first = JSON.stringify(values[0])
    if (values.some((v) => JSON.stringify(v) !== first)) out.push({ field, values })
  }
  return out
}

function flatten(v: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) flatten(x, prefix ? `${prefix}.${k}` : k, out)
  } else {
    out.set(prefix, v)
  }
  return out
}
