// Faults on real files: a writer killed with SIGKILL, a read-only data folder, a full disk.
import { spawn, execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { checkpointProblem } from '../../../src/main/storage/checkpoint'
import { StudioError } from '../../../src/shared/contract'
import { CLASSES, config, confusion, epochRecord, tempDir, writeCheckpoint } from './helpers'
import { tmpfsUnavailable, withTmpfs } from '../../helpers/tmpfs'

const cleanup: string[] = []
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true })
})

function errorOf(fn: () => unknown): StudioError {
  try {
    fn()
  } catch (e) {
    if (e instanceof StudioError) return e
    throw e
  }
  throw new Error('expected a StudioError, nothing was thrown')
}

/** Starts the writer, waits until it has committed `minEpochs` epochs plus a random bit, then SIGKILLs it. */
function killWriterMidRun(dataDir: string, minEpochs: number, extraMs: number): Promise<{ runId: number; printed: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'writer-child.ts'), dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let killing = false
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const epochs = out.match(/^epoch \d+$/gm)?.length ?? 0
      if (!killing && epochs >= minEpochs) {
        killing = true
        setTimeout(() => child.kill('SIGKILL'), extraMs)
      }
    })
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited with ${code}: ${err}`))
      const runId = Number(/^run (\d+)$/m.exec(out)?.[1])
      resolve({ runId, printed: out.match(/^epoch \d+$/gm)?.length ?? 0 })
    })
  })
}

describe('kill -9 of a process writing epochs', () => {
  for (const extraMs of [0, 37, 113]) {
    it(`leaves a sound database and a loadable best checkpoint (killed ${extraMs} ms after epoch 5)`, async () => {
      const dir = tempDir('kill9-')
      cleanup.push(dir)
      const { runId, printed } = await killWriterMidRun(dir, 5, extraMs)
      expect(printed).toBeGreaterThanOrEqual(5)

      const raw = new Database(join(dir, 'conv-studio.sqlite'))
      expect(raw.pragma('integrity_check', { simple: true })).toBe('ok')
      expect(raw.pragma('foreign_key_check')).toEqual([])
      raw.close()

      const store = RunStore.open(dir)
      try {
        const run = store.get(runId)
        expect(run.status).toBe('interrupted')
        expect(run.error).toMatch(/stopped while this run was training/)
        // Every epoch the writer reported is there (it may have committed one more before dying).
        expect(run.epochsDone).toBeGreaterThanOrEqual(printed)
        expect(store.epochs(runId).map((e) => e.epoch)).toEqual(Array.from({ length: run.epochsDone }, (_, i) => i + 1))
        for (let e = 1; e <= run.epochsDone; e++) expect(store.predictions(runId, e)).toHaveLength(10_000)
        // The best folder is loadable and is the one the rows name.
        const best = store.weightsDir(runId, 'best')
        expect(checkpointProblem(best)).toBeNull()
        expect(JSON.parse(readFileSync(join(best, 'checkpoint.json'), 'utf8')).epoch).toBe(run.bestEpoch)
        expect(readFileSync(join(best, 'weights.bin')).readFloatLE(0)).toBe(run.bestEpoch)
        const last = store.weightsDir(runId, 'last')
        expect(checkpointProblem(last)).toBeNull()
        expect(JSON.parse(readFileSync(join(last, 'checkpoint.json'), 'utf8')).epoch).toBe(run.epochsDone)
        expect(readdirSync(join(dir, 'runs', String(runId))).sort()).toEqual(['best', 'last'])
      } finally {
        store.close()
      }
    })
  }
})

describe('a data folder that cannot be used', () => {
  it('reports a path below a file as a storage error', () => {
    const dir = tempDir('notdir-')
    cleanup.push(dir)
    writeFileSync(join(dir, 'file'), 'x')
    const err = errorOf(() => RunStore.open(join(dir, 'file', 'data')))
    expect(err.code).toBe('storage_error')
    expect(err.message).toMatch(/Could not use the data folder .*file\/data/)
  })
})


function recordSome(store: RunStore, epochs: number, floats = 4096): number {
  const r = store.create(config(), { classes: CLASSES, paramCount: floats })
  store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
  for (let e = 1; e <= epochs; e++) {
    store.recordSteps(r.id, [{ x: e, loss: 1 / e, acc: 0.5 }])
    store.recordEpoch(r.id, epochRecord(e), confusion(), new Uint8Array(1000).fill(e), [
      { kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(r.id), `b${e}`), floats, e) }
    ])
  }
  return r.id
}

function checkIntact(dir: string, runId: number, epochs: number) {
  const raw = new Database(join(dir, 'conv-studio.sqlite'))
  expect(raw.pragma('integrity_check', { simple: true })).toBe('ok')
  raw.close()
  const store = RunStore.open(dir)
  try {
    const run = store.get(runId)
    expect(run.epochsDone).toBe(epochs)
    expect(store.epochs(runId).map((e) => e.epoch)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1))
    expect(checkpointProblem(store.weightsDir(runId, 'best'))).toBeNull()
    expect(readFileSync(join(store.weightsDir(runId, 'best'), 'weights.bin')).readFloatLE(0)).toBe(run.bestEpoch)
  } finally {
    store.close()
  }
}

describe.skipIf(tmpfsUnavailable !== null)(`on a real small file system${tmpfsUnavailable ? ` (skipped: ${tmpfsUnavailable})` : ''}`, () => {
  it(
    'refuses a read-only data folder clearly and damages nothing',
    withTmpfs(4096, (mnt) => {
      const store = RunStore.open(mnt)
      const runId = recordSome(store, 2)
      store.close()
      execFileSync('mount', ['-o', 'remount,ro', mnt])
      const before = readFileSync(join(mnt, 'conv-studio.sqlite'))
      const err = errorOf(() => RunStore.open(mnt))
      expect(err.code).toBe('storage_error')
      expect(err.message).toMatch(/data folder is not writable/)
      expect(readFileSync(join(mnt, 'conv-studio.sqlite')).equals(before)).toBe(true)
      execFileSync('mount', ['-o', 'remount,rw', mnt])
      checkIntact(mnt, runId, 2)
    })
  )

  it('fails an epoch cleanly when the run folder turns read-only mid-run', async () => {
    const dir = tempDir('robind-')
    cleanup.push(dir)
    const store = RunStore.open(dir)
    const runId = recordSome(store, 2)
    const staged = writeCheckpoint(join(store.stagingDir(runId), 'b3'), 4096, 3)
    const runDir = join(dir, 'runs', String(runId))
    // A read-only bind mount of the run folder: refuses writes even to root, while the database stays writable.
    execFileSync('mount', ['--bind', runDir, runDir])
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', runDir])
      const err = errorOf(() => store.recordEpoch(runId, epochRecord(3), confusion(), new Uint8Array(1000), [{ kind: 'best', stagedDir: staged }]))
      expect(err.code).toBe('storage_error')
      expect(err.message).toMatch(/Could not store the checkpoint of run \d+ epoch 3: the data folder is not writable/)
      expect(store.get(runId).epochsDone).toBe(2)
    } finally {
      execFileSync('umount', [runDir])
    }
    store.close()
    checkIntact(dir, runId, 2)
  })

  it(
    'reports a full disk as a storage error and keeps every epoch recorded before',
    withTmpfs(1024, (mnt) => {
      const store = RunStore.open(mnt)
      const r = store.create(config(), { classes: CLASSES, paramCount: 1 })
      store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
      let recorded = 0
      let err: StudioError | null = null
      for (let e = 1; e <= 200 && !err; e++) {
        try {
          // The training process writes the staged folder; once that no longer fits, keep recording rows
          // (without a checkpoint) until the store's own writes hit the full disk.
          const staged = join(store.stagingDir(r.id), `b${e}`)
          let checkpoints: { kind: 'best'; stagedDir: string }[] = [{ kind: 'best', stagedDir: staged }]
          try {
            writeCheckpoint(staged, 16384, e)
          } catch {
            rmSync(staged, { recursive: true, force: true })
            checkpoints = []
          }
          store.recordSteps(r.id, Array.from({ length: 200 }, (_, i) => ({ x: e - 1 + (i + 1) / 200, loss: 1, acc: 0.5 })))
          store.recordEpoch(r.id, epochRecord(e), confusion(), new Uint8Array(20_000).fill(e % 10), checkpoints)
          recorded = e
        } catch (e) {
          if (!(e instanceof StudioError)) throw e
          err = e
        }
      }
      expect(err, 'the disk never filled up').not.toBeNull()
      expect(err!.code).toBe('storage_error')
      console.log(`full disk after ${recorded} epochs: ${err!.message}`)
      expect(err!.message).toMatch(/disk is full/)
      expect(recorded).toBeGreaterThan(0)
      store.close()
      execFileSync('mount', ['-o', 'remount,size=16m', mnt])
      checkIntact(mnt, r.id, recorded)
    })
  )
})
