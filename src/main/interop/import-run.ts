// The host's side of `models import`: a worker reads and evaluates the checkpoint; only when that
// succeeded is an 'imported' run recorded, with the test metrics, every test prediction and the
// weights as the run's checkpoint, so it is inspected, compared and exported like a trained run.
// A bad file, a checkpoint of another network or a missing dataset records nothing.
import { existsSync, linkSync, copyFileSync, mkdirSync, readdirSync, renameSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { StudioError, type ErrorCode } from '../../shared/contract'
import type { RunRecord } from '../../shared/domain'
import { TrainConfigSchema, type TrainConfig } from '../../shared/schemas'
import { getPreset, presets } from '../../core/models/presets'
import { removeQuietly } from '../storage/files'
import { storageError } from '../storage/db'
import { fromBase64, type ChildHandle, type FromChild, type Spawner } from '../training-protocol'
import type { DatasetStore } from '../services/datasets'
import type { RunStore } from '../services/runs'
import { checkRunStart } from '../services/run-start'

export interface ImportModelArgs {
  path: string
  model: string
  dataset: string
  name?: string
  /** Shown in the notes instead of the path (an upload's scratch copy means nothing to the person). */
  from?: string
}

export interface ImportModelDeps {
  runs: RunStore
  datasets: DatasetStore
  spawn: Spawner
  dataDir: string
  /** AlexNet on 10,000 images on a CPU takes minutes. */
  timeoutMs?: number
}

type Evaluated = Extract<FromChild, { type: 'evaluated' }>

function evaluateInWorker(spawn: Spawner, msg: Extract<Parameters<ChildHandle['send']>[0], { type: 'evaluate' }>, timeoutMs: number): Promise<Evaluated> {
  return new Promise((resolve, reject) => {
    const child = spawn()
    let done = false
    const finish = (err: Error | null, value?: Evaluated) => {
      if (done) return
      done = true
      clearTimeout(timer)
      child.kill('SIGTERM')
      if (err) reject(err)
      else resolve(value!)
    }
    const timer = setTimeout(() => finish(new StudioError('unavailable', `Evaluating the weights took longer than ${Math.round(timeoutMs / 1000)} s.`)), timeoutMs)
    child.onMessage((m) => {
      if (m.type === 'evaluated') finish(null, m)
      else if (m.type === 'evaluateFailed') finish(new StudioError(m.code as ErrorCode, m.message))
      else if (m.type === 'error') finish(new StudioError('unavailable', m.message))
    })
    child.onExit((code, signal) =>
      finish(new StudioError('unavailable', `The worker evaluating the weights ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it answered.`))
    )
    child.send(msg)
  })
}

/** The checkpoint in both slots: hard links where the file system has them (AlexNet is 200 MB), else a copy. */
function placeCheckpoint(staged: string, best: string, last: string): void {
  mkdirSync(dirname(best), { recursive: true })
  renameSync(staged, best)
  mkdirSync(last, { recursive: true })
  for (const f of readdirSync(best)) {
    try {
      linkSync(join(best, f), join(last, f))
    } catch {
      copyFileSync(join(best, f), join(last, f))
    }
  }
}

export async function importModel(d: ImportModelDeps, a: ImportModelArgs): Promise<RunRecord> {
  const preset = getPreset(a.model)
  if (!preset) throw new StudioError('invalid_argument', `Unknown model preset '${a.model}'; known: ${presets.map((p) => p.id).join(', ')}.`)
  if (!existsSync(a.path)) throw new StudioError('not_found', `${a.path}: no such file.`)
  const config: TrainConfig = TrainConfigSchema.parse({
    ...preset.recommended,
    optimizer: preset.recommended.optimizer ?? 'sgd',
    lr: preset.recommended.lr ?? 0.1,
    batchSize: preset.recommended.batchSize ?? 128,
    validation: preset.recommended.validation ?? { source: 'test' },
    init: preset.recommended.init ?? 'default',
    seed: 0,
    model: preset.id,
    spec: preset.spec,
    dataset: a.dataset,
    epochs: 1
  })
  // The dataset is known and fits the network before a worker starts.
  const start = await checkRunStart(d.datasets, config)
  const staging = join(d.runs.paths.runs, `.import-${process.pid}-${Date.now()}`)
  let evaluated: Evaluated
  try {
    evaluated = await evaluateInWorker(
      d.spawn,
      { type: 'evaluate', file: a.path, spec: preset.spec, dataset: a.dataset, dataDir: d.dataDir, stagingDir: join(staging, 'best') },
      d.timeoutMs ?? 60 * 60_000
    )
  } catch (err) {
    removeQuietly(staging)
    throw err
  }
  try {
    const run = d.runs.create(config, { name: a.name ?? `${basename(a.path)} on ${a.dataset}`, classes: start.classes, paramCount: start.paramCount })
    d.runs.markStarted(run.id, { backend: evaluated.backend, device: evaluated.device, libVersions: evaluated.versions })
    try {
      placeCheckpoint(join(staging, 'best'), d.runs.weightsDir(run.id, 'best'), d.runs.weightsDir(run.id, 'last'))
    } catch (err) {
      d.runs.finish(run.id, { status: 'failed', error: `The imported weights could not be stored: ${(err as Error).message}` })
      throw storageError(`store the weights of run ${run.id}`, err)
    }
    const t = evaluated.test
    d.runs.finish(run.id, {
      status: 'completed',
      test: { loss: t.loss, acc: t.acc, confusion: t.confusion, precision: t.precision, recall: t.recall, predictions: fromBase64(t.predictions), labels: fromBase64(t.labels) }
    })
    d.runs.setNotes(run.id, `Imported from ${a.from ?? a.path} (${evaluated.format}; ${evaluated.style}); evaluated on the test set of ${a.dataset}, not trained here.`)
    return d.runs.setTags(run.id, ['imported'])
  } finally {
    removeQuietly(staging)
  }
}

/** The predicted class of every example of a split, in the order the run recorded them. */
export function runPredictions(runs: RunStore, a: { runId: number; split: 'test' | 'val'; epoch?: number }): number[] {
  const run = runs.get(a.runId)
  if (a.split === 'test') {
    if (a.epoch !== undefined) throw new StudioError('invalid_argument', 'The test set is evaluated once, at the end of a run: --epoch goes with --split val.')
    return [...runs.predictions(a.runId, 'test')]
  }
  const epoch = a.epoch ?? run.bestEpoch ?? runs.epochs(a.runId).at(-1)?.epoch
  if (epoch === undefined) throw new StudioError('not_found', `Run ${a.runId} has no validation epochs${run.tags.includes('imported') ? ' (it was imported, not trained)' : ''}.`)
  return [...runs.predictions(a.runId, epoch)]
}
