// runs.exportCsv: every run the filters match (no page limit) x its epochs, one CSV pandas reads,
// the sweep filter applied; and the sweep page's one-statement read of a sweep's runs.
import { afterAll, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { TrainConfigSchema } from '../../../src/shared/schemas'
import { tempDir, tinyConfig } from '../../helpers/hosts'

const dir = tempDir()
afterAll(() => dir.remove())

it('exports runs x epochs for the filtered runs, beyond the list page limit, with the sweep filter', () => {
  const store = RunStore.open(dir.path)
  try {
    const sweepId = Number(store.db.prepare(`INSERT INTO sweeps (name, spec, created_at) VALUES ('s', '{}', 'now')`).run().lastInsertRowid)
    const classes = ['0', '1']
    const cfg = TrainConfigSchema.parse(tinyConfig({ spec: { ...tinyConfig().spec, numClasses: 2 } }))
    for (let i = 0; i < 600; i++) {
      const r = store.create({ ...cfg, lr: 0.1 + i / 1000 }, { classes, paramCount: 1, name: i === 0 ? 'a, "quoted"' : `r${i}`, ...(i % 2 ? { sweepId } : {}) })
      store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
      for (const e of [1, 2]) store.recordEpoch(r.id, { epoch: e, trainLoss: 1 / e, trainAcc: 0.5, valLoss: 0.6, valAcc: 0.7, seconds: 1, examplesPerSec: 10 }, [[1, 0], [0, 1]], new Uint8Array(2), [])
      store.finish(r.id, { status: 'completed' })
    }
    const all = store.exportCsv({})
    expect(all.runs).toBe(600)
    expect(all.rows).toBe(1200)
    const lines = all.csv.trim().split('\n')
    expect(lines).toHaveLength(1201)
    expect(lines[0].split(',').slice(0, 4)).toEqual(['run_id', 'name', 'status', 'sweep_id'])
    expect(all.csv).toContain('"a, ""quoted"""')
    const swept = store.exportCsv({ sweepId })
    expect(swept.runs).toBe(300)
    expect(swept.csv.trim().split('\n').slice(1).every((l) => l.split(',')[3] === String(sweepId))).toBe(true)
    expect(store.sweepRuns(sweepId).map((r) => r.sweepId)).toEqual(Array(300).fill(sweepId))
    expect(store.list({ sweepId, limit: 10 }).total).toBe(300)
  } finally {
    store.close()
  }
})
