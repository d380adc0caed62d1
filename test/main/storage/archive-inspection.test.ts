// The run archive carries what inspection keeps (issue 18): per-epoch histograms and first-conv
// filters (inspection.json) and each evaluation's true-class probabilities (probabilities/*.bin).
// Round trip through the real RunStore, and hostile versions of those entries refused whole.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { unzipSync } from 'fflate'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { StudioError } from '../../../src/shared/contract'
import type { FilterSnapshot, LayerHistogram } from '../../../src/shared/domain'
import { CLASSES, config, confusion, epochRecord, tempDir, writeCheckpoint } from '../runs/helpers'
import { manifestFor, writeZip, type ZipEntry } from './zip-writer'

let dir: string
let store: RunStore
let runId: number

const hist = (epoch: number): LayerHistogram[] => [
  { layer: 'Conv2d-1', kind: 'weight', min: -0.5 * epoch, max: 0.5, counts: [1, 2, 3, 4] },
  { layer: 'Conv2d-1', kind: 'gradient', min: -1e-7, max: 3e-7, counts: [4, 3, 2, 1] }
]
const filt = (epoch: number): FilterSnapshot => ({ epoch, layer: 'Conv2d-1', shape: [2, 1, 2, 2], values: [0.1, -0.2, 0.3, epoch, 0, 0, 1, -1] })
const probs = (seed: number) => Float32Array.from([0.125, 0.5, 0.875].map((v) => v / seed))

beforeEach(() => {
  dir = tempDir('archive-inspection-')
  store = RunStore.open(dir)
  const run = store.create(config({ epochs: 2 }), { name: 'inspected', classes: CLASSES, paramCount: 10 })
  runId = run.id
  store.markStarted(run.id, { backend: 'cpu', device: null, libVersions: { tfjs: '4.22.0' } })
  for (let e = 1; e <= 2; e++) {
    store.recordEpoch(run.id, epochRecord(e), confusion(), new Uint8Array([1, 2, 3]), [
      { kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(run.id), `b${e}`), 16, e) },
      { kind: 'last', stagedDir: writeCheckpoint(join(store.stagingDir(run.id), `l${e}`), 16, e) }
    ])
    store.recordInspection(run.id, e, { histograms: hist(e), filters: filt(e), trueProbabilities: probs(e) })
  }
  store.finish(run.id, { status: 'completed', bestEpoch: 2, bestValAcc: 0.52 })
})
afterEach(() => store.close())

async function refusal(zip: string): Promise<string> {
  const before = { rows: store.db.prepare('SELECT COUNT(*) FROM runs').pluck().get(), folders: readdirSync(join(dir, 'runs')).sort() }
  const err = await store.importRun(zip).then(
    () => null,
    (e: unknown) => e
  )
  expect(err).toBeInstanceOf(StudioError)
  expect({ rows: store.db.prepare('SELECT COUNT(*) FROM runs').pluck().get(), folders: readdirSync(join(dir, 'runs')).sort() }).toEqual(before)
  return (err as StudioError).message
}

/** The exported files with `edit` applied, re-zipped with a manifest whose hashes are right. */
async function edited(edit: (files: Record<string, Uint8Array>) => void): Promise<string> {
  const files = unzipSync(readFileSync(await store.exportRun(runId, join(dir, 'base.zip'))))
  delete files['manifest.json']
  edit(files)
  const entries: ZipEntry[] = [{ name: 'manifest.json', data: manifestFor(files) }, ...Object.entries(files).map(([name, data]) => ({ name, data }))]
  const out = join(dir, `edited-${Math.random().toString(36).slice(2)}.zip`)
  writeFileSync(out, writeZip(entries))
  return out
}

const json = (v: unknown) => new Uint8Array(Buffer.from(JSON.stringify(v)))
const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer)

describe('inspection data in the run archive', () => {
  it('exports histograms, filter snapshots and true-class probabilities and imports them unchanged', async () => {
    const zip = await store.exportRun(runId, join(dir, 'out.zip'))
    const names = Object.keys(unzipSync(readFileSync(zip)))
    expect(names).toEqual(expect.arrayContaining(['inspection.json', 'probabilities/epoch-1.bin', 'probabilities/epoch-2.bin']))
    const copy = await store.importRun(zip)
    expect(copy.id).not.toBe(runId)
    expect(store.histograms(copy.id)).toEqual(store.histograms(runId))
    expect(store.histograms(copy.id).map((h) => h.epoch)).toEqual([1, 2])
    expect(store.filters(copy.id)).toEqual([filt(1), filt(2)])
    for (const e of [1, 2]) expect(store.trueProbabilities(copy.id, e)).toEqual(probs(e))
  })

  it('carries the test set probabilities too', async () => {
    store.recordInspection(runId, 'test', { trueProbabilities: Float32Array.from([0.25, 0.75]) })
    store.db.prepare('INSERT OR REPLACE INTO predictions (run_id, epoch, classes) VALUES (?, 0, ?)').run(runId, Buffer.from([4, 5]))
    const copy = await store.importRun(await store.exportRun(runId, join(dir, 'out.zip')))
    expect(store.trueProbabilities(copy.id, 'test')).toEqual(Float32Array.from([0.25, 0.75]))
  })

  it('imports an archive without them (runs exported before issue 18)', async () => {
    const zip = await edited((f) => {
      delete f['inspection.json']
      delete f['probabilities/epoch-1.bin']
      delete f['probabilities/epoch-2.bin']
    })
    const copy = await store.importRun(zip)
    expect(store.histograms(copy.id)).toEqual([])
    expect(() => store.trueProbabilities(copy.id, 1)).toThrow(/kept no probabilities/)
  })

  it('refuses probabilities that are not probabilities, of the wrong length or of no recorded evaluation', async () => {
    expect(await refusal(await edited((f) => void (f['probabilities/epoch-1.bin'] = f32([0.5, Number.NaN, 0.5]))))).toMatch(/epoch-1\.bin has a probability outside \[0, 1\]/)
    expect(await refusal(await edited((f) => void (f['probabilities/epoch-1.bin'] = f32([0.5, 2, 0.5]))))).toMatch(/outside \[0, 1\]/)
    expect(await refusal(await edited((f) => void (f['probabilities/epoch-2.bin'] = f32([0.5, 0.5]))))).toMatch(/holds 2 probabilities but epoch 2 has 3 predictions/)
    expect(await refusal(await edited((f) => void (f['probabilities/epoch-2.bin'] = new Uint8Array(7))))).toMatch(/probabilities but epoch 2 has 3/)
    expect(await refusal(await edited((f) => void (f['probabilities/epoch-9.bin'] = f32([0.5, 0.5, 0.5]))))).toMatch(/epoch-9\.bin belongs to no recorded predictions/)
    expect(await refusal(await edited((f) => void (f['probabilities/test.bin'] = f32([0.5]))))).toMatch(/test\.bin belongs to no recorded predictions/)
    expect(await refusal(await edited((f) => void (f['probabilities/../x.bin'] = f32([0.5]))))).toMatch(/segment/)
  })

  it('refuses an inspection.json with bad numbers, shapes or epochs', async () => {
    const base = { epochs: [{ epoch: 1, histograms: hist(1), filters: filt(1) }] }
    const withEpoch = (e: Record<string, unknown>) => json({ epochs: [{ ...base.epochs[0], ...e }] })
    expect(await refusal(await edited((f) => void (f['inspection.json'] = withEpoch({ epoch: 7, filters: null }))))).toMatch(/names epoch 7 twice or one never recorded/)
    expect(await refusal(await edited((f) => void (f['inspection.json'] = json({ epochs: [base.epochs[0], base.epochs[0]] }))))).toMatch(/names epoch 1 twice/)
    expect(await refusal(await edited((f) => void (f['inspection.json'] = withEpoch({ filters: { ...filt(1), shape: [64, 1, 5, 5] } }))))).toMatch(/does not match filters\.shape/)
    expect(await refusal(await edited((f) => void (f['inspection.json'] = withEpoch({ filters: filt(2) }))))).toMatch(/filters of epoch 1 say epoch 2/)
    const badHist = [{ ...hist(1)[0], counts: [1, -2] }]
    expect(await refusal(await edited((f) => void (f['inspection.json'] = withEpoch({ histograms: badHist }))))).toMatch(/inspection\.json: epochs\.0\.histograms\.0\.counts/)
    expect(await refusal(await edited((f) => void (f['inspection.json'] = new Uint8Array(Buffer.from('{"epochs": [1e999]}')))))).toMatch(/inspection\.json/)
    expect(await refusal(await edited((f) => void (f['inspection.json'] = new Uint8Array(Buffer.from('not json')))))).toMatch(/inspection\.json is not valid JSON/)
    // Layer names are shown in the UI and the terminal: control characters are dropped.
    const copy = await store.importRun(await edited((f) => void (f['inspection.json'] = withEpoch({ histograms: [{ ...hist(1)[0], layer: 'Conv\u001b[2J2d-1' }] }))))
    expect(store.histograms(copy.id)[0].histograms[0].layer).toBe('Conv[2J2d-1')
  })
})
