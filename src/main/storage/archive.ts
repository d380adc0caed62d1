// A run as one zip: readable files (config.json, run.json, CSVs) plus what a re-import needs
// (predictions, weights), and a manifest with the sha256 of every file so tampering is caught.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { unzipSync, zipSync, type Zippable } from 'fflate'
import { z } from 'zod'
import { StudioError } from '../../shared/contract'
import type { EpochRecord, RunRecord, StepPoint } from '../../shared/domain'
import { RunStatusSchema, TagSchema, TrainConfigSchema, type TrainConfig } from '../../shared/schemas'
import { storageError } from './db'
import { checkpointProblem, isDir, listFiles } from './files'

export const ARCHIVE_FORMAT = 'conv-studio-run'
export const ARCHIVE_VERSION = 1
/** Weights of AlexNet at 224 px are ~230 MB; leave room, refuse zip bombs. */
const MAX_UNPACKED_BYTES = 2 * 1024 ** 3

export interface ArchiveInput {
  run: RunRecord
  epochs: EpochRecord[]
  confusions: { epoch: number | 'test'; matrix: number[][] }[]
  steps: StepPoint[]
  predictions: { epoch: number | 'test'; classes: Uint8Array }[]
  testLabels: Uint8Array | null
  weights: { best: string; last: string }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const enc = (s: string) => new TextEncoder().encode(s)

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run'
}

export function exportRunArchive(a: ArchiveInput, path: string): string {
  const files = new Map<string, Uint8Array>()
  files.set('config.json', enc(JSON.stringify(a.run.config, null, 2)))
  files.set('run.json', enc(JSON.stringify(a.run, null, 2)))
  files.set(
    'metrics.csv',
    enc(
      'epoch,train_loss,train_acc,val_loss,val_acc,seconds,examples_per_sec\n' +
        a.epochs.map((e) => [e.epoch, e.trainLoss, e.trainAcc, e.valLoss, e.valAcc, e.seconds, e.examplesPerSec].join(',')).join('\n') +
        (a.epochs.length ? '\n' : '')
    )
  )
  files.set('steps.csv', enc('x,loss,acc\n' + a.steps.map((s) => `${s.x},${s.loss},${s.acc}`).join('\n') + (a.steps.length ? '\n' : '')))
  const conf: string[] = ['epoch,true_class,predicted_class,count']
  for (const c of a.confusions) c.matrix.forEach((row, t) => row.forEach((v, p) => conf.push(`${c.epoch},${t},${p},${v}`)))
  files.set('confusion.csv', enc(conf.join('\n') + '\n'))
  for (const p of a.predictions) files.set(`predictions/${p.epoch === 'test' ? 'test' : `epoch-${p.epoch}`}.bin`, p.classes)
  if (a.testLabels) files.set('labels/test.bin', a.testLabels)
  try {
    for (const kind of ['best', 'last'] as const) {
      const dir = a.weights[kind]
      if (!isDir(dir)) continue
      for (const f of listFiles(dir)) files.set(`${kind}/${f}`, readFileSync(join(dir, ...f.split('/'))))
    }
  } catch (err) {
    throw storageError(`read the weights of run ${a.run.id}`, err)
  }
  const manifest = {
    format: ARCHIVE_FORMAT,
    formatVersion: ARCHIVE_VERSION,
    exportedAt: new Date().toISOString(),
    files: [...files].map(([name, b]) => ({ name, size: b.byteLength, sha256: sha256(b) }))
  }
  const zippable: Zippable = { 'manifest.json': enc(JSON.stringify(manifest, null, 2)) }
  for (const [name, b] of files) zippable[name] = [b, { level: name.endsWith('.bin') ? 0 : 6 }]

  let target = path
  // A folder (existing, or any path not ending in .zip) gets a file named after the run.
  if (isDir(path) || !/\.zip$/i.test(path)) target = join(path, `run-${a.run.id}-${slug(a.run.name)}.zip`)
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`)
  try {
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(tmp, zipSync(zippable))
    renameSync(tmp, target)
  } catch (err) {
    try {
      if (existsSync(tmp)) unlinkSync(tmp)
    } catch {
      // Nothing more to do.
    }
    throw storageError(`write the export ${target}`, err)
  }
  return target
}

// ---------------------------------------------------------------------------------------------

const ManifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  formatVersion: z.literal(ARCHIVE_VERSION),
  exportedAt: z.string(),
  files: z.array(z.object({ name: z.string().min(1).max(300), size: z.int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
})

const num = z.number().refine(Number.isFinite, 'must be a finite number')
const RunJsonSchema = z.object({
  id: z.int(),
  name: z.string().trim().min(1).max(120),
  notes: z.string().max(20_000),
  status: RunStatusSchema,
  model: z.string(),
  dataset: z.string(),
  tags: z.array(TagSchema).max(30),
  createdAt: z.string().min(1),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  backend: z.string().nullable(),
  device: z.string().nullable(),
  libVersions: z.record(z.string(), z.string()),
  paramCount: z.int().min(0).nullable(),
  bestEpoch: z.int().min(1).nullable(),
  bestValAcc: num.nullable(),
  testAcc: num.nullable(),
  testLoss: num.nullable(),
  testPrecision: z.array(num).nullable(),
  testRecall: z.array(num).nullable(),
  examplesPerSec: num.nullable(),
  epochsDone: z.int().min(0),
  epochsPlanned: z.int().min(1),
  error: z.string().nullable(),
  classes: z.array(z.string()).min(2).max(1000),
  config: z.unknown()
})
export type RunJson = z.infer<typeof RunJsonSchema>

export interface ParsedArchive {
  run: RunJson
  config: TrainConfig
  epochs: EpochRecord[]
  epochConfusions: Map<number, number[][]>
  testConfusion: number[][] | null
  steps: StepPoint[]
  /** 0 = test. */
  predictions: Map<number, Uint8Array>
  testLabels: Uint8Array | null
  /** Weights files to place in the run folder, 'best/model.json' etc. */
  files: Map<string, Uint8Array>
}

function bad(path: string, what: string): StudioError {
  return new StudioError('invalid_argument', `${path} is not a valid Conv Studio run export: ${what}`)
}

function parseCsv(path: string, name: string, text: string, header: string, cols: number): number[][] {
  const lines = text.split('\n')
  if (lines[0] !== header) throw bad(path, `${name} must start with the header "${header}"`)
  const out: number[][] = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    if (line === '' && i === lines.length - 1) break
    const cells = line.split(',')
    if (cells.length !== cols) throw bad(path, `${name} line ${i + 1} has ${cells.length} fields, expected ${cols}`)
    const row = cells.map((c) => (c === 'test' ? -1 : Number(c)))
    if (cells.some((c) => c.trim() === '') || row.some((v) => !Number.isFinite(v))) throw bad(path, `${name} line ${i + 1} has a value that is not a number`)
    out.push(row)
  }
  return out
}

function parseJson(path: string, name: string, b: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b))
  } catch (err) {
    throw bad(path, `${name} is not valid JSON (${(err as Error).message})`)
  }
}

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).slice(0, 5).join('; ')
}

/** Reads and checks everything; throws before anything is written. */
export function importRunArchive(path: string): ParsedArchive {
  let zipBytes: Uint8Array
  try {
    if (statSync(path).size > MAX_UNPACKED_BYTES) throw bad(path, 'the file is larger than 2 GB')
    zipBytes = readFileSync(path)
  } catch (err) {
    if (err instanceof StudioError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new StudioError('not_found', `There is no file ${path}.`)
    throw storageError(`read ${path}`, err)
  }
  let entries: Record<string, Uint8Array>
  try {
    let total = 0
    entries = unzipSync(zipBytes, {
      filter: (f) => {
        total += f.originalSize
        if (total > MAX_UNPACKED_BYTES) throw new Error('it unpacks to more than 2 GB')
        return !f.name.endsWith('/')
      }
    })
  } catch (err) {
    throw bad(path, `not a readable zip (${(err as Error).message})`)
  }
  const mraw = entries['manifest.json']
  if (!mraw) throw bad(path, 'manifest.json is missing')
  const manifest = ManifestSchema.safeParse(parseJson(path, 'manifest.json', mraw))
  if (!manifest.success) throw bad(path, `manifest.json: ${issues(manifest.error)}`)
  const listed = new Set(manifest.data.files.map((f) => f.name))
  for (const name of Object.keys(entries))
    if (name !== 'manifest.json' && !listed.has(name)) throw bad(path, `${name} is not listed in the manifest`)
  for (const f of manifest.data.files) {
    const b = entries[f.name]
    if (!b) throw bad(path, `${f.name} is listed in the manifest but missing`)
    if (b.byteLength !== f.size || sha256(b) !== f.sha256) throw bad(path, `${f.name} does not match its checksum (changed or damaged)`)
  }
  const need = (name: string) => {
    const b = entries[name]
    if (!b) throw bad(path, `${name} is missing`)
    return b
  }
  const text = (name: string) => new TextDecoder().decode(need(name))

  const config = TrainConfigSchema.safeParse(parseJson(path, 'config.json', need('config.json')))
  if (!config.success) throw bad(path, `config.json: ${issues(config.error)}`)
  const run = RunJsonSchema.safeParse(parseJson(path, 'run.json', need('run.json')))
  if (!run.success) throw bad(path, `run.json: ${issues(run.error)}`)
  const r = run.data
  const n = r.classes.length
  if (config.data.spec.numClasses !== n) throw bad(path, `config.json's model has ${config.data.spec.numClasses} outputs but run.json lists ${n} classes`)
  if (r.model !== config.data.model || r.dataset !== config.data.dataset) throw bad(path, 'run.json and config.json disagree on model or dataset')

  const epochs: EpochRecord[] = parseCsv(
    path,
    'metrics.csv',
    text('metrics.csv'),
    'epoch,train_loss,train_acc,val_loss,val_acc,seconds,examples_per_sec',
    7
  ).map(([epoch, trainLoss, trainAcc, valLoss, valAcc, seconds, examplesPerSec]) => ({
    epoch,
    trainLoss,
    trainAcc,
    valLoss,
    valAcc,
    seconds,
    examplesPerSec
  }))
  epochs.forEach((e, i) => {
    if (e.epoch !== i + 1) throw bad(path, `metrics.csv row ${i + 2} is epoch ${e.epoch}, expected ${i + 1}`)
  })
  if (epochs.length !== r.epochsDone) throw bad(path, `metrics.csv has ${epochs.length} epochs but run.json says ${r.epochsDone}`)
  if (r.bestEpoch !== null && r.bestEpoch > epochs.length) throw bad(path, `run.json's best epoch ${r.bestEpoch} was never recorded`)

  const steps = parseCsv(path, 'steps.csv', text('steps.csv'), 'x,loss,acc', 3).map(([x, loss, acc]) => ({ x, loss, acc }))

  const matrices = new Map<number, number[][]>()
  for (const [i, [epoch, t, p, count]] of parseCsv(path, 'confusion.csv', text('confusion.csv'), 'epoch,true_class,predicted_class,count', 4).entries()) {
    if (!Number.isInteger(t) || !Number.isInteger(p) || t < 0 || p < 0 || t >= n || p >= n || !Number.isInteger(count) || count < 0)
      throw bad(path, `confusion.csv line ${i + 2} has a cell outside ${n} classes or a bad count`)
    let m = matrices.get(epoch)
    if (!m) matrices.set(epoch, (m = Array.from({ length: n }, () => new Array<number>(n).fill(0))))
    m[t][p] = count
  }
  for (const e of epochs) if (!matrices.has(e.epoch)) throw bad(path, `confusion.csv has no matrix for epoch ${e.epoch}`)
  const testConfusion = matrices.get(-1) ?? null
  if (r.testAcc !== null && !testConfusion) throw bad(path, 'confusion.csv has no test matrix but run.json has a test accuracy')

  const predictions = new Map<number, Uint8Array>()
  for (const e of epochs) predictions.set(e.epoch, need(`predictions/epoch-${e.epoch}.bin`))
  if (entries['predictions/test.bin']) predictions.set(0, entries['predictions/test.bin'])
  for (const [epoch, p] of predictions)
    for (const c of p) if (c >= n) throw bad(path, `predictions for ${epoch === 0 ? 'test' : `epoch ${epoch}`} name class ${c} of ${n}`)
  const testLabels = entries['labels/test.bin'] ?? null
  if (testLabels && predictions.get(0) && testLabels.length !== predictions.get(0)!.length)
    throw bad(path, 'labels/test.bin and predictions/test.bin have different lengths')

  const files = new Map<string, Uint8Array>()
  for (const kind of ['best', 'last'] as const) {
    const sub = new Map<string, Uint8Array>()
    for (const [name, b] of Object.entries(entries)) {
      if (!name.startsWith(`${kind}/`)) continue
      const rel = name.slice(kind.length + 1)
      if (rel.split('/').some((s) => s === '' || s === '.' || s === '..')) throw bad(path, `${name} is not a safe file name`)
      sub.set(rel, b)
      files.set(name, b)
    }
    if (sub.size) {
      const problem = checkpointProblem(sub)
      if (problem) throw bad(path, `the ${kind} weights cannot be loaded: ${problem}`)
    }
  }
  return { run: r, config: config.data, epochs, epochConfusions: matrices, testConfusion, steps, predictions, testLabels, files }
}
