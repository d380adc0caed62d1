// SQL for runs and what hangs off them. Statements are prepared once per connection: recording a
// batch of curve points or an epoch is a handful of bound executions inside one transaction.
import type { EpochRecord, RunRecord, RunSummary, StepPoint } from '../../shared/domain'
import { RunSortKeySchema, RunStatusSchema, TrainConfigSchema, type RunSortKey, type RunStatus } from '../../shared/schemas'
import { StudioError } from '../../shared/contract'
import type { Db } from './db'

export interface RunRow {
  id: number
  name: string
  notes: string
  status: string
  model: string
  dataset: string
  config: string
  classes: string
  backend: string | null
  device: string | null
  lib_versions: string
  param_count: number | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  best_epoch: number | null
  best_val_acc: number | null
  test_loss: number | null
  test_acc: number | null
  test_precision: string | null
  test_recall: string | null
  test_confusion: Buffer | null
  examples_per_sec: number | null
  error: string | null
  epochs_planned: number
  epochs_done: number
  tags: string
  /** Schema v5; undefined on a database an older version opened read-only. */
  sweep_id?: number | null
  init_from?: number | null
}

export const sortColumns: Record<RunSortKey, string> = {
  createdAt: 'created_at',
  name: 'name COLLATE NOCASE',
  status: 'status',
  model: 'model',
  dataset: 'dataset',
  bestValAcc: 'best_val_acc',
  testAcc: 'test_acc',
  testLoss: 'test_loss',
  examplesPerSec: 'examples_per_sec',
  paramCount: 'param_count'
}
// Every key must have a column: a new sort key in the contract fails here, not at query time.
RunSortKeySchema.options.forEach((k) => {
  if (!sortColumns[k]) throw new Error(`no column for sort key ${k}`)
})

/** Sort keys whose column can be NULL; the others are NOT NULL in the schema. */
const NULLABLE_SORT = new Set<RunSortKey>(['bestValAcc', 'testAcc', 'testLoss', 'examplesPerSec', 'paramCount'])

const TAGS = `(SELECT json_group_array(tag) FROM (SELECT tag FROM run_tags t WHERE t.run_id = r.id ORDER BY tag))`

export function toSummary(r: RunRow): RunSummary {
  return {
    id: r.id,
    name: r.name,
    status: RunStatusSchema.parse(r.status),
    model: r.model,
    dataset: r.dataset,
    tags: JSON.parse(r.tags) as string[],
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    backend: r.backend,
    paramCount: r.param_count,
    bestEpoch: r.best_epoch,
    bestValAcc: r.best_val_acc,
    testAcc: r.test_acc,
    testLoss: r.test_loss,
    examplesPerSec: r.examples_per_sec,
    epochsDone: r.epochs_done,
    epochsPlanned: r.epochs_planned,
    sweepId: r.sweep_id ?? null
  }
}

export function toRecord(r: RunRow): RunRecord {
  const config = TrainConfigSchema.safeParse(JSON.parse(r.config))
  if (!config.success)
    throw new StudioError('storage_error', `Run ${r.id} has a stored config this version cannot read: ${config.error.issues[0]?.message}`)
  return {
    ...toSummary(r),
    notes: r.notes,
    config: config.data,
    device: r.device,
    libVersions: JSON.parse(r.lib_versions) as Record<string, string>,
    startedAt: r.started_at,
    error: r.error,
    testPrecision: r.test_precision === null ? null : (JSON.parse(r.test_precision) as (number | null)[]),
    testRecall: r.test_recall === null ? null : (JSON.parse(r.test_recall) as (number | null)[]),
    classes: JSON.parse(r.classes) as string[],
    initFrom: r.init_from ?? null
  }
}

export interface ListFilter {
  search?: string
  status?: RunStatus
  model?: string
  dataset?: string
  tag?: string
  sweepId?: number
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => '\\' + c)
}

export class RunsRepository {
  private readonly s

  constructor(private readonly db: Db) {
    this.s = {
      insertRun: db.prepare(`INSERT INTO runs (name, status, model, dataset, config, classes, param_count, created_at, epochs_planned)
                             VALUES (@name, 'queued', @model, @dataset, @config, @classes, @paramCount, @createdAt, @epochsPlanned)`),
      getRun: db.prepare(`SELECT r.*, ${TAGS} AS tags FROM runs r WHERE r.id = ?`),
      exists: db.prepare(`SELECT status FROM runs WHERE id = ?`).pluck(),
      insertStep: db.prepare(`INSERT OR REPLACE INTO steps (run_id, x, loss, acc) VALUES (?, ?, ?, ?)`),
      insertEpoch: db.prepare(`INSERT OR REPLACE INTO epochs (run_id, epoch, train_loss, train_acc, val_loss, val_acc, seconds, examples_per_sec, confusion)
                               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertPredictions: db.prepare(`INSERT OR REPLACE INTO predictions (run_id, epoch, classes) VALUES (?, ?, ?)`),
      insertLabels: db.prepare(`INSERT OR REPLACE INTO labels (run_id, split, classes) VALUES (?, ?, ?)`),
      afterEpoch: db.prepare(`UPDATE runs SET epochs_done = (SELECT COUNT(*) FROM epochs WHERE run_id = @id),
                              best_epoch = CASE WHEN @best THEN @epoch ELSE best_epoch END,
                              best_val_acc = CASE WHEN @best THEN @valAcc ELSE best_val_acc END WHERE id = @id`),
      steps: db.prepare(`SELECT x, loss, acc FROM steps WHERE run_id = ? ORDER BY x`),
      stepColumns: db.prepare(`SELECT x, loss, acc FROM steps WHERE run_id = ? ORDER BY x`).raw(),
      epochs: db.prepare(`SELECT epoch, train_loss AS trainLoss, train_acc AS trainAcc, val_loss AS valLoss, val_acc AS valAcc,
                          seconds, examples_per_sec AS examplesPerSec FROM epochs WHERE run_id = ? ORDER BY epoch`),
      epochConfusion: db.prepare(`SELECT confusion FROM epochs WHERE run_id = ? AND epoch = ?`).pluck(),
      allConfusions: db.prepare(`SELECT epoch, confusion FROM epochs WHERE run_id = ? ORDER BY epoch`),
      predictions: db.prepare(`SELECT classes FROM predictions WHERE run_id = ? AND epoch = ?`).pluck(),
      allPredictions: db.prepare(`SELECT epoch, classes FROM predictions WHERE run_id = ? ORDER BY epoch`),
      labels: db.prepare(`SELECT classes FROM labels WHERE run_id = ? AND split = ?`).pluck(),
      deleteRun: db.prepare(`DELETE FROM runs WHERE id = ?`),
      deleteTags: db.prepare(`DELETE FROM run_tags WHERE run_id = ?`),
      insertTag: db.prepare(`INSERT OR IGNORE INTO run_tags (run_id, tag) VALUES (?, ?)`),
      update: (cols: string) => db.prepare(`UPDATE runs SET ${cols} WHERE id = @id`)
    }
  }

  insertRun(v: { name: string; model: string; dataset: string; config: string; classes: string; paramCount: number; createdAt: string; epochsPlanned: number }): number {
    return Number(this.s.insertRun.run(v).lastInsertRowid)
  }

  getRow(id: number): RunRow | undefined {
    return this.s.getRun.get(id) as RunRow | undefined
  }

  status(id: number): RunStatus | undefined {
    return this.s.exists.get(id) as RunStatus | undefined
  }

  update(id: number, fields: Record<string, unknown>): void {
    const cols = Object.keys(fields).map((k) => `${k} = @${k}`).join(', ')
    this.s.update(cols).run({ ...fields, id })
  }

  insertSteps(runId: number, points: StepPoint[]): void {
    for (const p of points) this.s.insertStep.run(runId, p.x, p.loss, p.acc)
  }

  insertEpoch(runId: number, e: EpochRecord, confusion: Buffer, predictions: Buffer, isBest: boolean): void {
    this.s.insertEpoch.run(runId, e.epoch, e.trainLoss, e.trainAcc, e.valLoss, e.valAcc, e.seconds, e.examplesPerSec, confusion)
    this.s.insertPredictions.run(runId, e.epoch, predictions)
    this.s.afterEpoch.run({ id: runId, best: isBest ? 1 : 0, epoch: e.epoch, valAcc: e.valAcc })
  }

  insertPredictions(runId: number, epoch: number, classes: Buffer): void {
    this.s.insertPredictions.run(runId, epoch, classes)
  }

  insertLabels(runId: number, split: 'test', classes: Buffer): void {
    this.s.insertLabels.run(runId, split, classes)
  }

  steps(runId: number): StepPoint[] {
    return this.s.steps.all(runId) as StepPoint[]
  }

  /** The curve as columns: long curves are decimated before any point object is made. */
  stepColumns(runId: number): { x: Float64Array; loss: Float64Array; acc: Float64Array } {
    const rows = this.s.stepColumns.all(runId) as [number, number, number][]
    const x = new Float64Array(rows.length)
    const loss = new Float64Array(rows.length)
    const acc = new Float64Array(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]
      x[i] = r[0]
      loss[i] = r[1]
      acc[i] = r[2]
    }
    return { x, loss, acc }
  }

  epochs(runId: number): EpochRecord[] {
    return this.s.epochs.all(runId) as EpochRecord[]
  }

  epochConfusion(runId: number, epoch: number): Buffer | undefined {
    return this.s.epochConfusion.get(runId, epoch) as Buffer | undefined
  }

  allConfusions(runId: number): { epoch: number; confusion: Buffer }[] {
    return this.s.allConfusions.all(runId) as { epoch: number; confusion: Buffer }[]
  }

  predictions(runId: number, epoch: number): Buffer | undefined {
    return this.s.predictions.get(runId, epoch) as Buffer | undefined
  }

  allPredictions(runId: number): { epoch: number; classes: Buffer }[] {
    return this.s.allPredictions.all(runId) as { epoch: number; classes: Buffer }[]
  }

  labels(runId: number, split: 'test'): Buffer | undefined {
    return this.s.labels.get(runId, split) as Buffer | undefined
  }

  setTags(runId: number, tags: string[]): void {
    this.s.deleteTags.run(runId)
    for (const t of tags) this.s.insertTag.run(runId, t)
  }

  deleteRun(runId: number): number {
    return this.s.deleteRun.run(runId).changes
  }

  list(f: ListFilter, sortBy: RunSortKey, dir: 'asc' | 'desc', offset: number, limit: number): { rows: RunRow[]; total: number } {
    const where: string[] = []
    const params: unknown[] = []
    if (f.status) {
      where.push('r.status = ?')
      params.push(f.status)
    }
    if (f.model) {
      where.push('r.model = ?')
      params.push(f.model)
    }
    if (f.dataset) {
      where.push('r.dataset = ?')
      params.push(f.dataset)
    }
    if (f.tag) {
      where.push('r.id IN (SELECT run_id FROM run_tags WHERE tag = ?)')
      params.push(f.tag)
    }
    if (f.sweepId !== undefined) {
      where.push('r.sweep_id = ?')
      params.push(f.sweepId)
    }
    if (f.search && f.search.trim()) {
      const like = `%${escapeLike(f.search.trim())}%`
      where.push(`(r.name LIKE ? ESCAPE '\\' OR r.notes LIKE ? ESCAPE '\\')`)
      params.push(like, like)
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : ''
    const col = sortColumns[sortBy]
    // NULLs (a run without a test accuracy yet) go last in both directions. Descending already puts
    // them last in SQLite, and that form lets the planner walk the sort key's index backwards.
    const nullable = NULLABLE_SORT.has(sortBy)
    const order =
      dir === 'desc' ? `r.${col} DESC, r.id DESC` : nullable ? `(r.${col} IS NULL), r.${col}, r.id` : `r.${col} ASC, r.id ASC`
    const rows = this.db
      .prepare(`SELECT r.*, ${TAGS} AS tags FROM runs r ${w} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(...params, limit, offset) as RunRow[]
    const total = this.db.prepare(`SELECT COUNT(*) FROM runs r ${w}`).pluck().get(...params) as number
    return { rows, total }
  }

  /** Ends an active run found orphaned: a failure note replaces any error, the generic sentence does not. */
  markEnded(runId: number, status: 'interrupted' | 'failed', now: string, message: string): number {
    const error = status === 'failed' ? '?' : 'COALESCE(error, ?)'
    return this.db
      .prepare(`UPDATE runs SET status = ?, finished_at = ?, error = ${error} WHERE id = ? AND status IN ('running', 'queued')`)
      .run(status, now, message, runId).changes
  }

  activeRunIds(): Set<number> {
    return new Set(this.db.prepare(`SELECT id FROM runs WHERE status IN ('running', 'queued')`).pluck().all() as number[])
  }

  hasEpoch(runId: number, epoch: number): boolean {
    return this.s.epochConfusion.get(runId, epoch) !== undefined
  }

  runIds(): Set<number> {
    return new Set(this.db.prepare('SELECT id FROM runs').pluck().all() as number[])
  }

  // -------------------------------------------------------------------------------------------
  // Resume (issue 19): a run continues in place from its last finished epoch.

  /**
   * Back to 'queued' with what training after `keepEpochs` produced removed: curve points of the
   * unfinished epoch, epochs beyond it (none, normally), the test results. Guarded by status, so two
   * resumes of one run cannot both win.
   */
  reopenForResume(runId: number, keepEpochs: number): number {
    const changed = this.db
      .prepare(`UPDATE runs SET status = 'queued', finished_at = NULL, error = NULL, test_loss = NULL, test_acc = NULL, test_confusion = NULL,
                test_precision = NULL, test_recall = NULL, examples_per_sec = NULL WHERE id = ? AND status IN ('failed', 'cancelled', 'interrupted')`)
      .run(runId).changes
    if (changed === 0) return 0
    this.db.prepare(`DELETE FROM steps WHERE run_id = ? AND x > ?`).run(runId, keepEpochs)
    this.db.prepare(`DELETE FROM epochs WHERE run_id = ? AND epoch > ?`).run(runId, keepEpochs)
    this.db.prepare(`DELETE FROM predictions WHERE run_id = ? AND (epoch = 0 OR epoch > ?)`).run(runId, keepEpochs)
    this.db.prepare(`DELETE FROM labels WHERE run_id = ?`).run(runId)
    this.db.prepare(`UPDATE runs SET epochs_done = (SELECT COUNT(*) FROM epochs WHERE run_id = ?) WHERE id = ?`).run(runId, runId)
    return changed
  }

  // Inspection (issue 18, migration 4)
  insertInspection(runId: number, epoch: number, histograms: string, filters: string | null): void {
    this.db.prepare(`INSERT OR REPLACE INTO epoch_inspection (run_id, epoch, histograms, filters) VALUES (?, ?, ?, ?)`).run(runId, epoch, histograms, filters)
  }

  inspections(runId: number): { epoch: number; histograms: string; filters: string | null }[] {
    return this.db.prepare(`SELECT epoch, histograms, filters FROM epoch_inspection WHERE run_id = ? ORDER BY epoch`).all(runId) as {
      epoch: number
      histograms: string
      filters: string | null
    }[]
  }

  insertTrueProbabilities(runId: number, epoch: number, probs: Buffer): void {
    this.db.prepare(`INSERT OR REPLACE INTO true_probabilities (run_id, epoch, probs) VALUES (?, ?, ?)`).run(runId, epoch, probs)
  }

  trueProbabilities(runId: number, epoch: number): Buffer | undefined {
    return this.db.prepare(`SELECT probs FROM true_probabilities WHERE run_id = ? AND epoch = ?`).pluck().get(runId, epoch) as Buffer | undefined
  }

  /** Every run of a sweep in one statement (the sweep page reads 200 at a time). */
  sweepRows(sweepId: number): RunRow[] {
    return this.db.prepare(`SELECT r.*, ${TAGS} AS tags FROM runs r WHERE r.sweep_id = ? ORDER BY r.id`).all(sweepId) as RunRow[]
  }
}
