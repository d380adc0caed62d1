import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, schemaVersion } from '../../../src/main/storage/db'
import { migrations } from '../../../src/main/storage/migrations'
import { RunStore } from '../../../src/main/services/runs'
import { dataPaths } from '../../../src/main/paths'
import { StudioError } from '../../../src/shared/contract'
import { CLASSES, config, tempDir } from '../runs/helpers'

const dirs: string[] = []
const fresh = () => {
  const d = tempDir('migrate-')
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Rows an app at schema version `k` could have written (every version >= 1 has the v1 tables). */
function seed(file: string, version: number): void {
  const db = new Database(file)
  const cfg = JSON.stringify({
    model: 'lenet5',
    spec: { name: 'L', inputSize: 28, inputChannels: 1, numClasses: 2, layers: [{ type: 'flatten' }, { type: 'linear', outFeatures: 2 }] },
    dataset: 'mnist-sample',
    optimizer: 'sgd',
    lr: 0.1,
    batchSize: 8,
    epochs: 3,
    seed: 1,
    validation: { source: 'test' },
    init: 'xavier'
  })
  db.prepare(
    `INSERT INTO runs (id, name, status, model, dataset, config, classes, created_at, epochs_planned, test_acc)
     VALUES (7, 'old run', 'completed', 'lenet5', 'mnist-sample', ?, '["a","b"]', '2025-01-01T00:00:00.000Z', 3, 0.75)`
  ).run(cfg)
  const m = Buffer.alloc(16)
  for (const e of [1, 2]) {
    db.prepare(`INSERT INTO epochs VALUES (7, ?, 1, 0.5, 1, 0.5, 2, 100, ?)`).run(e, m)
    db.prepare(`INSERT INTO predictions VALUES (7, ?, ?)`).run(e, Buffer.from([0, 1, 1]))
  }
  db.prepare(`INSERT INTO steps VALUES (7, 0.5, 1.2, 0.4), (7, 1.0, 0.9, 0.6)`).run()
  db.prepare(`INSERT INTO run_tags VALUES (7, 'baseline')`).run()
  // From v2 on the app keeps the epoch count on the run row itself.
  if (version >= 2) db.prepare('UPDATE runs SET epochs_done = 2 WHERE id = 7').run()
  db.close()
}

describe('migrations', () => {
  it('are numbered 1..N in order', () => {
    expect(migrations.map((m) => m.version)).toEqual(migrations.map((_, i) => i + 1))
    expect(schemaVersion()).toBe(migrations.length)
    expect(migrations.length).toBeGreaterThanOrEqual(2)
  })

  for (let k = 1; k < migrations.length; k++) {
    it(`bring a version ${k} database to the current version, keeping its data`, () => {
      const dir = fresh()
      const file = dataPaths(dir).database
      openDatabase(file, migrations.slice(0, k)).close()
      seed(file, k)
      const raw = new Database(file)
      expect(raw.pragma('user_version', { simple: true })).toBe(k)
      raw.close()

      const store = RunStore.open(dir)
      try {
        expect(store.db.pragma('user_version', { simple: true })).toBe(migrations.length)
        const run = store.get(7)
        expect(run.name).toBe('old run')
        expect(run.tags).toEqual(['baseline'])
        expect(run.epochsDone).toBe(2) // backfilled by v2 when k = 1
        expect(run.testAcc).toBe(0.75)
        expect(store.curves(7, 100).steps).toHaveLength(2)
        expect(Array.from(store.predictions(7, 2))).toEqual([0, 1, 1])
        expect(store.list({ sortBy: 'testAcc' }).rows.map((r) => r.id)).toEqual([7])
        expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok')
      } finally {
        store.close()
      }
    })
  }

  it('create a new database at the current version with WAL and foreign keys', () => {
    const dir = fresh()
    const store = RunStore.open(dir)
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1)
    expect(store.db.pragma('user_version', { simple: true })).toBe(schemaVersion())
    store.close()
  })

  it('refuse a database from a newer version and leave it untouched', () => {
    const dir = fresh()
    const store = RunStore.open(dir)
    store.create(config(), { classes: CLASSES, paramCount: 1 })
    store.close()
    const file = dataPaths(dir).database
    const db = new Database(file)
    db.pragma(`user_version = ${schemaVersion() + 5}`)
    db.pragma('journal_mode = DELETE') // as a newer app might leave it: no -wal/-shm beside it
    db.close()
    const before = readFileSync(file)
    const mtime = statSync(file).mtimeMs
    const listing = readdirSync(dir).sort()

    let err: unknown
    try {
      RunStore.open(dir)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(StudioError)
    expect((err as StudioError).code).toBe('storage_error')
    expect((err as StudioError).message).toMatch(/newer version of Conv Studio \(schema version \d+; this version knows up to \d+\)/)
    expect(readFileSync(file).equals(before)).toBe(true)
    expect(statSync(file).mtimeMs).toBe(mtime)
    expect(readdirSync(dir).sort()).toEqual(listing)
  })

  it('refuse a file that is not SQLite with a clear message', () => {
    const dir = fresh()
    writeFileSync(join(dir, 'conv-studio.sqlite'), 'hello, not a database at all; '.repeat(10))
    expect(() => RunStore.open(dir)).toThrow(/is not an SQLite database/)
    expect(existsSync(join(dir, 'conv-studio.sqlite-wal'))).toBe(false)
  })
})
