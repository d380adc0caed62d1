// RunStore: every run, its curves, confusion matrices, predictions and weights. The service host is
// the only writer; everything an epoch produces (rows and checkpoint folders) is committed together.
import { accessSync, constants, existsSync, mkdirSync, renameSync } from 'node:fs'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { StudioError } from '../../shared/contract'
import type {
  ConfusionMatrix,
  EpochHistograms,
  EpochRecord,
  FilterSnapshot,
  LayerHistogram,
  RunCurves,
  RunRecord,
  RunSummary,
  StepPoint
} from '../../shared/domain'
import { RunQuerySchema, TagSchema, type RunQuery, type RunStatus, type TrainConfig } from '../../shared/schemas'
import { dataPaths, type DataPaths } from '../paths'
import { openDatabase, storageError, type Db } from '../storage/db'
import { openDatabaseReadOnly } from '../storage/db-readonly'
import { FolderLock } from '../storage/folder-lock'
import { settleRunFolder, swapInCheckpoints, tidyRunsFolder, trashName, type CheckpointKind } from '../storage/checkpoint-swap'
import { decimateIndices, decodeMatrix, encodeMatrix, fromBlob, toBlob } from '../storage/codec'
import { removeQuietly } from '../storage/files'
import { checkpointProblem, TRAIN_STATE_JSON } from '../storage/checkpoint'
import { RunsRepository, toRecord, toSummary } from '../storage/repositories'
import { runsEpochsCsv } from '../../shared/runs-csv'
import { exportRunArchive, importRunArchive } from '../storage/archive'
import type { Migration } from '../storage/migrations'
import { accuracyFromConfusion, classMetrics } from '../../core/metrics/classification'
import type { TestEvaluation } from '../../core/training/trainer'

export type { CheckpointKind } from '../storage/checkpoint-swap'

export interface FinishInfo {
  status: RunStatus
  error?: string | null
  bestEpoch?: number | null
  bestValAcc?: number | null
  examplesPerSec?: number | null
  /** `labels`: true labels of the test set, in the same order; lets compare() find disagreements. */
  test?: (TestEvaluation & { labels?: Uint8Array }) | null
}

export interface OpenOptions {
  /** How long a write waits for another connection's lock (ms). */
  busyTimeoutMs?: number
  /** Tests only: build the database as an earlier version would have. */
  migrations?: Migration[]
  /**
   * For commands that only read: when the data folder cannot be written, open the database
   * read-only (store.readOnly) instead of failing. Nothing is recovered and no lock is taken.
   */
  allowReadOnly?: boolean
}

const ACTIVE: RunStatus[] = ['queued', 'running']
const INTERRUPTED_MESSAGE = 'Conv Studio stopped while this run was training; finished epochs and the best weights so far were kept.'
function now(): string {
  return new Date().toISOString()
}

/** Why this process may not write the data folder or its database, or null (root is refused only by a read-only mount). */
function writeProblem(paths: DataPaths): unknown {
  try {
    accessSync(paths.runs, constants.W_OK)
    if (existsSync(paths.database)) accessSync(paths.database, constants.W_OK)
    return null
  } catch (err) {
    return err
  }
}

export class RunStore {
  readonly paths: DataPaths
  private readonly repo: RunsRepository
  private closed = false
  /**
   * Runs whose end could not be written (disk full, I/O error), with why. This process reports them
   * as failed; the owner file keeps the reason for the next open, which stores it.
   */
  private readonly unrecorded = new Map<number, string>()

  private constructor(
    readonly db: Db,
    dataDir: string,
    /** null when opened read-only. */
    private readonly lock: FolderLock | null
  ) {
    this.paths = dataPaths(dataDir)
    this.repo = new RunsRepository(db)
  }

  /** Opened with allowReadOnly on a folder that cannot be written: every write fails. */
  get readOnly(): boolean {
    return this.lock === null
  }

  /**
   * Creates or migrates the database, registers this store as a holder of the folder, and recovers
   * the runs whose owner process is gone (marked 'interrupted', their folders settled). Runs of
   * other live processes are left alone.
   */
  static open(dataDir: string, opts: OpenOptions = {}): RunStore {
    const paths = dataPaths(dataDir)
    try {
      mkdirSync(paths.runs, { recursive: true })
    } catch (err) {
      if (!(opts.allowReadOnly && existsSync(paths.runs))) throw storageError(`use the data folder ${dataDir}`, err)
    }
    const denied = writeProblem(paths)
    if (denied) {
      if (opts.allowReadOnly) return new RunStore(openDatabaseReadOnly(paths.database), dataDir, null)
      // Fail here, not mid-run.
      throw storageError(`use the data folder ${dataDir}`, denied)
    }
    const db = openDatabase(paths.database, opts.migrations)
    if (opts.busyTimeoutMs !== undefined) db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs))}`)
    let lock: FolderLock | null = null
    try {
      lock = FolderLock.take(dataDir)
      const store = new RunStore(db, dataDir, lock)
      store.recover(lock)
      return store
    } catch (err) {
      lock?.release()
      db.close()
      throw storageError(`recover the data folder ${dataDir}`, err)
    }
  }

  private recover(lock: FolderLock): void {
    const alone = lock.alone()
    const committed = (runId: number) => (epoch: number) => this.repo.hasEpoch(runId, epoch)
    for (const id of this.repo.activeRunIds()) {
      const owner = lock.ownerOf(id)
      if (!owner.orphaned) continue
      settleRunFolder(this.paths.runDir(id), committed(id))
      if (owner.error) this.repo.markEnded(id, 'failed', now(), owner.error)
      else this.repo.markEnded(id, 'interrupted', now(), INTERRUPTED_MESSAGE)
    }
    if (alone) {
      // Nobody else is mid-operation: leftovers of any crash can be settled.
      const ids = this.repo.runIds()
      tidyRunsFolder(this.paths.runs, ids, (id) => this.paths.runDir(id))
      for (const id of ids) settleRunFolder(this.paths.runDir(id), committed(id))
    }
    lock.sweep(this.repo.activeRunIds())
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.lock?.release()
    this.db.close()
  }

  // -------------------------------------------------------------------------------------------
  // Recording

  create(config: TrainConfig, opts: { name?: string; classes: string[]; paramCount: number; initFrom?: { runId: number }; sweepId?: number }): RunRecord {
    if (opts.classes.length !== config.spec.numClasses)
      throw new StudioError('invalid_argument', `The dataset has ${opts.classes.length} classes but the model outputs ${config.spec.numClasses}.`)
    const createdAt = now()
    const lock = this.lock
    const id = this.write('create a run', () =>
      this.db.transaction(() => {
        const id = this.repo.insertRun({
          name: opts.name?.trim() || `${config.model} on ${config.dataset}`,
          model: config.model,
          dataset: config.dataset,
          config: JSON.stringify(config),
          classes: JSON.stringify(opts.classes),
          paramCount: opts.paramCount,
          createdAt,
          epochsPlanned: config.epochs
        })
        if (opts.sweepId !== undefined || opts.initFrom !== undefined)
          this.repo.update(id, { sweep_id: opts.sweepId ?? null, init_from: opts.initFrom?.runId ?? null })
        // Before the commit: a run nobody owns would be recovered by the next process that opens the folder.
        lock?.own(id)
        return id
      })()
    )
    return this.get(id)
  }

  markStarted(runId: number, info: { backend: string; device: string | null; libVersions: Record<string, string> }): void {
    this.requireActive(runId)
    this.write('mark the run started', () =>
      this.repo.update(runId, {
        status: 'running',
        started_at: now(),
        backend: info.backend,
        device: info.device,
        lib_versions: JSON.stringify(info.libVersions)
      })
    )
  }

  recordSteps(runId: number, points: StepPoint[]): void {
    if (points.length === 0) return
    for (const p of points)
      if (!Number.isFinite(p.x) || !Number.isFinite(p.loss) || !Number.isFinite(p.acc))
        throw new StudioError('invalid_argument', `A curve point of run ${runId} is not finite: ${JSON.stringify(p)}`)
    this.requireActive(runId)
    this.write('record training steps', () => this.db.transaction(() => this.repo.insertSteps(runId, points))())
  }

  stagingDir(runId: number): string {
    const dir = join(this.paths.runDir(runId), 'staging')
    try {
      mkdirSync(dir, { recursive: true })
    } catch (err) {
      throw storageError(`create the staging folder ${dir}`, err)
    }
    return dir
  }

  weightsDir(runId: number, kind: CheckpointKind): string {
    return join(this.paths.runDir(runId), kind)
  }

  recordEpoch(
    runId: number,
    epoch: EpochRecord,
    confusion: number[][],
    predictions: Uint8Array,
    checkpoints: { kind: CheckpointKind; stagedDir: string }[]
  ): void {
    const run = this.requireActive(runId)
    const n = (JSON.parse(run.classes) as string[]).length
    if (!Number.isInteger(epoch.epoch) || epoch.epoch < 1)
      throw new StudioError('invalid_argument', `Epoch number ${epoch.epoch} of run ${runId} must be an integer >= 1.`)
    if (confusion.length !== n)
      throw new StudioError('invalid_argument', `The confusion matrix of run ${runId} epoch ${epoch.epoch} has ${confusion.length} rows; the run has ${n} classes.`)
    let confusionBlob: Buffer
    try {
      confusionBlob = encodeMatrix(confusion)
    } catch (err) {
      throw new StudioError('invalid_argument', `Run ${runId} epoch ${epoch.epoch}: ${(err as Error).message}`)
    }
    const kinds = new Set<string>()
    if (new Set(checkpoints.map((c) => resolve(c.stagedDir))).size !== checkpoints.length)
      throw new StudioError('invalid_argument', `Run ${runId} epoch ${epoch.epoch}: each checkpoint needs its own staged folder.`)
    for (const c of checkpoints) {
      if (kinds.has(c.kind)) throw new StudioError('invalid_argument', `Two '${c.kind}' checkpoints for run ${runId} epoch ${epoch.epoch}.`)
      kinds.add(c.kind)
      // Only folders under this run's staging folder: same file system (renames stay atomic), and
      // nothing else on disk can be moved into the data folder by a wrong path.
      const rel = relative(join(this.paths.runDir(runId), 'staging'), resolve(c.stagedDir))
      if (!rel || rel.startsWith('..') || isAbsolute(rel))
        throw new StudioError('invalid_argument', `The staged checkpoint ${c.stagedDir} is not inside ${join(this.paths.runDir(runId), 'staging')}.`)
      const problem = checkpointProblem(c.stagedDir)
      if (problem) throw new StudioError('invalid_argument', `The staged checkpoint ${c.stagedDir} cannot be loaded: ${problem}.`)
    }

    // 1. Files: move each staged folder in, keeping the one it replaces aside until the commit.
    const runDir = this.paths.runDir(runId)
    let swap
    try {
      swap = swapInCheckpoints(runDir, runId, epoch.epoch, checkpoints)
    } catch (err) {
      throw storageError(`store the checkpoint of run ${runId} epoch ${epoch.epoch}`, err)
    }

    // 2. Rows, in one transaction. 3. Only then drop the replaced folders.
    // Beyond a killed process, an OS crash or power cut too: the renames reached the disk before the
    // commit does, and this one commit is synced in full (curve points stay on the cheaper NORMAL).
    try {
      this.db.pragma('synchronous = FULL')
      try {
        this.db.transaction(() => {
          this.repo.insertEpoch(runId, epoch, confusionBlob, toBlob(predictions), kinds.has('best'))
        })()
      } finally {
        this.db.pragma('synchronous = NORMAL')
      }
    } catch (err) {
      swap.undo()
      throw storageError(`record epoch ${epoch.epoch} of run ${runId}`, err)
    }
    swap.finish()
  }

  finish(runId: number, r: FinishInfo): RunRecord {
    if (ACTIVE.includes(r.status)) throw new StudioError('invalid_argument', `A run cannot finish as '${r.status}'.`)
    this.requireActive(runId)
    const fields: Record<string, unknown> = { status: r.status, finished_at: now() }
    if (r.error !== undefined) fields.error = r.error
    if (r.bestEpoch !== undefined) fields.best_epoch = r.bestEpoch
    if (r.bestValAcc !== undefined) fields.best_val_acc = r.bestValAcc
    if (r.examplesPerSec !== undefined) fields.examples_per_sec = r.examplesPerSec
    let confusion: Buffer | null = null
    if (r.test) {
      try {
        confusion = encodeMatrix(r.test.confusion)
      } catch (err) {
        throw new StudioError('invalid_argument', `Test confusion of run ${runId}: ${(err as Error).message}`)
      }
      if (r.test.labels && r.test.labels.length !== r.test.predictions.length)
        throw new StudioError('invalid_argument', `Run ${runId}: ${r.test.labels.length} test labels but ${r.test.predictions.length} predictions.`)
      Object.assign(fields, {
        test_loss: r.test.loss,
        test_acc: r.test.acc,
        test_confusion: confusion,
        test_precision: JSON.stringify(r.test.precision),
        test_recall: JSON.stringify(r.test.recall)
      })
    }
    const test = r.test
    // Staged weights go first: on a full disk their space is what lets the end be written.
    removeQuietly(join(this.paths.runDir(runId), 'staging'))
    try {
      this.write(`record the end of run ${runId}`, () =>
        this.db.transaction(() => {
          this.repo.update(runId, fields)
          if (test) {
            this.repo.insertPredictions(runId, 0, toBlob(test.predictions))
            if (test.labels) this.repo.insertLabels(runId, 'test', toBlob(test.labels))
          }
        })()
      )
    } catch (err) {
      // The run is over either way. Keep the first cause (a failed run's own error) for this
      // process's readers and, beside the run, for the next open to store.
      const cause = r.status === 'failed' && r.error ? r.error : (err as Error).message
      this.unrecorded.set(runId, cause)
      this.lock?.noteFailure(runId, cause)
      throw err
    }
    this.lock?.disown(runId)
    return this.get(runId)
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  get(runId: number): RunRecord {
    const row = this.read(() => this.repo.getRow(runId))
    if (!row) throw new StudioError('not_found', `There is no run ${runId}.`)
    const record = toRecord(row)
    const lost = this.unrecorded.get(runId)
    return lost !== undefined && ACTIVE.includes(record.status) ? { ...record, status: 'failed', error: lost } : record
  }

  list(q: RunQuery): { rows: RunSummary[]; total: number } {
    const parsed = RunQuerySchema.safeParse(q)
    if (!parsed.success) throw new StudioError('invalid_argument', `Bad run query: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    const p = parsed.data
    const { rows, total } = this.read(() => this.repo.list(p, p.sortBy, p.sortDir, p.offset, p.limit))
    return { rows: rows.map(toSummary), total }
  }

  curves(runId: number, maxPoints = 2000): RunCurves {
    this.requireRun(runId)
    return this.read(() => {
      const c = this.repo.stepColumns(runId)
      const steps = decimateIndices(c.x, c.loss, maxPoints).map((i) => ({ x: c.x[i], loss: c.loss[i], acc: c.acc[i] }))
      return { runId, steps, totalSteps: c.x.length, epochs: this.repo.epochs(runId) }
    })
  }

  epochs(runId: number): EpochRecord[] {
    this.requireRun(runId)
    return this.read(() => this.repo.epochs(runId))
  }

  confusion(runId: number, epoch: number | 'test'): ConfusionMatrix {
    const run = this.get(runId)
    const blob = this.read(() =>
      epoch === 'test' ? (this.repo.getRow(runId)?.test_confusion ?? undefined) : this.repo.epochConfusion(runId, epoch)
    )
    if (!blob) throw new StudioError('not_found', `Run ${runId} has no ${epoch === 'test' ? 'test' : `epoch ${epoch}`} confusion matrix.`)
    const matrix = decodeMatrix(blob)
    return { runId, epoch, classes: run.classes, matrix, accuracy: accuracyFromConfusion(matrix), ...classMetrics(matrix) }
  }

  predictions(runId: number, epoch: number | 'test'): Uint8Array {
    this.requireRun(runId)
    const blob = this.read(() => this.repo.predictions(runId, epoch === 'test' ? 0 : epoch))
    if (!blob) throw new StudioError('not_found', `Run ${runId} has no ${epoch === 'test' ? 'test' : `epoch ${epoch}`} predictions.`)
    return fromBlob(blob)
  }

  /** True test labels recorded with the run (finish(test.labels)), or null. */
  testLabels(runId: number): Uint8Array | null {
    this.requireRun(runId)
    const blob = this.read(() => this.repo.labels(runId, 'test'))
    return blob ? fromBlob(blob) : null
  }

  // -------------------------------------------------------------------------------------------
  // Editing

  rename(runId: number, name: string): RunRecord {
    const n = name.trim()
    if (!n || n.length > 120) throw new StudioError('invalid_argument', 'A run name must be 1 to 120 characters.')
    this.requireRun(runId)
    this.write('rename the run', () => this.repo.update(runId, { name: n }))
    return this.get(runId)
  }

  setNotes(runId: number, notes: string): RunRecord {
    if (notes.length > 20_000) throw new StudioError('invalid_argument', 'Notes are limited to 20,000 characters.')
    this.requireRun(runId)
    this.write('save the notes', () => this.repo.update(runId, { notes }))
    return this.get(runId)
  }

  setTags(runId: number, tags: string[]): RunRecord {
    const clean: string[] = []
    for (const t of tags) {
      const p = TagSchema.safeParse(t)
      if (!p.success) throw new StudioError('invalid_argument', `Tag ${JSON.stringify(t)} must be 1 to 60 characters.`)
      if (!clean.includes(p.data)) clean.push(p.data)
    }
    if (clean.length > 30) throw new StudioError('invalid_argument', 'A run can have at most 30 tags.')
    this.requireRun(runId)
    this.write('save the tags', () => this.db.transaction(() => this.repo.setTags(runId, clean))())
    return this.get(runId)
  }

  /** Rows and folder go together: the folder is moved aside, the rows deleted, then the folder removed. */
  delete(runId: number): { deleted: number } {
    const status = this.requireRun(runId).status as RunStatus
    if (ACTIVE.includes(status)) throw new StudioError('conflict', `Run ${runId} is ${status}; cancel it before deleting it.`)
    const dir = this.paths.runDir(runId)
    const trash = join(this.paths.runs, trashName(runId))
    let moved = false
    try {
      if (existsSync(dir)) {
        renameSync(dir, trash)
        moved = true
      }
    } catch (err) {
      throw storageError(`move the files of run ${runId} aside`, err)
    }
    try {
      this.db.transaction(() => this.repo.deleteRun(runId))()
    } catch (err) {
      if (moved) {
        try {
          renameSync(trash, dir)
        } catch {
          // The next open puts it back: the rows still name this run.
        }
      }
      throw storageError(`delete run ${runId}`, err)
    }
    if (moved) removeQuietly(trash)
    return { deleted: runId }
  }

  // -------------------------------------------------------------------------------------------
  // Exporting, importing

  /** Writes a zip (into `path` when it is a folder); returns the zip's path. */
  async exportRun(runId: number, path: string): Promise<string> {
    const run = this.get(runId)
    const data = this.read(() => ({
      run,
      epochs: this.repo.epochs(runId),
      confusions: this.repo.allConfusions(runId).map((c) => ({ epoch: c.epoch as number | 'test', matrix: decodeMatrix(c.confusion) })),
      steps: this.repo.steps(runId),
      predictions: this.repo.allPredictions(runId).map((p) => ({ epoch: p.epoch === 0 ? ('test' as const) : p.epoch, classes: fromBlob(p.classes) })),
      testLabels: this.repo.labels(runId, 'test') ?? null,
      testConfusion: this.repo.getRow(runId)?.test_confusion ?? null,
      inspections: this.repo.inspections(runId).map((r) => ({
        epoch: r.epoch,
        histograms: JSON.parse(r.histograms) as LayerHistogram[],
        filters: r.filters ? (JSON.parse(r.filters) as FilterSnapshot) : null
      })),
      trueProbabilities: this.repo.allPredictions(runId).flatMap((p) => {
        const blob = this.repo.trueProbabilities(runId, p.epoch)
        return blob ? [{ epoch: p.epoch === 0 ? ('test' as const) : p.epoch, values: new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength)) }] : []
      })
    }))
    if (data.testConfusion) data.confusions.push({ epoch: 'test', matrix: decodeMatrix(data.testConfusion) })
    return exportRunArchive(
      {
        run: data.run,
        epochs: data.epochs,
        confusions: data.confusions,
        steps: data.steps,
        predictions: data.predictions,
        testLabels: data.testLabels ? fromBlob(data.testLabels) : null,
        weights: { best: this.weightsDir(runId, 'best'), last: this.weightsDir(runId, 'last') },
        inspections: data.inspections,
        trueProbabilities: data.trueProbabilities
      },
      path
    )
  }

  /** Validates the whole zip first; then stages files and commits rows and folder together. */
  async importRun(path: string): Promise<RunRecord> {
    // The archive is checked as it is read; its weights stream into this folder (removed on any failure).
    const staging = join(this.paths.runs, `.import-${process.pid}-${Date.now()}`)
    let a: Awaited<ReturnType<typeof importRunArchive>>
    try {
      a = await importRunArchive(path, staging)
    } catch (err) {
      removeQuietly(staging)
      throw storageError(`unpack ${path}`, err)
    }
    let id = 0
    try {
      this.db.transaction(() => {
        const r = a.run
        id = this.repo.insertRun({
          name: r.name,
          model: a.config.model,
          dataset: a.config.dataset,
          config: JSON.stringify(a.config),
          classes: JSON.stringify(r.classes),
          paramCount: r.paramCount ?? 0,
          createdAt: r.createdAt,
          epochsPlanned: r.epochsPlanned
        })
        this.repo.update(id, {
          status: ACTIVE.includes(r.status) ? 'interrupted' : r.status,
          notes: r.notes,
          backend: r.backend,
          device: r.device,
          lib_versions: JSON.stringify(r.libVersions),
          param_count: r.paramCount,
          started_at: r.startedAt,
          finished_at: r.finishedAt,
          best_epoch: r.bestEpoch,
          best_val_acc: r.bestValAcc,
          test_loss: r.testLoss,
          test_acc: r.testAcc,
          test_precision: r.testPrecision === null ? null : JSON.stringify(r.testPrecision),
          test_recall: r.testRecall === null ? null : JSON.stringify(r.testRecall),
          test_confusion: a.testConfusion ? encodeMatrix(a.testConfusion) : null,
          examples_per_sec: r.examplesPerSec,
          error: r.error
        })
        // Tagged so a copy is told apart from its original in the same table.
        this.repo.setTags(id, [...new Set([...r.tags, 'imported'])])
        this.repo.insertSteps(id, a.steps)
        for (const e of a.epochs) {
          const conf = a.epochConfusions.get(e.epoch)!
          const preds = a.predictions.get(e.epoch)!
          this.repo.insertEpoch(id, e, encodeMatrix(conf), toBlob(preds), e.epoch === r.bestEpoch)
        }
        const testPreds = a.predictions.get(0)
        if (testPreds) this.repo.insertPredictions(id, 0, toBlob(testPreds))
        if (a.testLabels) this.repo.insertLabels(id, 'test', toBlob(a.testLabels))
        for (const i of a.inspections) this.repo.insertInspection(id, i.epoch, JSON.stringify(i.histograms), i.filters ? JSON.stringify(i.filters) : null)
        for (const [epoch, p] of a.trueProbabilities) this.repo.insertTrueProbabilities(id, epoch, Buffer.from(p.buffer, p.byteOffset, p.byteLength))
        this.repo.update(id, { best_epoch: r.bestEpoch, best_val_acc: r.bestValAcc })
        // Inside the transaction: if the folder cannot take its place, the rows roll back too.
        renameSync(staging, this.paths.runDir(id))
      })()
    } catch (err) {
      removeQuietly(staging)
      if (id && existsSync(this.paths.runDir(id)) && !this.repo.status(id)) removeQuietly(this.paths.runDir(id))
      throw storageError(`import ${path}`, err)
    }
    return this.get(id)
  }

  trainAgain(runId: number): TrainConfig {
    return this.get(runId).config
  }

  // -------------------------------------------------------------------------------------------
  // Resume and fine-tune (issue 19)

  /**
   * Puts an interrupted, cancelled or failed run back in the queue to continue after its last
   * finished epoch: returns the folders the worker continues from (null when no epoch finished,
   * so it starts over). The same run id, one continuous curve.
   */
  reopenForResume(runId: number): { run: RunRecord; resume: { lastDir: string; bestDir: string } | null } {
    const run = this.get(runId)
    if (!['failed', 'cancelled', 'interrupted'].includes(run.status))
      throw new StudioError('conflict', `Run ${runId} is ${run.status}; only an interrupted, cancelled or failed run can be resumed.`)
    if (run.epochsDone >= run.epochsPlanned)
      throw new StudioError('conflict', `Run ${runId} finished all ${run.epochsPlanned} planned epochs; there is nothing left to resume.`)
    const lastDir = this.weightsDir(runId, 'last')
    const resume = run.epochsDone > 0 ? { lastDir, bestDir: this.weightsDir(runId, 'best') } : null
    if (resume && !existsSync(join(lastDir, TRAIN_STATE_JSON)))
      throw new StudioError('conflict', `Run ${runId} was recorded before runs kept their optimizer state, so it cannot continue exactly; train it again instead.`)
    const lock = this.lock
    const changed = this.write(`resume run ${runId}`, () =>
      this.db.transaction(() => {
        const n = this.repo.reopenForResume(runId, run.epochsDone)
        if (n) lock?.own(runId)
        return n
      })()
    )
    if (!changed) throw new StudioError('conflict', `Run ${runId} is being resumed already.`)
    this.unrecorded.delete(runId)
    // Files the stopped worker staged for an epoch that never committed.
    removeQuietly(join(this.paths.runDir(runId), 'staging'))
    return { run: this.get(runId), resume }
  }

  /** All runs the query matches (no page limit) with their epochs, as one CSV (shared/runs-csv.ts). */
  exportCsv(q: RunQuery): { csv: string; runs: number; rows: number } {
    const parsed = RunQuerySchema.safeParse(q)
    if (!parsed.success) throw new StudioError('invalid_argument', `Bad run query: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    const p = parsed.data
    const out: Parameters<typeof runsEpochsCsv>[0] = []
    this.read(() => {
      const total = this.repo.list(p, p.sortBy, p.sortDir, 0, 1).total
      const rows = this.repo.list(p, p.sortBy, p.sortDir, 0, Math.max(1, total)).rows
      for (const row of rows) {
        const r = toRecord(row)
        out.push({ run: { ...r, config: r.config as unknown as Record<string, unknown> }, epochs: this.repo.epochs(row.id) })
      }
    })
    const csv = runsEpochsCsv(out)
    return { csv, runs: out.length, rows: out.reduce((n, r) => n + r.epochs.length, 0) }
  }

  /** The records of a sweep's runs, oldest first. */
  sweepRuns(sweepId: number): RunRecord[] {
    return this.read(() => this.repo.sweepRows(sweepId)).map((row) => {
      const record = toRecord(row)
      const lost = this.unrecorded.get(row.id)
      return lost !== undefined && ACTIVE.includes(record.status) ? { ...record, status: 'failed' as const, error: lost } : record
    })
  }

  /** The checkpoint folder a fine-tune starts from: another run's best weights, which must exist. */
  fineTuneSource(runId: number): string {
    const run = this.get(runId)
    const dir = this.weightsDir(runId, 'best')
    const problem = checkpointProblem(dir)
    if (problem) throw new StudioError('not_found', `Run ${runId} (${run.name}) has no weights to start from: ${problem}.`)
    return dir
  }

  // -------------------------------------------------------------------------------------------
  // Inspection (issue 18): what the trainer measured per epoch beside the metrics.

  /** Records an epoch's histograms and filter snapshot, and/or an evaluation's true-class probabilities (epoch 'test' after the run). */
  recordInspection(runId: number, epoch: number | 'test', data: { histograms?: LayerHistogram[]; filters?: FilterSnapshot | null; trueProbabilities?: Float32Array }): void {
    this.requireRun(runId)
    const e = epoch === 'test' ? 0 : epoch
    if (!Number.isInteger(e) || e < 0) throw new StudioError('invalid_argument', `Epoch number ${epoch} of run ${runId} must be an integer >= 1.`)
    this.write(`record the inspection data of run ${runId}`, () =>
      this.db.transaction(() => {
        if (data.histograms && e > 0) this.repo.insertInspection(runId, e, JSON.stringify(data.histograms), data.filters ? JSON.stringify(data.filters) : null)
        const p = data.trueProbabilities
        if (p) this.repo.insertTrueProbabilities(runId, e, Buffer.from(p.buffer, p.byteOffset, p.byteLength))
      })()
    )
  }

  histograms(runId: number): EpochHistograms[] {
    this.requireRun(runId)
    return this.read(() => this.repo.inspections(runId)).map((r) => ({ epoch: r.epoch, histograms: JSON.parse(r.histograms) as LayerHistogram[] }))
  }

  filters(runId: number): FilterSnapshot[] {
    this.requireRun(runId)
    return this.read(() => this.repo.inspections(runId)).flatMap((r) => (r.filters ? [JSON.parse(r.filters) as FilterSnapshot] : []))
  }

  /** Each example's probability of its true class, in the order of runs.predictions for the same evaluation. */
  trueProbabilities(runId: number, epoch: number | 'test'): Float32Array {
    this.requireRun(runId)
    const blob = this.read(() => this.repo.trueProbabilities(runId, epoch === 'test' ? 0 : epoch))
    if (!blob)
      throw new StudioError('not_found', `Run ${runId} kept no probabilities for ${epoch === 'test' ? 'the test set' : `epoch ${epoch}`} (runs trained before this version did not).`)
    return new Float32Array(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.byteLength))
  }

  private requireRun(runId: number): { status: string } {
    const status = this.read(() => this.repo.status(runId))
    if (!status) throw new StudioError('not_found', `There is no run ${runId}.`)
    return { status }
  }

  private requireActive(runId: number) {
    const row = this.read(() => this.repo.getRow(runId))
    if (!row) throw new StudioError('not_found', `There is no run ${runId}.`)
    const status = this.unrecorded.has(runId) ? 'failed' : row.status
    if (!ACTIVE.includes(status as RunStatus))
      throw new StudioError('conflict', `Run ${runId} is ${status}; only a queued or running run can record training.`)
    return row
  }

  private write<T>(action: string, fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw storageError(action, err)
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw storageError('read the run database', err)
    }
  }
}
