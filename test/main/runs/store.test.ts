import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate'
import { createHash } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { compareRuns } from '../../../src/main/services/compare'
import { decimate } from '../../../src/main/storage/codec'
import { StudioError } from '../../../src/shared/contract'
import { CLASSES, config, confusion, epochRecord, tempDir, writeCheckpoint } from './helpers'

let dir: string
let store: RunStore
beforeEach(() => {
  dir = tempDir()
  store = RunStore.open(dir)
})
afterEach(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (e instanceof StudioError) return e.code
    throw e
  }
  return 'no error'
}

/** A run trained for `epochs` epochs with best/last checkpoints and a test evaluation. */
function trainedRun(opts: { epochs?: number; name?: string; testAcc?: number; testPreds?: number[]; labels?: number[]; cfg?: Parameters<typeof config>[0] } = {}) {
  const epochs = opts.epochs ?? 3
  const run = store.create(config({ epochs, ...opts.cfg }), { name: opts.name, classes: CLASSES, paramCount: 61706 })
  store.markStarted(run.id, { backend: 'tensorflow', device: 'cpu', libVersions: { tfjs: '4.22.0' } })
  for (let e = 1; e <= epochs; e++) {
    store.recordSteps(run.id, [0.25, 0.5, 0.75, 1].map((f) => ({ x: e - 1 + f, loss: 2 / (e + f), acc: 0.5 + e / 20 })))
    const staged = store.stagingDir(run.id)
    store.recordEpoch(run.id, epochRecord(e), confusion(10, e), new Uint8Array([e % 10, 1, 2]), [
      { kind: 'best', stagedDir: writeCheckpoint(join(staged, `best-${e}`), 8, e) },
      { kind: 'last', stagedDir: writeCheckpoint(join(staged, `last-${e}`), 8, e) }
    ])
  }
  const preds = opts.testPreds ?? [0, 1, 2, 3]
  return store.finish(run.id, {
    status: 'completed',
    bestEpoch: epochs,
    bestValAcc: 0.5 + epochs / 100,
    examplesPerSec: 4100,
    test: {
      loss: 0.3,
      acc: opts.testAcc ?? 0.9,
      confusion: confusion(10, 5),
      precision: CLASSES.map(() => 0.9),
      recall: CLASSES.map(() => 0.8),
      predictions: new Uint8Array(preds),
      labels: new Uint8Array(opts.labels ?? [0, 1, 2, 3])
    }
  })
}

describe('RunStore recording', () => {
  it('keeps a whole run: record, epochs, curves, confusion, predictions, weights', () => {
    const run = trainedRun({ name: 'first' })
    expect(run).toMatchObject({ name: 'first', status: 'completed', backend: 'tensorflow', device: 'cpu', epochsDone: 3, epochsPlanned: 3, bestEpoch: 3, testAcc: 0.9 })
    expect(run.libVersions).toEqual({ tfjs: '4.22.0' })
    expect(run.testPrecision).toHaveLength(10)
    expect(store.trainAgain(run.id)).toEqual(config({ epochs: 3 }))
    const curves = store.curves(run.id, 1000)
    expect(curves.totalSteps).toBe(12)
    expect(curves.epochs.map((e) => e.epoch)).toEqual([1, 2, 3])
    expect(store.confusion(run.id, 2).matrix[0][0]).toBe(2)
    expect(store.confusion(run.id, 'test').matrix[3][3]).toBe(5)
    expect(Array.from(store.predictions(run.id, 3))).toEqual([3, 1, 2])
    expect(Array.from(store.predictions(run.id, 'test'))).toEqual([0, 1, 2, 3])
    // The best folder holds the last epoch's weights, the replaced ones and the staging are gone.
    const best = store.weightsDir(run.id, 'best')
    expect(readFileSync(join(best, 'weights.bin')).readFloatLE(0)).toBe(3)
    expect(JSON.parse(readFileSync(join(best, 'checkpoint.json'), 'utf8')).epoch).toBe(3)
    expect(readdirSync(join(dir, 'runs', String(run.id))).sort()).toEqual(['best', 'last'])
    expect(code(() => store.confusion(run.id, 9))).toBe('not_found')
    expect(code(() => store.get(999))).toBe('not_found')
  })

  it('refuses to record into a finished run, bad matrices and missing checkpoints', () => {
    const run = trainedRun()
    expect(code(() => store.recordSteps(run.id, [{ x: 9, loss: 1, acc: 1 }]))).toBe('conflict')
    const r2 = store.create(config(), { classes: CLASSES, paramCount: 1 })
    expect(code(() => store.recordEpoch(r2.id, epochRecord(1), confusion(3), new Uint8Array(1), []))).toBe('invalid_argument')
    expect(code(() => store.recordEpoch(r2.id, epochRecord(1), confusion(), new Uint8Array(1), [{ kind: 'best', stagedDir: join(dir, 'nope') }]))).toBe(
      'invalid_argument'
    )
    expect(code(() => store.recordSteps(r2.id, [{ x: 1, loss: NaN, acc: 1 }]))).toBe('invalid_argument')
    expect(code(() => store.create(config(), { classes: ['a', 'b'], paramCount: 1 }))).toBe('invalid_argument')
    // Staged folders must be under the run's staging folder and loadable.
    const outside = writeCheckpoint(join(dir, 'elsewhere'))
    expect(() => store.recordEpoch(r2.id, epochRecord(1), confusion(), new Uint8Array(1), [{ kind: 'best', stagedDir: outside }])).toThrow(/is not inside/)
    const broken = writeCheckpoint(join(store.stagingDir(r2.id), 'broken'), 8)
    writeFileSync(join(broken, 'weights.bin'), Buffer.alloc(5))
    expect(() => store.recordEpoch(r2.id, epochRecord(1), confusion(), new Uint8Array(1), [{ kind: 'best', stagedDir: broken }])).toThrow(
      /cannot be loaded: weights are 5 bytes but model.json declares 32/
    )
    const once = writeCheckpoint(join(store.stagingDir(r2.id), 'once'), 8)
    expect(() =>
      store.recordEpoch(r2.id, epochRecord(1), confusion(), new Uint8Array(1), [
        { kind: 'best', stagedDir: once },
        { kind: 'last', stagedDir: once }
      ])
    ).toThrow(/its own staged folder/)
    expect(code(() => store.finish(run.id, { status: 'failed' }))).toBe('conflict')
    expect(code(() => store.finish(r2.id, { status: 'running' }))).toBe('invalid_argument')
    expect(store.get(r2.id).epochsDone).toBe(0)
  })

  it('rolls the checkpoint swap back when the epoch rows cannot be committed', () => {
    const run = store.create(config(), { classes: CLASSES, paramCount: 1 })
    store.markStarted(run.id, { backend: 'cpu', device: null, libVersions: {} })
    store.recordEpoch(run.id, epochRecord(1), confusion(), new Uint8Array(3), [
      { kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(run.id), 'a'), 8, 1) }
    ])
    // Another connection holds the write lock: the commit fails for real (SQLITE_BUSY).
    store.db.pragma('busy_timeout = 0')
    const other = new Database(join(dir, 'conv-studio.sqlite'))
    other.prepare('BEGIN IMMEDIATE').run()
    const staged = writeCheckpoint(join(store.stagingDir(run.id), 'b'), 8, 2)
    let err: unknown
    try {
      store.recordEpoch(run.id, epochRecord(2), confusion(), new Uint8Array(3), [{ kind: 'best', stagedDir: staged }])
    } catch (e) {
      err = e
    }
    other.prepare('ROLLBACK').run()
    other.close()
    expect((err as StudioError).code).toBe('storage_error')
    expect((err as StudioError).message).toMatch(/record epoch 2 of run/)
    expect(store.get(run.id).epochsDone).toBe(1)
    const best = store.weightsDir(run.id, 'best')
    expect(readFileSync(join(best, 'weights.bin')).readFloatLE(0)).toBe(1)
    expect(existsSync(join(staged, 'model.json'))).toBe(true) // handed back, can be retried
    expect(existsSync(join(dir, 'runs', String(run.id), '.best.prev'))).toBe(false)
  })
})

describe('RunStore listing', () => {
  it('filters, searches, sorts with NULLs last, pages and counts', () => {
    const a = trainedRun({ name: 'alpha baseline' })
    const b = store.create(config({ dataset: 'fashion-mnist', model: 'alexnet' }), { name: 'beta', classes: CLASSES, paramCount: 5 })
    const c = trainedRun({ name: 'gamma 100%_done', testAcc: 0.95 })
    store.setNotes(b.id, 'try a smaller LR next time')
    store.setTags(a.id, ['baseline', 'sgd', 'sgd'])
    store.setTags(c.id, ['sgd'])

    const ids = (q: Parameters<RunStore['list']>[0]) => store.list(q).rows.map((r) => r.id)
    expect(ids({ sortBy: 'testAcc', sortDir: 'desc' })).toEqual([c.id, a.id, b.id])
    expect(ids({ sortBy: 'testAcc', sortDir: 'asc' })).toEqual([a.id, c.id, b.id])
    expect(ids({ sortBy: 'name', sortDir: 'asc' })).toEqual([a.id, b.id, c.id])
    expect(ids({ status: 'queued' })).toEqual([b.id])
    expect(ids({ model: 'alexnet' })).toEqual([b.id])
    expect(ids({ dataset: 'mnist-sample', sortDir: 'asc' })).toEqual([a.id, c.id])
    expect(ids({ tag: 'sgd', sortDir: 'asc' })).toEqual([a.id, c.id])
    expect(ids({ search: 'smaller lr' })).toEqual([b.id]) // notes, case-insensitive
    expect(ids({ search: '100%_' })).toEqual([c.id]) // LIKE wildcards are literal
    expect(ids({ search: '%' })).toEqual([c.id])
    const page = store.list({ sortBy: 'createdAt', sortDir: 'asc', limit: 2, offset: 2 })
    expect(page.rows.map((r) => r.id)).toEqual([c.id])
    expect(page.total).toBe(3)
    expect(store.list({ tag: 'sgd', limit: 1 }).total).toBe(2)
    expect(store.get(a.id).tags).toEqual(['baseline', 'sgd'])
    expect(code(() => store.list({ limit: 0 }))).toBe('invalid_argument')
  })

  it('renames and validates names, notes and tags', () => {
    const r = store.create(config(), { classes: CLASSES, paramCount: 1 })
    expect(r.name).toBe('lenet5 on mnist-sample')
    expect(store.rename(r.id, '  tidy  ').name).toBe('tidy')
    expect(code(() => store.rename(r.id, '   '))).toBe('invalid_argument')
    expect(code(() => store.setTags(r.id, ['x'.repeat(61)]))).toBe('invalid_argument')
    expect(code(() => store.rename(12345, 'x'))).toBe('not_found')
  })
})

describe('RunStore curves decimation', () => {
  it('keeps the first and last points, the count bound and the spikes', () => {
    const pts = Array.from({ length: 10_000 }, (_, i) => ({ x: i / 100, loss: i === 5000 ? 50 : 1 - i / 20000, acc: 0 }))
    const d = decimate(pts, 200)
    expect(d.length).toBe(200)
    expect(d[0]).toBe(pts[0])
    expect(d[d.length - 1]).toBe(pts[pts.length - 1])
    expect(d.some((p) => p.loss === 50)).toBe(true)
    for (let i = 1; i < d.length; i++) expect(d[i].x).toBeGreaterThan(d[i - 1].x)
    expect(decimate(pts.slice(0, 50), 200)).toHaveLength(50)
  })

  it('applies maxPoints in curves()', () => {
    const r = store.create(config(), { classes: CLASSES, paramCount: 1 })
    store.recordSteps(r.id, Array.from({ length: 500 }, (_, i) => ({ x: (i + 1) / 100, loss: 1 / (i + 1), acc: 0.5 })))
    const c = store.curves(r.id, 50)
    expect(c.totalSteps).toBe(500)
    expect(c.steps).toHaveLength(50)
    expect(c.steps[49].x).toBe(5)
  })
})

describe('RunStore delete', () => {
  it('removes rows and files together', () => {
    const r = trainedRun()
    expect(code(() => store.delete(store.create(config(), { classes: CLASSES, paramCount: 1 }).id))).toBe('conflict')
    expect(store.delete(r.id)).toEqual({ deleted: r.id })
    expect(code(() => store.get(r.id))).toBe('not_found')
    expect(existsSync(join(dir, 'runs', String(r.id)))).toBe(false)
    expect(readdirSync(join(dir, 'runs')).filter((n) => n.startsWith('.trash'))).toEqual([])
    const left = store.db.prepare('SELECT (SELECT COUNT(*) FROM epochs) + (SELECT COUNT(*) FROM steps) + (SELECT COUNT(*) FROM predictions) AS n').pluck().get()
    expect(left).toBe(0)
  })

  it('puts the folder back when the rows cannot be deleted', () => {
    const r = trainedRun()
    store.db.pragma('busy_timeout = 0')
    const other = new Database(join(dir, 'conv-studio.sqlite'))
    other.prepare('BEGIN IMMEDIATE').run()
    const err = code(() => store.delete(r.id))
    other.prepare('ROLLBACK').run()
    other.close()
    expect(err).toBe('storage_error')
    expect(store.get(r.id).epochsDone).toBe(3)
    expect(existsSync(join(store.weightsDir(r.id, 'best'), 'weights.bin'))).toBe(true)
  })

  it('finishes a delete cut short by a crash at the next open', () => {
    const kept = trainedRun()
    const gone = trainedRun()
    // Crash after the folder moved aside: rows still there -> folder restored.
    renameSync(join(dir, 'runs', String(kept.id)), join(dir, 'runs', `.trash-${kept.id}-1`))
    // Crash after the rows were deleted: the folder goes.
    renameSync(join(dir, 'runs', String(gone.id)), join(dir, 'runs', `.trash-${gone.id}-1`))
    store.db.prepare('DELETE FROM runs WHERE id = ?').run(gone.id)
    store.close()
    store = RunStore.open(dir)
    expect(readdirSync(join(dir, 'runs')).sort()).toEqual([String(kept.id)])
    expect(existsSync(join(store.weightsDir(kept.id, 'best'), 'model.json'))).toBe(true)
  })
})

describe('RunStore compare', () => {
  it('diffs configs, test confusion and example-level disagreements', () => {
    const a = trainedRun({ testPreds: [0, 1, 2, 9], labels: [0, 1, 2, 3] })
    const b = trainedRun({ testPreds: [0, 5, 2, 3], labels: [0, 1, 2, 3], cfg: { lr: 0.1, optimizer: 'adam' } })
    const r = compareRuns(store, [a.id, b.id])
    expect(r.runs.map((x) => x.id)).toEqual([a.id, b.id])
    expect(r.curves[1].epochs).toHaveLength(3)
    expect(r.configDiff).toEqual([
      { field: 'lr', values: [0.9, 0.1] },
      { field: 'optimizer', values: ['sgd', 'adam'] }
    ])
    expect(r.confusionDiff).toEqual(confusion(10, 0).map((row) => row.map(() => 0)))
    expect(r.disagreements).toEqual([
      { index: 1, trueClass: 1, predicted: [1, 5] },
      { index: 3, trueClass: 3, predicted: [9, 3] }
    ])
    const c = trainedRun({ cfg: { dataset: 'fashion-mnist' } })
    expect(() => compareRuns(store, [a.id, c.id])).toThrow(/different datasets/)
    expect(code(() => compareRuns(store, [a.id]))).toBe('invalid_argument')
  })
})

describe('RunStore export and import', () => {
  function runsState() {
    return {
      rows: store.db.prepare('SELECT COUNT(*) FROM runs').pluck().get(),
      folders: readdirSync(join(dir, 'runs')).sort()
    }
  }

  it('round-trips a run through a zip', async () => {
    const a = trainedRun({ name: 'exported' })
    store.setTags(a.id, ['keep'])
    store.setNotes(a.id, 'notes survive')
    const zip = await store.exportRun(a.id, dir)
    expect(zip).toMatch(/run-\d+-exported\.zip$/)
    expect(await store.exportRun(a.id, join(dir, 'new-folder'))).toBe(join(dir, 'new-folder', `run-${a.id}-exported.zip`))
    const names = Object.keys(unzipSync(readFileSync(zip))).sort()
    for (const f of ['manifest.json', 'config.json', 'run.json', 'metrics.csv', 'steps.csv', 'confusion.csv', 'predictions/test.bin', 'best/model.json', 'best/weights.bin', 'last/model.json'])
      expect(names).toContain(f)
    const b = await store.importRun(zip)
    expect(b.id).not.toBe(a.id)
    expect(b.tags).toEqual(['imported', 'keep'])
    const strip = (r: typeof a) => ({ ...r, id: 0, tags: [] })
    expect(strip(b)).toEqual(strip(store.get(a.id)))
    expect(store.curves(b.id, 100)).toEqual({ ...store.curves(a.id, 100), runId: b.id })
    expect(store.confusion(b.id, 2).matrix).toEqual(store.confusion(a.id, 2).matrix)
    expect(store.confusion(b.id, 'test').matrix).toEqual(store.confusion(a.id, 'test').matrix)
    expect(Array.from(store.predictions(b.id, 'test'))).toEqual(Array.from(store.predictions(a.id, 'test')))
    expect(readFileSync(join(store.weightsDir(b.id, 'best'), 'weights.bin'))).toEqual(readFileSync(join(store.weightsDir(a.id, 'best'), 'weights.bin')))
    expect(compareRuns(store, [a.id, b.id]).disagreements).toEqual([])
  })

  function rezip(zip: string, edit: (files: Record<string, Uint8Array>) => void, fixManifest: boolean): string {
    const files = unzipSync(readFileSync(zip))
    edit(files)
    if (fixManifest) {
      const m = JSON.parse(strFromU8(files['manifest.json']))
      m.files = Object.entries(files)
        .filter(([n]) => n !== 'manifest.json')
        .map(([name, b]) => ({ name, size: b.byteLength, sha256: createHash('sha256').update(b).digest('hex') }))
      files['manifest.json'] = strToU8(JSON.stringify(m))
    }
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}.zip`)
    writeFileSync(out, zipSync(files))
    return out
  }

  it('refuses malformed or tampered exports with a clear error and imports nothing', async () => {
    const a = trainedRun()
    const zip = await store.exportRun(a.id, join(dir, 'a.zip'))
    const before = runsState()
    const cases: [string, RegExp][] = [
      [rezip(zip, (f) => (f['metrics.csv'] = strToU8(strFromU8(f['metrics.csv']).replace('0.51', '0.99'))), false), /metrics\.csv does not match its checksum/],
      [rezip(zip, (f) => delete f['config.json'], false), /config\.json is listed in the manifest but missing/],
      [rezip(zip, (f) => (f['extra.txt'] = strToU8('hi')), false), /extra\.txt is not a file a run export has/],
      [rezip(zip, (f) => (f['run.json'] = strToU8('{ not json')), true), /run\.json is not valid JSON/],
      [rezip(zip, (f) => (f['config.json'] = strToU8(JSON.stringify({ model: 'x' }))), true), /config\.json: /],
      [rezip(zip, (f) => (f['metrics.csv'] = strToU8(strFromU8(f['metrics.csv']).replace(/\n2,/, '\nx,'))), true), /metrics\.csv line 3/],
      [rezip(zip, (f) => (f['best/weights.bin'] = f['best/weights.bin'].slice(4)), true), /best weights cannot be loaded: weights are 28 bytes but model.json declares 32/],
      [rezip(zip, (f) => delete f['predictions/epoch-2.bin'], true), /predictions\/epoch-2\.bin is missing/],
      [rezip(zip, (f) => delete f['manifest.json'], false), /manifest\.json is missing/]
    ]
    for (const [path, message] of cases) {
      let err: unknown
      try {
        await store.importRun(path)
      } catch (e) {
        err = e
      }
      expect(err, path).toBeInstanceOf(StudioError)
      expect((err as StudioError).message).toMatch(message)
      expect(runsState()).toEqual(before)
    }
    writeFileSync(join(dir, 'junk.zip'), 'not a zip')
    await expect(store.importRun(join(dir, 'junk.zip'))).rejects.toThrow(/not a readable zip/)
    await expect(store.importRun(join(dir, 'missing.zip'))).rejects.toMatchObject({ code: 'not_found' })
    expect(runsState()).toEqual(before)
  })

  it('rolls an import back when the folder cannot take its place', async () => {
    const a = trainedRun()
    const zip = await store.exportRun(a.id, join(dir, 'a.zip'))
    // The id the import will get is taken on disk by a non-empty folder: rename fails, rows roll back.
    const nextId = (store.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").pluck().get() as number) + 1
    mkdirSync(join(dir, 'runs', String(nextId), 'x'), { recursive: true })
    await expect(store.importRun(zip)).rejects.toMatchObject({ code: 'storage_error' })
    expect(store.db.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(1)
    expect(readdirSync(join(dir, 'runs')).filter((n) => n.startsWith('.import'))).toEqual([])
  })
})

describe('RunStore open after a crash', () => {
  it('marks active runs interrupted, keeps their epochs and best weights, settles half-done swaps', () => {
    const r = store.create(config(), { classes: CLASSES, paramCount: 1 })
    store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
    store.recordEpoch(r.id, epochRecord(1), confusion(), new Uint8Array(3), [
      { kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(r.id), 'e1'), 8, 1) }
    ])
    // Simulate a crash between "rename new in" and the commit of epoch 2.
    const runDir = join(dir, 'runs', String(r.id))
    renameSync(join(runDir, 'best'), join(runDir, '.best.prev'))
    const e2 = writeCheckpoint(join(runDir, 'best'), 8, 2)
    writeFileSync(join(e2, 'checkpoint.json'), JSON.stringify({ epoch: 2 }))
    writeCheckpoint(join(store.stagingDir(r.id), 'half-written'))
    const queued = store.create(config(), { classes: CLASSES, paramCount: 1 })
    store.close()
    // The lock names a dead process, as after kill -9.
    writeFileSync(join(dir, 'conv-studio.lock'), '999999')

    store = RunStore.open(dir)
    const after = store.get(r.id)
    expect(after.status).toBe('interrupted')
    expect(after.error).toMatch(/stopped while this run was training/)
    expect(after.epochsDone).toBe(1)
    expect(after.bestEpoch).toBe(1)
    expect(store.get(queued.id).status).toBe('interrupted')
    expect(readFileSync(join(runDir, 'best', 'weights.bin')).readFloatLE(0)).toBe(1)
    expect(readdirSync(runDir).sort()).toEqual(['best'])
  })

  it('leaves runs alone while another live process holds the data folder', () => {
    const r = store.create(config(), { classes: CLASSES, paramCount: 1 })
    store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
    // The parent of this test process is alive and is not us.
    writeFileSync(join(dir, 'conv-studio.lock'), String(process.ppid))
    const second = RunStore.open(dir)
    expect(second.get(r.id).status).toBe('running')
    second.close()
    expect(readFileSync(join(dir, 'conv-studio.lock'), 'utf8')).toBe(String(process.ppid))
  })
})
