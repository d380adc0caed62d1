// Sweeps: a grid and/or random draws over train options, times seeds, expanded into configs and
// queued under one sweep on the TrainingHost's own queue (its maxConcurrent). A run that fails is
// just a failed run; the queue goes on. Cancelling a sweep cancels its queued and training runs.
import { StudioError } from '../../shared/contract'
import type { RunRecord } from '../../shared/domain'
import { TrainConfigSchema, type TrainConfig, type TrainConfigInput } from '../../shared/schemas'
import { MAX_SWEEP_RUNS, SweepSpecSchema, type SweepDetail, type SweepInfo, type SweepKey, type SweepSpec, type SweepSpecInput, type SweepStatus } from '../../shared/sweeps'
import { getPreset, presets } from '../../core/models/presets'
import { createRng } from '../../core/data/batches'
import { storageError, type Db } from '../storage/db'
import type { RunStore } from './runs'
import type { TrainingHost } from './training'

/** One run of a sweep before it is queued: its config and the values that made it. */
export interface SweepPoint {
  config: TrainConfig
  values: Record<string, string | number>
}

function bad(message: string): never {
  throw new StudioError('invalid_argument', message)
}

function num(key: string, v: string | number, opts: { int?: boolean } = {}): number {
  const n = typeof v === 'number' ? v : Number(v)
  if ((typeof v === 'string' && v.trim() === '') || !Number.isFinite(n)) bad(`Sweep value ${key}=${v} is not a number.`)
  if (opts.int && !Number.isInteger(n)) bad(`Sweep value ${key}=${v} must be a whole number.`)
  return n
}

function schedule(v: string): TrainConfigInput['schedule'] {
  const [kind, a, b] = v.split(':')
  if (kind === 'constant' && a === undefined) return { type: 'constant' }
  if (kind === 'step' && a !== undefined && b !== undefined) return { type: 'step', stepEpochs: Number(a), gamma: Number(b) }
  if (kind === 'cosine' && b === undefined) return { type: 'cosine', minLr: a === undefined ? 0 : Number(a) }
  bad(`Sweep value schedule=${v}: use constant, step:<epochs>:<gamma> or cosine[:<minLr>].`)
}

/** The config with one train option set, by its CLI name. */
export function applyKey(config: TrainConfigInput, key: SweepKey, v: string | number): TrainConfigInput {
  const c = { ...config }
  switch (key) {
    case 'lr':
      c.lr = num(key, v)
      break
    case 'batch-size':
      c.batchSize = num(key, v, { int: true })
      break
    case 'momentum':
      c.momentum = num(key, v)
      break
    case 'weight-decay':
      c.weightDecay = num(key, v)
      break
    case 'epochs':
      c.epochs = num(key, v, { int: true })
      break
    case 'seed':
      c.seed = num(key, v, { int: true })
      break
    case 'patience':
      c.earlyStoppingPatience = num(key, v, { int: true })
      break
    case 'train-limit':
      c.trainLimit = num(key, v, { int: true })
      break
    case 'val-split':
      c.validation = { source: 'split', fraction: num(key, v), stratified: true }
      break
    case 'optimizer':
      if (v !== 'sgd' && v !== 'adam') bad(`Sweep value optimizer=${v}: use sgd or adam.`)
      c.optimizer = v
      break
    case 'init':
      if (v !== 'xavier' && v !== 'default') bad(`Sweep value init=${v}: use xavier or default.`)
      c.init = v
      break
    case 'schedule':
      c.schedule = schedule(String(v))
      break
    case 'model': {
      const preset = getPreset(String(v))
      if (!preset) bad(`Sweep value model=${v}: models are ${presets.map((p) => p.id).join(', ')}.`)
      c.model = preset.id
      c.spec = preset.spec
      break
    }
  }
  return c
}

/** Every run a sweep makes: grid (cartesian product) x random trials x seeds, each config checked. */
export function expandSweep(specInput: SweepSpecInput | SweepSpec): SweepPoint[] {
  const spec = SweepSpecSchema.parse(specInput)
  for (const r of spec.random) {
    if (!(r.hi > r.lo)) bad(`--random ${r.key}: the upper end (${r.hi}) must be above the lower (${r.lo}).`)
    if (r.log && r.lo <= 0) bad(`--random ${r.key}: a log range needs a lower end above 0.`)
  }
  const keys = [...spec.grid.map((g) => g.key), ...spec.random.map((r) => r.key)]
  if (new Set(keys).size !== keys.length) bad(`Each key may be swept once (got ${keys.join(', ')}).`)
  if (spec.seeds && keys.includes('seed')) bad('Give seeds either with --seeds or as a grid key, not both.')
  const trials = spec.random.length ? spec.trials : 1
  const seeds = spec.seeds ?? [spec.base.seed]
  const combos = spec.grid.reduce((n, g) => n * g.values.length, 1) * trials * seeds.length
  if (combos > MAX_SWEEP_RUNS) bad(`This sweep would queue ${combos} runs; the most is ${MAX_SWEEP_RUNS}.`)

  let grid: Record<string, string | number>[] = [{}]
  for (const g of spec.grid) grid = grid.flatMap((row) => g.values.map((v) => ({ ...row, [g.key]: v })))
  // Random draws from the sweep's own stream: the same spec makes the same runs.
  const rng = createRng(spec.base.seed ^ 0x5eed)
  const draws: Record<string, number>[] = []
  for (let t = 0; t < trials; t++) {
    const d: Record<string, number> = {}
    for (const r of spec.random) {
      const u = rng()
      const x = r.log ? Math.exp(Math.log(r.lo) + u * (Math.log(r.hi) - Math.log(r.lo))) : r.lo + u * (r.hi - r.lo)
      // Four significant digits: a value a person can type back in.
      d[r.key] = Number(x.toPrecision(4))
    }
    draws.push(d)
  }
  const out: SweepPoint[] = []
  for (const row of grid)
    for (const d of draws)
      for (const seed of seeds) {
        const values: Record<string, string | number> = { ...row, ...d }
        let c: TrainConfigInput = { ...spec.base, seed }
        for (const [k, v] of Object.entries(values)) c = applyKey(c, k as SweepKey, v)
        if (spec.seeds) values.seed = seed
        const parsed = TrainConfigSchema.safeParse(c)
        if (!parsed.success) {
          const i = parsed.error.issues[0]
          bad(`Sweep run ${describe(values)}: ${i.path.join('.')}: ${i.message}.`)
        }
        out.push({ config: parsed.data, values })
      }
  return out
}

export function describe(values: Record<string, string | number>): string {
  return Object.entries(values).map(([k, v]) => `${k}=${v}`).join(' ') || 'base'
}

interface SweepRow {
  id: number
  name: string
  spec: string
  created_at: string
  cancelled_at: string | null
}

/** The value of a swept key in a run's config, for tables and charts. */
export function keyValue(config: TrainConfig, key: string): string | number {
  switch (key) {
    case 'lr':
      return config.lr
    case 'batch-size':
      return config.batchSize
    case 'momentum':
      return config.momentum
    case 'weight-decay':
      return config.weightDecay
    case 'epochs':
      return config.epochs
    case 'seed':
      return config.seed
    case 'patience':
      return config.earlyStoppingPatience ?? 'none'
    case 'train-limit':
      return config.trainLimit ?? 'all'
    case 'val-split':
      return config.validation.source === 'split' ? config.validation.fraction : 'test'
    case 'optimizer':
      return config.optimizer
    case 'init':
      return config.init
    case 'model':
      return config.model
    case 'schedule': {
      const s = config.schedule
      return s.type === 'step' ? `step:${s.stepEpochs}:${s.gamma}` : s.type === 'cosine' ? `cosine:${s.minLr}` : 'constant'
    }
    default:
      return ''
  }
}

export class SweepService {
  constructor(
    private readonly db: Db,
    private readonly runs: RunStore,
    private readonly training: TrainingHost,
    /** What training.start does before queueing: the config as it will train (a preset fitted to the dataset, normalisation numbers) and its checks (classes, parameter count). */
    private readonly prepare: (config: TrainConfig) => Promise<{ config: TrainConfig; classes: string[]; paramCount: number }>
  ) {}

  /** Checks every run first (a bad value refuses the whole sweep, nothing queued), then queues them all. */
  async start(specInput: SweepSpecInput): Promise<SweepDetail> {
    const parsed = SweepSpecSchema.safeParse(specInput)
    if (!parsed.success) bad(`Bad sweep: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    const spec = parsed.data
    const points = expandSweep(spec)
    // Every run is prepared and checked before any is queued: one bad value refuses the sweep.
    // Runs that share dataset, model and input settings share one preparation: a 'dataset'
    // normalisation would otherwise load the whole set once per run. Preparation sets only these fields.
    const ready: { config: TrainConfig; classes: string[]; paramCount: number }[] = []
    const shared = new Map<string, { config: TrainConfig; classes: string[]; paramCount: number }>()
    for (const p of points) {
      const c = p.config
      const key = JSON.stringify([c.dataset, c.model, c.spec, c.normalize, c.augment])
      let prep = shared.get(key)
      if (!prep) shared.set(key, (prep = await this.prepare(c)))
      ready.push({ ...prep, config: { ...c, spec: prep.config.spec, normalize: prep.config.normalize, imagePrep: prep.config.imagePrep } })
    }
    const keys = [...spec.grid.map((g) => g.key), ...spec.random.map((r) => r.key), ...(spec.seeds ? ['seed'] : [])]
    let id: number
    try {
      id = Number(
        this.db
          .prepare(`INSERT INTO sweeps (name, spec, created_at) VALUES (?, ?, ?)`)
          .run(spec.name ?? `${spec.base.model} on ${spec.base.dataset}: ${keys.join(', ') || 'repeat'}`, JSON.stringify(spec), new Date().toISOString()).lastInsertRowid
      )
    } catch (err) {
      throw storageError('record the sweep', err)
    }
    points.forEach((p, i) => {
      const { config, classes, paramCount } = ready[i]
      this.training.start(config, { name: `sweep ${id} #${i + 1}: ${describe(p.values)}`, classes, paramCount, sweepId: id })
    })
    return this.get(id)
  }

  list(): SweepInfo[] {
    const rows = this.db.prepare(`SELECT * FROM sweeps ORDER BY id DESC`).all() as SweepRow[]
    return rows.map((r) => this.info(r))
  }

  get(sweepId: number): SweepDetail {
    const row = this.row(sweepId)
    const spec = SweepSpecSchema.parse(JSON.parse(row.spec))
    const sweep = this.info(row)
    const runs = this.runs.sweepRuns(sweepId).map((run) => {
      const values: Record<string, string | number> = {}
      for (const k of sweep.keys) values[k] = keyValue(run.config, k)
      return { run, values }
    })
    return { sweep, spec, runs }
  }

  /** Cancels every run of the sweep still queued or training; finished ones stay as they are. */
  async cancel(sweepId: number): Promise<SweepDetail> {
    this.row(sweepId)
    try {
      this.db.prepare(`UPDATE sweeps SET cancelled_at = COALESCE(cancelled_at, ?) WHERE id = ?`).run(new Date().toISOString(), sweepId)
    } catch (err) {
      throw storageError('cancel the sweep', err)
    }
    const active = this.runIds(sweepId).filter((id) => ['queued', 'running'].includes(this.runs.get(id).status))
    // Queued ones first, so none of them starts in the slot the training one frees.
    active.sort((a, b) => Number(this.runs.get(a).status === 'running') - Number(this.runs.get(b).status === 'running'))
    await Promise.all(active.map((id) => this.training.cancel(id).catch(() => undefined)))
    return this.get(sweepId)
  }

  /** Resolves with every run's final record once none is queued or training. */
  async whenFinished(sweepId: number): Promise<RunRecord[]> {
    return Promise.all(this.runIds(sweepId).map((id) => this.training.whenFinished(id)))
  }

  private runIds(sweepId: number): number[] {
    return this.db.prepare(`SELECT id FROM runs WHERE sweep_id = ? ORDER BY id`).pluck().all(sweepId) as number[]
  }

  private row(sweepId: number): SweepRow {
    const row = this.db.prepare(`SELECT * FROM sweeps WHERE id = ?`).get(sweepId) as SweepRow | undefined
    if (!row) throw new StudioError('not_found', `There is no sweep ${sweepId}.`)
    return row
  }

  private info(r: SweepRow): SweepInfo {
    const counts: Record<string, number> = {}
    for (const c of this.db.prepare(`SELECT status, COUNT(*) AS n FROM runs WHERE sweep_id = ? GROUP BY status`).all(r.id) as { status: string; n: number }[]) counts[c.status] = c.n
    const total = Object.values(counts).reduce((a, b) => a + b, 0)
    const active = (counts.queued ?? 0) + (counts.running ?? 0)
    const status: SweepStatus = active > 0 ? 'running' : r.cancelled_at ? 'cancelled' : 'completed'
    const spec = JSON.parse(r.spec) as SweepSpec
    const keys = [...spec.grid.map((g) => g.key), ...spec.random.map((x) => x.key), ...(spec.seeds ? ['seed'] : [])]
    return { id: r.id, name: r.name, createdAt: r.created_at, cancelledAt: r.cancelled_at, status, runs: total, counts, keys }
  }
}
