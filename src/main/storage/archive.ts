// A run as one zip: readable files (config.json, run.json, CSVs) plus what a re-import needs
// (predictions, weights), and a manifest with the sha256 of every file so tampering is caught.
//
// Both directions stream: export writes with yazl into a temp file that is renamed into place;
// import reads the central directory first (yauzl), checks every name, the manifest and the sizes
// it declares before inflating a single byte, then inflates only listed entries, each capped at
// its declared size. Weights (AlexNet: ~200 MB) go straight to the staging folder, never whole
// into memory. An archive is untrusted input: the entries are exactly the files the format
// defines, written only under the staging folder, whatever the OS's path rules.
import { createHash } from 'node:crypto'
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import * as nodePath from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'
import yauzl from 'yauzl'
import yazl from 'yazl'
import { z } from 'zod'
import { StudioError } from '../../shared/contract'
import type { EpochRecord, FilterSnapshot, LayerHistogram, RunRecord, StepPoint } from '../../shared/domain'
import {
  ClassNameSchema,
  DatasetIdSchema,
  NotesSchema,
  RunNameSchema,
  RunStatusSchema,
  TagListSchema,
  TrainConfigSchema,
  type TrainConfig
} from '../../shared/schemas'
import { storageError } from './db'
import { checkpointFilesProblem, CheckpointError, MAX_MODEL_JSON_BYTES, MAX_WEIGHTS_BYTES, MODEL_JSON, parseModelJson } from './checkpoint'
import { isDir } from './files'
import { openRegularFile, SafeReadError } from './safe-read'

export const ARCHIVE_FORMAT = 'conv-studio-run'
export const ARCHIVE_VERSION = 1
/** Weights of AlexNet at 224 px are ~230 MB; leave room, refuse zip bombs. */
const MAX_UNPACKED_BYTES = 2 * 1024 ** 3
/** Every file the format defines: 12 fixed names, a predictions and a true-class probabilities file per epoch (at most 1000 each), weights. */
const MAX_ENTRIES = 2100
/** Per-kind caps on one entry, checked against the central directory before inflating. */
const MAX_JSON_BYTES = 8 * 1024 * 1024
const MAX_CSV_BYTES = 256 * 1024 * 1024
const MAX_BIN_BYTES = 64 * 1024 * 1024
/** inspection.json: AlexNet's first-conv snapshot is ~0.5 MB of JSON per epoch. */
const MAX_INSPECTION_BYTES = 128 * 1024 * 1024
const CHECKPOINT_JSON = 'checkpoint.json'
const KINDS = ['best', 'last'] as const

export interface ArchiveInput {
  run: RunRecord
  epochs: EpochRecord[]
  confusions: { epoch: number | 'test'; matrix: number[][] }[]
  steps: StepPoint[]
  predictions: { epoch: number | 'test'; classes: Uint8Array }[]
  testLabels: Uint8Array | null
  weights: { best: string; last: string }
  /** Per epoch: weight/gradient histograms and the first conv's filters (issue 18). */
  inspections?: { epoch: number; histograms: LayerHistogram[]; filters: FilterSnapshot | null }[]
  /** Each example's probability of its true class, per evaluation, in predictions order. */
  trueProbabilities?: { epoch: number | 'test'; values: Float32Array }[]
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const enc = (s: string) => new TextEncoder().encode(s)

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run'
}

// ---------------------------------------------------------------------------------------------
// Entry names

/**
 * Why an entry name cannot be a file of a run archive, or null. The rules are the same on every
 * OS, so an archive that imports on Linux cannot write elsewhere on Windows: no backslash (a
 * separator there), no colon (drive letters, NTFS streams), no control characters or NUL, nothing
 * absolute, no empty, '.' or '..' segment.
 */
export function entryNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 200) return 'has an empty or overlong name'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'has a control character in its name'
  if (name.includes('\\')) return 'has a backslash in its name'
  if (name.includes(':')) return 'has a colon in its name (a drive letter or a stream)'
  if (name.startsWith('/')) return 'is an absolute path'
  const segments = name.endsWith('/') ? name.slice(0, -1).split('/') : name.split('/')
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, "." or ".." path segment'
  return null
}

/**
 * Where a checked entry is written: under `root`, and nowhere else, by the rules of `path` (the
 * running OS's path module; tests pass path.win32 and path.posix). Throws for anything outside.
 */
export function resolveUnder(root: string, name: string, path: nodePath.PlatformPath = nodePath): string {
  const problem = entryNameProblem(name)
  if (problem) throw new StudioError('invalid_argument', `The archive entry ${JSON.stringify(name)} ${problem}.`)
  const base = path.resolve(root)
  const target = path.resolve(base, ...name.split('/'))
  const rel = path.relative(base, target)
  if (!rel || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
    throw new StudioError('invalid_argument', `The archive entry ${JSON.stringify(name)} would be written outside ${root}.`)
  return target
}

type Role = 'json' | 'csv' | 'bin' | 'weights' | 'inspection'

/** What a name is in the format, or null: the archive holds these files and nothing else. */
function roleOf(name: string): Role | null {
  if (name === 'manifest.json' || name === 'config.json' || name === 'run.json') return 'json'
  if (name === 'metrics.csv' || name === 'steps.csv' || name === 'confusion.csv') return 'csv'
  if (name === 'inspection.json') return 'inspection'
  if (/^(predictions|probabilities)\/(epoch-[1-9][0-9]{0,3}|test)\.bin$/.test(name) || name === 'labels/test.bin') return 'bin'
  const m = /^(best|last)\/([^/]+)$/.exec(name)
  if (m) return m[2] === MODEL_JSON || m[2] === CHECKPOINT_JSON ? 'json' : 'weights'
  return null
}

const CAPS: Record<Role, number> = { json: MAX_JSON_BYTES, csv: MAX_CSV_BYTES, bin: MAX_BIN_BYTES, weights: MAX_WEIGHTS_BYTES, inspection: MAX_INSPECTION_BYTES }
/** Folders other zip tools add as entries of their own; they carry nothing and are skipped. */
const FOLDERS = new Set(['best/', 'last/', 'predictions/', 'probabilities/', 'labels/'])

// ---------------------------------------------------------------------------------------------
// Export

/** Writes the zip (into `path` when it is a folder, or any path not ending in .zip); returns its path. */
export async function exportRunArchive(a: ArchiveInput, path: string): Promise<string> {
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
  if (a.inspections?.length) files.set('inspection.json', enc(JSON.stringify({ epochs: a.inspections })))
  for (const p of a.trueProbabilities ?? [])
    files.set(`probabilities/${p.epoch === 'test' ? 'test' : `epoch-${p.epoch}`}.bin`, new Uint8Array(p.values.buffer, p.values.byteOffset, p.values.byteLength))

  // Weights: model.json and checkpoint.json in memory (small), the files model.json names streamed.
  const streamed: { name: string; path: string }[] = []
  try {
    for (const kind of KINDS) {
      const dir = a.weights[kind]
      if (!isDir(dir)) continue
      const modelJson = readFileSync(join(dir, MODEL_JSON))
      files.set(`${kind}/${MODEL_JSON}`, modelJson)
      if (existsSync(join(dir, CHECKPOINT_JSON))) files.set(`${kind}/${CHECKPOINT_JSON}`, readFileSync(join(dir, CHECKPOINT_JSON)))
      for (const group of parseModelJson(modelJson).model.weightsManifest)
        for (const p of group.paths) streamed.push({ name: `${kind}/${p}`, path: join(dir, p) })
    }
  } catch (err) {
    if (err instanceof CheckpointError) throw new StudioError('data_error', `The weights of run ${a.run.id} are damaged: ${err.message}.`)
    throw storageError(`read the weights of run ${a.run.id}`, err)
  }

  let target = path
  if (isDir(path) || !/\.zip$/i.test(path)) target = join(path, `run-${a.run.id}-${slug(a.run.name)}.zip`)
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`)
  const sources: Readable[] = []
  try {
    mkdirSync(dirname(target), { recursive: true })
    const zip = new yazl.ZipFile()
    const out = createWriteStream(tmp)
    const written = pipeline(zip.outputStream, out)
    // A write error (a full disk) stops the pipeline; nothing else would end the waits below.
    written.catch(() => undefined)
    const listed: { name: string; size: number; sha256: string }[] = []
    for (const [name, b] of files) {
      zip.addBuffer(Buffer.from(b.buffer, b.byteOffset, b.byteLength), name, { compress: !name.endsWith('.bin') })
      listed.push({ name, size: b.byteLength, sha256: sha256(b) })
    }
    // Hashed as yazl reads them, so the manifest describes exactly the bytes that went in.
    const hashed = streamed.map(({ name, path: file }) => {
      const hash = createHash('sha256')
      let size = 0
      const src = createReadStream(file)
      sources.push(src)
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk)
          size += chunk.length
          cb(null, chunk)
        }
      })
      src.on('error', (err) => tap.destroy(err))
      zip.addReadStream(src.pipe(tap), name, { compress: false })
      return finished(tap).then(() => ({ name, size, sha256: hash.digest('hex') }))
    })
    const failed = written.then(() => Promise.reject(new Error('the zip ended early')))
    listed.push(...(await Promise.race([Promise.all(hashed), failed])))
    const manifest = { format: ARCHIVE_FORMAT, formatVersion: ARCHIVE_VERSION, exportedAt: new Date().toISOString(), files: listed }
    zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2)), 'manifest.json')
    zip.end()
    await written
    renameSync(tmp, target)
  } catch (err) {
    for (const s of sources) s.destroy()
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
// Import

const ManifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  formatVersion: z.literal(ARCHIVE_VERSION),
  exportedAt: z.string().max(100),
  files: z
    .array(z.object({ name: z.string().min(1).max(300), size: z.int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
    .max(MAX_ENTRIES)
})

// Text an archive brings is shown in terminals and tables: control characters (ESC, BEL, C0, C1)
// could clear a screen or retitle a window, so they are dropped; notes keep newlines and tabs.
// eslint-disable-next-line no-control-regex
export const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
// eslint-disable-next-line no-control-regex
const multiLine = (s: string) => s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '')
const line = <T extends z.ZodType<string, string>>(schema: T) => z.string().transform(oneLine).pipe(schema)
const shortLine = (max: number) => line(z.string().max(max))

const num = z.number().refine(Number.isFinite, 'must be a finite number')
const RunJsonSchema = z.object({
  id: z.int(),
  name: line(RunNameSchema),
  notes: z.string().transform(multiLine).pipe(NotesSchema),
  status: RunStatusSchema,
  model: shortLine(80),
  dataset: DatasetIdSchema,
  tags: z.array(line(z.string())).transform((t) => t.filter((x) => x.trim() !== '')).pipe(TagListSchema),
  createdAt: z.string().min(1).max(100),
  startedAt: z.string().max(100).nullable(),
  finishedAt: z.string().max(100).nullable(),
  backend: shortLine(100).nullable(),
  device: shortLine(300).nullable(),
  libVersions: z.record(shortLine(100), shortLine(100)),
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
  error: z.string().transform(multiLine).pipe(z.string().max(4000)).nullable(),
  classes: z.array(line(ClassNameSchema)).min(2).max(1000),
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
  inspections: { epoch: number; histograms: LayerHistogram[]; filters: FilterSnapshot | null }[]
  /** 0 = test; each as long as the predictions of the same evaluation. */
  trueProbabilities: Map<number, Float32Array>
}

// inspection.json: every number finite, every shape consistent with its values, sizes bounded.
const finite = z.number().refine(Number.isFinite, 'must be a finite number')
const HistogramSchema = z.object({
  layer: shortLine(40),
  kind: z.enum(['weight', 'gradient']),
  min: finite,
  max: finite,
  counts: z.array(z.int().min(0)).min(1).max(1024)
})
const FilterSchema = z
  .object({
    epoch: z.int().min(1),
    layer: shortLine(40),
    shape: z.tuple([z.int().min(1), z.int().min(1), z.int().min(1), z.int().min(1)]),
    values: z.array(finite).max(4_000_000)
  })
  .refine((f) => f.shape.reduce((a, b) => a * b, 1) === f.values.length, 'filters.values does not match filters.shape')
const InspectionSchema = z.object({
  epochs: z.array(z.object({ epoch: z.int().min(1), histograms: z.array(HistogramSchema).max(1000), filters: FilterSchema.nullable() })).max(1000)
})

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

const SYMLINK = 0o120000
const FILE_TYPE_MASK = 0o170000

/** Every central-directory entry, read without inflating anything. */
function listEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const out: yauzl.Entry[] = []
    zip.on('entry', (e: yauzl.Entry) => {
      out.push(e)
      zip.readEntry()
    })
    zip.on('end', () => resolve(out))
    zip.on('error', reject)
    zip.readEntry()
  })
}

/** An entry's inflated bytes, at most its declared size (yauzl errors past it: validateEntrySizes). */
function openEntry(zip: yauzl.ZipFile, e: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s))))
}

/**
 * Streams an entry through sha256 into memory (`into` null) or into a new file, and checks its
 * size and hash (`expected` null: the manifest, which has none). Throws 'checksum' on a mismatch.
 */
async function inflate(zip: yauzl.ZipFile, e: yauzl.Entry, expected: string | null, into: string | null): Promise<Uint8Array> {
  const stream = await openEntry(zip, e)
  const hash = createHash('sha256')
  const parts: Buffer[] = []
  let size = 0
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length
      // yauzl stops at the declared size too (validateEntrySizes); this does not rely on it.
      if (size > e.uncompressedSize) return cb(new Error('the entry is larger than the archive says'))
      hash.update(chunk)
      if (into) return cb(null, chunk)
      parts.push(chunk)
      cb()
    }
  })
  if (into) {
    mkdirSync(dirname(into), { recursive: true })
    await pipeline(stream, tap, createWriteStream(into, { flags: 'wx' }))
  } else {
    await pipeline(stream, tap)
  }
  if (size !== e.uncompressedSize || (expected !== null && hash.digest('hex') !== expected)) throw new Error('checksum')
  return into ? new Uint8Array() : new Uint8Array(Buffer.concat(parts, size))
}

/** inflate, with its failures said as what is wrong with the archive (disk errors pass through). */
async function inflateOrBad(path: string, zip: yauzl.ZipFile, e: yauzl.Entry, name: string, expected: string | null, into: string | null): Promise<Uint8Array> {
  try {
    return await inflate(zip, e, expected, into)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).syscall) throw err
    if ((err as Error).message === 'checksum') throw bad(path, `${name} does not match its checksum (changed or damaged)`)
    throw bad(path, `${name} cannot be unpacked (${(err as Error).message})`)
  }
}

/**
 * Reads and checks everything, writing only the weight files, and only into `staging` (which the
 * caller removes if this throws). Nothing is inflated before the names, the manifest and the
 * declared sizes have been checked against the central directory.
 */
export async function importRunArchive(path: string, staging: string): Promise<ParsedArchive> {
  let fd: number
  try {
    // A regular file only: a FIFO would block and /dev/zero never end (both stat as 0 bytes).
    fd = openRegularFile(path, MAX_UNPACKED_BYTES).fd
  } catch (err) {
    if (!(err instanceof SafeReadError)) throw err
    if (err.problem === 'missing') throw new StudioError('not_found', `There is no file ${path}.`)
    if (err.problem === 'too_large') throw bad(path, 'the file is larger than 2 GB')
    if (err.problem === 'not_file') throw bad(path, err.reason)
    throw storageError(`read ${path}`, err)
  }
  let zip: yauzl.ZipFile | null = null
  try {
    try {
      // decodeStrings: false: names are checked here, byte for byte, not rewritten ('\' to '/') by yauzl.
      zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
        yauzl.fromFd(fd, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false }, (err, z) =>
          err ? reject(err) : resolve(z)
        )
      )
      if (zip.entryCount > MAX_ENTRIES) throw bad(path, `it holds ${zip.entryCount} entries; a run export has at most ${MAX_ENTRIES}`)
      return await readArchive(path, zip, await listEntries(zip), staging)
    } catch (err) {
      if (err instanceof StudioError) throw err
      // A system call failed (disk full, no permission): the archive may be fine, the disk is not.
      if ((err as NodeJS.ErrnoException).syscall) throw storageError(`unpack ${path}`, err)
      throw bad(path, `not a readable zip (${(err as Error).message})`)
    }
  } finally {
    // The zip owns the descriptor once open (it closes it when its last stream is done).
    if (zip) zip.close()
    else closeSync(fd)
  }
}

async function readArchive(path: string, zip: yauzl.ZipFile, raw: yauzl.Entry[], staging: string): Promise<ParsedArchive> {
  // 1. Names, kinds and sizes, from the central directory alone.
  const entries = new Map<string, yauzl.Entry>()
  const folded = new Set<string>()
  let declared = 0
  for (const e of raw) {
    let name: string
    try {
      name = new TextDecoder('utf-8', { fatal: true }).decode((e as unknown as { fileNameRaw: Buffer }).fileNameRaw)
    } catch {
      throw bad(path, 'an entry name is not valid UTF-8')
    }
    const shown = JSON.stringify(name).slice(1, -1)
    const problem = entryNameProblem(name)
    if (problem) throw bad(path, `the entry ${shown} ${problem}`)
    if (((e.externalFileAttributes >>> 16) & FILE_TYPE_MASK) === SYMLINK) throw bad(path, `${shown} is a symbolic link`)
    if (e.isEncrypted()) throw bad(path, `${shown} is encrypted`)
    if (e.compressionMethod !== 0 && e.compressionMethod !== 8) throw bad(path, `${shown} uses an unsupported compression method`)
    // Case-folded: Windows and macOS would write both names to one file.
    if (folded.has(name.toLowerCase())) throw bad(path, `${shown} appears twice`)
    folded.add(name.toLowerCase())
    if (name.endsWith('/')) {
      if (!FOLDERS.has(name)) throw bad(path, `${shown} is not a folder a run export has`)
      continue
    }
    if (!roleOf(name)) throw bad(path, `${shown} is not a file a run export has`)
    declared += e.uncompressedSize
    if (declared > MAX_UNPACKED_BYTES) throw bad(path, 'it unpacks to more than 2 GB')
    entries.set(name, e)
  }

  // 2. The manifest, and every entry against it: listed, present, same size, within its cap.
  const me = entries.get('manifest.json')
  if (!me) throw bad(path, 'manifest.json is missing')
  if (me.uncompressedSize > MAX_JSON_BYTES) throw bad(path, 'manifest.json is too large')
  const mraw = await inflateOrBad(path, zip, me, 'manifest.json', null, null)
  const manifest = ManifestSchema.safeParse(parseJson(path, 'manifest.json', mraw))
  if (!manifest.success) throw bad(path, `manifest.json: ${issues(manifest.error)}`)
  const listed = new Map<string, { size: number; sha256: string }>()
  for (const f of manifest.data.files) {
    if (listed.has(f.name)) throw bad(path, `manifest.json lists ${f.name} twice`)
    listed.set(f.name, f)
  }
  for (const name of entries.keys()) if (name !== 'manifest.json' && !listed.has(name)) throw bad(path, `${name} is not listed in the manifest`)
  for (const [name, f] of listed) {
    const e = entries.get(name)
    if (!e) throw bad(path, `${name} is listed in the manifest but missing`)
    if (e.uncompressedSize !== f.size) throw bad(path, `${name} does not match its checksum (changed or damaged)`)
    if (f.size > CAPS[roleOf(name)!]) throw bad(path, `${name} is ${f.size} bytes, more than a run export's ${CAPS[roleOf(name)!]}`)
  }

  // 3. The weight files each model.json names, before any of them is inflated.
  const small = new Map<string, Uint8Array>()
  for (const [name, f] of listed) if (roleOf(name) !== 'weights') small.set(name, await inflateOrBad(path, zip, entries.get(name)!, name, f.sha256, null))
  const weights: string[] = []
  for (const kind of KINDS) {
    const inKind = [...entries.keys()].filter((n) => n.startsWith(`${kind}/`))
    if (inKind.length === 0) continue
    const modelJson = small.get(`${kind}/${MODEL_JSON}`)
    if (modelJson && modelJson.byteLength > MAX_MODEL_JSON_BYTES) throw bad(path, `${kind}/${MODEL_JSON} is too large`)
    const problem = checkpointFilesProblem(modelJson, (p) => entries.get(`${kind}/${p}`)?.uncompressedSize)
    if (problem) throw bad(path, `the ${kind} weights cannot be loaded: ${problem}`)
    const named = new Set(parseModelJson(modelJson!).model.weightsManifest.flatMap((g) => g.paths.map((p) => `${kind}/${p}`)))
    for (const n of inKind) {
      if (roleOf(n) !== 'weights') continue
      if (!named.has(n)) throw bad(path, `${n} is not a weights file ${kind}/${MODEL_JSON} names`)
      weights.push(n)
    }
  }

  // 4. The records.
  const parsed = parseRecords(path, small)

  // 5. Only now the weights, streamed into the staging folder, each checked against its hash.
  mkdirSync(staging, { recursive: true })
  for (const [name, b] of small) {
    if (!name.startsWith('best/') && !name.startsWith('last/')) continue
    const target = resolveUnder(staging, name)
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, b, { flag: 'wx' })
  }
  for (const name of weights) await inflateOrBad(path, zip, entries.get(name)!, name, listed.get(name)!.sha256, resolveUnder(staging, name))
  return parsed
}

function parseRecords(path: string, files: Map<string, Uint8Array>): ParsedArchive {
  const need = (name: string) => {
    const b = files.get(name)
    if (!b) throw bad(path, `${name} is missing`)
    return b
  }
  const text = (name: string) => new TextDecoder().decode(need(name))

  const config = TrainConfigSchema.safeParse(parseJson(path, 'config.json', need('config.json')))
  if (!config.success) throw bad(path, `config.json: ${issues(config.error)}`)
  // A dataset id, never a folder path: the id is all a run needs, and a path from someone else's
  // archive would make this studio read that folder when the run is opened or trained again.
  if (!DatasetIdSchema.safeParse(config.data.dataset).success) throw bad(path, `config.json: dataset ${JSON.stringify(config.data.dataset).slice(0, 100)} is not a dataset id`)
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
    if (epoch !== -1 && !(Number.isInteger(epoch) && epoch >= 1 && epoch <= epochs.length)) throw bad(path, `confusion.csv line ${i + 2} names epoch ${epoch}, which was never recorded`)
    let m = matrices.get(epoch)
    if (!m) matrices.set(epoch, (m = Array.from({ length: n }, () => new Array<number>(n).fill(0))))
    m[t][p] = count
  }
  for (const e of epochs) if (!matrices.has(e.epoch)) throw bad(path, `confusion.csv has no matrix for epoch ${e.epoch}`)
  const testConfusion = matrices.get(-1) ?? null
  if (r.testAcc !== null && !testConfusion) throw bad(path, 'confusion.csv has no test matrix but run.json has a test accuracy')

  const predictions = new Map<number, Uint8Array>()
  for (const e of epochs) predictions.set(e.epoch, need(`predictions/epoch-${e.epoch}.bin`))
  for (const name of files.keys()) {
    const m = /^predictions\/epoch-(\d+)\.bin$/.exec(name)
    if (m && !predictions.has(Number(m[1]))) throw bad(path, `${name} belongs to no recorded epoch`)
  }
  const testPreds = files.get('predictions/test.bin')
  if (testPreds) predictions.set(0, testPreds)
  for (const [epoch, p] of predictions)
    for (const c of p) if (c >= n) throw bad(path, `predictions for ${epoch === 0 ? 'test' : `epoch ${epoch}`} name class ${c} of ${n}`)
  const testLabels = files.get('labels/test.bin') ?? null
  if (testLabels) for (const c of testLabels) if (c >= n) throw bad(path, `labels/test.bin names class ${c} of ${n}`)
  if (testLabels && predictions.get(0) && testLabels.length !== predictions.get(0)!.length)
    throw bad(path, 'labels/test.bin and predictions/test.bin have different lengths')

  const inspections: ParsedArchive['inspections'] = []
  const ib = files.get('inspection.json')
  if (ib) {
    const ins = InspectionSchema.safeParse(parseJson(path, 'inspection.json', ib))
    if (!ins.success) throw bad(path, `inspection.json: ${issues(ins.error)}`)
    const seen = new Set<number>()
    for (const e of ins.data.epochs) {
      if (e.epoch > epochs.length || seen.has(e.epoch)) throw bad(path, `inspection.json names epoch ${e.epoch} twice or one never recorded`)
      if (e.filters && e.filters.epoch !== e.epoch) throw bad(path, `inspection.json's filters of epoch ${e.epoch} say epoch ${e.filters.epoch}`)
      seen.add(e.epoch)
      inspections.push(e)
    }
  }
  const trueProbabilities = new Map<number, Float32Array>()
  for (const [name, b] of files) {
    const m = /^probabilities\/(?:epoch-(\d+)|test)\.bin$/.exec(name)
    if (!m) continue
    const epoch = m[1] === undefined ? 0 : Number(m[1])
    const preds = predictions.get(epoch)
    const what = epoch === 0 ? 'the test set' : `epoch ${epoch}`
    if (!preds) throw bad(path, `${name} belongs to no recorded predictions`)
    if (b.byteLength !== preds.length * 4) throw bad(path, `${name} holds ${b.byteLength / 4} probabilities but ${what} has ${preds.length} predictions`)
    const values = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
    if (values.some((v) => !(v >= 0 && v <= 1))) throw bad(path, `${name} has a probability outside [0, 1]`)
    trueProbabilities.set(epoch, values)
  }

  return { run: r, config: config.data, epochs, epochConfusions: matrices, testConfusion, steps, predictions, testLabels, inspections, trueProbabilities }
}
