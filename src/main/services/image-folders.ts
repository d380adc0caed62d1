// Importing a person's own pictures: a folder (or a .zip of one) laid out as torchvision's
// ImageFolder, either train/<class>/* + test/<class>/* (val/ optional) or just <class>/*. Every
// picture is decoded once, resized to size x size with 1 or 3 channels and written as uint8 into
// the IDX cache the store already loads, so the next start reads bytes and decodes nothing.
//
// Two passes over the files: the first reads each one (through the safe reader, or inflating a
// zip entry with a cap), hashes it and reads its header, so that skipped files, duplicates, the
// colour decision ('auto') and the split are known before any pixel is written; the second decodes
// and appends pixels to the cache files. Memory holds one small record per file, never the pictures:
// a 100k-image folder costs a few tens of MB plus a window of files being decoded.
import { createHash } from 'node:crypto'
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, statSync, type Stats } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import yauzl from 'yauzl'
import { splitIndices } from '../../core/data/split'
import { StudioError } from '../../shared/contract'
import type { DuplicateGroup, ImageImportProgress, ImageImportReport, SkippedFile } from '../../shared/domain'
import { ClassNameSchema } from '../../shared/schemas'
import { entryNameProblem } from '../storage/archive'
import { readRegularFileAsync, SafeReadError } from '../storage/safe-read'
import { decodeForDataset, ImageDecodeError, MAX_FILE_BYTES, probeImage, type ResizePolicy } from './image-decode'

/** Labels are one byte each in the cache. */
export const MAX_CLASSES = 256
export const MAX_IMAGES = 1_000_000
/** Folders inside a class folder are walked this deep (ImageFolder takes files at any depth). */
const MAX_DEPTH = 16
/** Files decoded at once: sharp uses its own threads; a few in flight keep them busy. */
const WINDOW = 8
/** Zip limits: a zip of a million entries or 64 GB declared is a bomb or a mistake. */
const MAX_ZIP_BYTES = 64 * 1024 ** 3
const SPLIT_SEED = 20_240_229

export type ImportLayout = 'split' | 'classes'

export interface ImageImportOptions {
  /** Side of the cached square images; default 32 for colour, 28 for gray. */
  size?: number
  channels?: 1 | 3 | 'auto'
  policy?: ResizePolicy
  /** Share of each class held out as the test split, for a <class>/* folder. */
  testSplit?: number
  seed?: number
  signal?: AbortSignal
  onProgress?: (p: ImportProgress) => void
}


export type ImportReport = ImageImportReport
export type ImportProgress = ImageImportProgress

/** One picture found while walking: where it is, and how to read its bytes. */
interface Candidate {
  /** Shown path, relative to the folder or zip, '/'-separated. */
  rel: string
  className: string
  /** From train/ (or val/), test/, or to be split. */
  split: 'train' | 'test' | null
  read: () => Promise<Uint8Array>
}

interface Source {
  candidates: Candidate[]
  /** Every class folder of the training side, with pictures or not (an empty one is an error). */
  classDirs: Set<string>
  skipped: SkippedFile[]
  close: () => void
}

const STRAY = new Set(['.ds_store', 'thumbs.db', 'desktop.ini', 'ehthumbs.db', '.directory', 'icon\r'])

/** Why a name is not even looked at, or null. */
function strayReason(name: string): string | null {
  const lower = name.toLowerCase()
  if (STRAY.has(lower)) return 'a system file, not a picture'
  if (name.startsWith('._')) return 'a macOS resource fork, not a picture'
  if (name.startsWith('.')) return 'a hidden file'
  return null
}

const bad = (why: string) => new StudioError('invalid_argument', why)

// ---------------------------------------------------------------------------------------------
// Walking a folder

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device'
  return 'not a plain file or folder'
}

function folderSource(root: string): Source {
  const candidates: Candidate[] = []
  const skipped: SkippedFile[] = []
  const classDirs = new Set<string>()
  // Folders seen by device and inode: a link back up the tree is a loop, said once, not walked forever.
  const seen = new Set<string>()
  const show = (p: string) => relative(root, p).split(sep).join('/')
  const list = (dir: string): { name: string; path: string; st: Stats }[] => {
    let st: Stats
    try {
      st = statSync(dir)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ELOOP') throw bad(`${dir}: a symbolic link loop`)
      throw new StudioError('not_found', `${dir}: cannot be read (${code ?? String(err)})`)
    }
    const key = `${st.dev}:${st.ino}`
    if (seen.has(key)) throw bad(`${show(dir) || dir}: a symbolic link loop (this folder is already part of the import)`)
    seen.add(key)
    let names: string[]
    try {
      names = readdirSync(dir).sort()
    } catch (err) {
      throw new StudioError('storage_error', `${dir}: cannot be listed (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
    }
    const out: { name: string; path: string; st: Stats }[] = []
    for (const name of names) {
      const path = join(dir, name)
      let s: Stats
      try {
        s = statSync(path)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ELOOP') throw bad(`${show(path)}: a symbolic link loop`)
        skipped.push({ file: show(path), reason: code === 'ENOENT' ? 'a broken symbolic link' : `cannot be read (${code ?? String(err)})` })
        continue
      }
      out.push({ name, path, st: s })
    }
    return out
  }
  const addFiles = (dir: string, className: string, split: Candidate['split'], depth: number): void => {
    for (const { name, path, st } of list(dir)) {
      const stray = strayReason(name)
      if (stray) {
        skipped.push({ file: show(path), reason: stray })
        continue
      }
      if (st.isDirectory()) {
        if (depth >= MAX_DEPTH) throw bad(`${show(path)}: folders nest more than ${MAX_DEPTH} deep`)
        addFiles(path, className, split, depth + 1)
      } else if (st.isFile()) {
        candidates.push({ rel: show(path), className, split, read: () => readFile(path, show(path)) })
      } else skipped.push({ file: show(path), reason: `${kindOf(st)}, not a picture` })
      if (candidates.length > MAX_IMAGES) throw bad(`${root}: more than ${MAX_IMAGES.toLocaleString('en-US')} files`)
    }
  }
  const top = list(root)
  const splitDirs = splitFolders(top.filter((e) => e.st.isDirectory()).map((e) => e.name))
  for (const { name, path, st } of top) {
    const stray = strayReason(name)
    if (stray) {
      skipped.push({ file: name, reason: stray })
      continue
    }
    if (!st.isDirectory()) {
      skipped.push({ file: name, reason: st.isFile() ? 'not inside a class folder' : `${kindOf(st)}, not a picture` })
      continue
    }
    if (splitDirs) {
      const split = splitDirs.get(name)
      if (!split) {
        skipped.push({ file: `${name}/`, reason: 'beside train/ and test/, a folder that is neither' })
        continue
      }
      for (const c of list(path)) {
        const cs = strayReason(c.name)
        if (cs) skipped.push({ file: show(c.path), reason: cs })
        else if (!c.st.isDirectory()) skipped.push({ file: show(c.path), reason: 'not inside a class folder' })
        else {
          if (split === 'train') classDirs.add(c.name)
          addFiles(c.path, c.name, split, 1)
        }
      }
    } else {
      classDirs.add(name)
      addFiles(path, name, null, 1)
    }
  }
  return { candidates, skipped, classDirs, close: () => undefined }
}

/** train/, test/ and val/ at the top (any case) mean a split layout: which folder is which split. */
function splitFolders(dirs: string[]): Map<string, 'train' | 'test'> | null {
  const map = new Map<string, 'train' | 'test'>()
  for (const d of dirs) {
    const l = d.toLowerCase()
    if (l === 'train' || l === 'val' || l === 'valid' || l === 'validation') map.set(d, 'train')
    else if (l === 'test') map.set(d, 'test')
  }
  const names = [...map.keys()].map((d) => d.toLowerCase())
  return names.includes('train') && names.length >= 2 ? map : null
}

async function readFile(path: string, shown: string): Promise<Uint8Array> {
  try {
    return await readRegularFileAsync(path, MAX_FILE_BYTES)
  } catch (err) {
    if (err instanceof SafeReadError) throw new ImageDecodeError(err.problem === 'too_large' ? 'too_large' : err.problem, shown, `${err.reason}.`)
    throw err
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a zip: the central directory first, every name checked by the run archive's rules, each
// entry inflated only when read and never past its declared size.

const SYMLINK = 0o120000
const FILE_TYPE_MASK = 0o170000

async function zipSource(path: string): Promise<Source> {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
    const st = fstatSync(fd)
    if (!st.isFile()) {
      closeSync(fd)
      throw bad(`${path}: is ${kindOf(st)}, not a zip file`)
    }
  } catch (err) {
    if (err instanceof StudioError) throw err
    throw new StudioError('not_found', `${path}: cannot be opened (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  let zip: yauzl.ZipFile
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.fromFd(fd, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false }, (err, z) => (err ? reject(err) : resolve(z)))
    )
  } catch (err) {
    closeSync(fd)
    throw bad(`${path}: not a readable zip (${(err as Error).message})`)
  }
  try {
    if (zip.entryCount > MAX_IMAGES) throw bad(`${path}: holds ${zip.entryCount} entries, more than ${MAX_IMAGES.toLocaleString('en-US')}`)
    const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
      const out: yauzl.Entry[] = []
      zip.on('entry', (e: yauzl.Entry) => {
        out.push(e)
        zip.readEntry()
      })
      zip.on('end', () => resolve(out))
      zip.on('error', reject)
      zip.readEntry()
    })
    const files: { name: string; entry: yauzl.Entry }[] = []
    const dirs: string[] = []
    const folded = new Set<string>()
    let declared = 0
    for (const e of entries) {
      let name: string
      try {
        name = new TextDecoder('utf-8', { fatal: true }).decode((e as unknown as { fileNameRaw: Buffer }).fileNameRaw)
      } catch {
        throw bad(`${path}: an entry name is not valid UTF-8`)
      }
      const shown = JSON.stringify(name).slice(1, -1)
      const problem = entryNameProblem(name)
      if (problem) throw bad(`${path}: the entry ${shown} ${problem}`)
      if (((e.externalFileAttributes >>> 16) & FILE_TYPE_MASK) === SYMLINK) throw bad(`${path}: the entry ${shown} is a symbolic link`)
      if (folded.has(name.toLowerCase())) throw bad(`${path}: ${shown} appears twice`)
      folded.add(name.toLowerCase())
      if (name.endsWith('/')) {
        dirs.push(name.normalize('NFC'))
        continue
      }
      declared += e.uncompressedSize
      if (declared > MAX_ZIP_BYTES) throw bad(`${path}: it unpacks to more than ${MAX_ZIP_BYTES / 1024 ** 3} GB`)
      files.push({ name: name.normalize('NFC'), entry: e })
    }
    // A zip of a folder usually holds that folder: its one top folder is the root.
    const tops = new Set(files.filter((f) => !f.name.startsWith('__MACOSX/')).map((f) => f.name.split('/')[0]))
    const strip = tops.size === 1 && files.every((f) => f.name.includes('/') || f.name.startsWith('__MACOSX/')) ? `${[...tops][0]}/` : ''
    const candidates: Candidate[] = []
    const skipped: SkippedFile[] = []
    const classDirs = new Set<string>()
    const rels = files.map((f) => ({ ...f, rel: f.name.startsWith(strip) ? f.name.slice(strip.length) : f.name }))
    const topDirs = [...new Set(rels.filter((f) => f.rel.includes('/')).map((f) => f.rel.split('/')[0]))]
    const splitDirs = splitFolders(topDirs)
    // Folder entries name classes that may hold nothing.
    for (const d of dirs) {
      const parts = (d.startsWith(strip) ? d.slice(strip.length) : d).split('/').filter(Boolean)
      if (parts[0] === '__MACOSX' || parts.some((p) => strayReason(p))) continue
      if (splitDirs && parts.length === 2 && splitDirs.get(parts[0]) === 'train') classDirs.add(parts[1])
      if (!splitDirs && parts.length === 1) classDirs.add(parts[0])
    }
    for (const f of rels.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))) {
      const parts = f.rel.split('/')
      if (parts[0] === '__MACOSX' || f.name.startsWith('__MACOSX/')) {
        skipped.push({ file: f.rel, reason: 'a macOS resource fork, not a picture' })
        continue
      }
      const stray = parts.map(strayReason).find((r) => r !== null)
      if (stray) {
        skipped.push({ file: f.rel, reason: stray })
        continue
      }
      if (parts.length > MAX_DEPTH + 2) throw bad(`${path}: ${f.rel} nests more than ${MAX_DEPTH} folders deep`)
      let className: string | undefined
      let split: Candidate['split'] = null
      if (splitDirs) {
        const s = splitDirs.get(parts[0])
        if (!s) {
          skipped.push({ file: f.rel, reason: 'beside train/ and test/, a folder that is neither' })
          continue
        }
        split = s
        className = parts.length >= 3 ? parts[1] : undefined
      } else className = parts.length >= 2 ? parts[0] : undefined
      if (className === undefined) {
        skipped.push({ file: f.rel, reason: 'not inside a class folder' })
        continue
      }
      if (split !== 'test') classDirs.add(className)
      const entry = f.entry
      const rel = f.rel
      candidates.push({
        rel,
        className,
        split,
        read: async () => {
          if (entry.isEncrypted()) throw new ImageDecodeError('unreadable', rel, 'the zip entry is encrypted.')
          if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) throw new ImageDecodeError('unreadable', rel, 'the zip entry uses an unsupported compression method.')
          if (entry.uncompressedSize > MAX_FILE_BYTES) throw new ImageDecodeError('too_large', rel, `the file is larger than ${MAX_FILE_BYTES / 1024 ** 2} MB, the limit.`)
          return inflateEntry(zip, entry, rel)
        }
      })
    }
    return { candidates, skipped, classDirs, close: () => zip.close() }
  } catch (err) {
    zip.close()
    if (err instanceof StudioError) throw err
    throw bad(`${path}: not a readable zip (${(err as Error).message})`)
  }
}

async function inflateEntry(zip: yauzl.ZipFile, e: yauzl.Entry, rel: string): Promise<Uint8Array> {
  try {
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s))))
    const parts: Buffer[] = []
    let size = 0
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length
      // yauzl stops at the declared size too (validateEntrySizes); this does not rely on it.
      if (size > e.uncompressedSize || size > MAX_FILE_BYTES) throw new Error('the entry is larger than the zip says')
      parts.push(chunk)
    }
    return new Uint8Array(Buffer.concat(parts, size))
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err
    throw new ImageDecodeError('truncated', rel, `the zip entry cannot be unpacked (${(err as Error).message}).`)
  }
}

// ---------------------------------------------------------------------------------------------
// The import

/** Opens a folder or a zip (told apart by what the path is, then by the zip's magic). */
async function openSource(path: string): Promise<Source> {
  let st: Stats
  try {
    st = lstatSync(path)
    if (st.isSymbolicLink()) st = statSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ELOOP') throw bad(`${path}: a symbolic link loop`)
    throw new StudioError('not_found', `${path}: no such file or folder`)
  }
  if (st.isDirectory()) return folderSource(path)
  if (st.isFile()) return zipSource(path)
  throw bad(`${path}: is ${kindOf(st)}, not a folder or a zip file`)
}

interface Probed {
  c: Candidate
  label: number
  hash: string
  colour: boolean
}

/** Runs `fn` over items with at most WINDOW in flight, results in input order. */
async function windowed<T, R>(items: T[], fn: (item: T, i: number) => Promise<R>, each: (r: R, i: number) => Promise<void> | void, signal?: AbortSignal): Promise<void> {
  for (let start = 0; start < items.length; start += WINDOW) {
    if (signal?.aborted) throw new StudioError('unavailable', 'The import was cancelled; nothing was kept.')
    const chunk = items.slice(start, start + WINDOW)
    const results = await Promise.all(chunk.map((item, k) => fn(item, start + k)))
    for (let k = 0; k < results.length; k++) await each(results[k], start + k)
  }
}

/** An IDX file written as it goes: a header of the right length first, rewritten with the count at the end. */
class IdxWriter {
  private count = 0
  private constructor(
    private readonly fh: FileHandle,
    private readonly tail: number[]
  ) {}
  static async create(path: string, tail: number[]): Promise<IdxWriter> {
    const w = new IdxWriter(await open(path, 'wx'), tail)
    await w.fh.write(w.header())
    return w
  }
  private header(): Uint8Array {
    const dims = [this.count, ...this.tail]
    const out = new Uint8Array(4 + 4 * dims.length)
    const view = new DataView(out.buffer)
    out[2] = 0x08
    out[3] = dims.length
    dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false))
    return out
  }
  async append(bytes: Uint8Array): Promise<void> {
    await this.fh.write(bytes)
    this.count++
  }
  async close(): Promise<number> {
    await this.fh.write(this.header(), 0, undefined, 0)
    await this.fh.close()
    return this.count
  }
  async abandon(): Promise<void> {
    await this.fh.close().catch(() => undefined)
  }
}

export interface CacheFiles {
  trainImages: string
  trainLabels: string
  testImages: string
  testLabels: string
}

/**
 * Reads, checks and decodes the pictures of `path` into the four IDX files named by `out` (which
 * must not exist). Throws a StudioError for what makes no dataset (no images, one class, an empty
 * class, a loop, an unsafe zip); a file that is no picture is skipped and listed with its reason.
 */
export async function importImageFolder(path: string, out: CacheFiles, o: ImageImportOptions = {}): Promise<ImportReport> {
  const testSplit = o.testSplit ?? 0.2
  if (!(testSplit > 0 && testSplit < 1)) throw bad(`--test-split must be between 0 and 1 (exclusive), got ${testSplit}`)
  if (o.size !== undefined && (!Number.isInteger(o.size) || o.size < 8 || o.size > 512)) throw bad(`--size must be a whole number from 8 to 512, got ${o.size}`)
  const policy = o.policy ?? 'stretch'
  const seed = o.seed ?? SPLIT_SEED
  const progress = (phase: ImportProgress['phase'], done: number, total: number, file: string | null) => o.onProgress?.({ phase, done, total, file })
  const source = await openSource(path)
  try {
    const { candidates, skipped } = source
    // Class names: as the folders spell them (NFC, so one name typed on macOS and Linux is one class).
    for (const c of candidates) c.className = c.className.normalize('NFC')
    const classes = [...new Set([...source.classDirs].map((n) => n.normalize('NFC')))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const testOnly = [...new Set(candidates.filter((c) => c.split === 'test' && !classes.includes(c.className)).map((c) => c.className))]
    if (testOnly.length) throw bad(`test/${testOnly[0]} has no train/${testOnly[0]} folder: every test class needs training images`)
    if (candidates.length === 0) throw bad(`${path}: no pictures found (expected <class>/<image> or train/<class>/<image>)`)
    if (classes.length < 2) throw bad(`only one class (${JSON.stringify(classes[0])}): a classifier needs at least two class folders`)
    if (classes.length > MAX_CLASSES) throw bad(`${path}: ${classes.length} class folders; at most ${MAX_CLASSES} are supported`)
    for (const name of classes) {
      const parsed = ClassNameSchema.safeParse(name)
      if (!parsed.success || parsed.data !== name) throw bad(`the class folder ${JSON.stringify(name)} cannot be a class name (1 to 100 characters, no leading or trailing spaces)`)
    }

    // Pass 1: read, hash, header.
    const probed: Probed[] = []
    await windowed(
      candidates,
      async (c): Promise<{ c: Candidate; hash: string; colour: boolean } | { c: Candidate; reason: string }> => {
        try {
          const bytes = await c.read()
          const meta = await probeImage(c.rel, bytes)
          return { c, hash: createHash('sha1').update(bytes).digest('hex'), colour: meta.colour }
        } catch (err) {
          if (err instanceof ImageDecodeError) return { c, reason: err.message.slice(c.rel.length + 2).replace(/\.$/, '') }
          throw err
        }
      },
      (r, i) => {
        if ('reason' in r) skipped.push({ file: r.c.rel, reason: r.reason })
        else probed.push({ c: r.c, label: classes.indexOf(r.c.className), hash: r.hash, colour: r.colour })
        if (i % 50 === 0 || i === candidates.length - 1) progress('scanning', i + 1, candidates.length, r.c.rel)
      },
      o.signal
    )
    if (probed.length === 0) throw bad(`${path}: none of its ${candidates.length} files is a picture this studio reads (${skipped[0]?.file}: ${skipped[0]?.reason})`)
    const trainSide = probed.filter((p) => p.c.split !== 'test')
    const perClass = classes.map((_, k) => trainSide.filter((p) => p.label === k).length)
    const empty = classes.filter((_, k) => perClass[k] === 0)
    if (empty.length) throw bad(`the class folder ${JSON.stringify(empty[0])} holds no readable pictures${empty.length > 1 ? ` (nor ${empty.length - 1} more)` : ''}`)
    if (classes.length < 2) throw bad(`only one class (${JSON.stringify(classes[0])}): a classifier needs at least two class folders`)

    const channels: 1 | 3 = o.channels === 1 || o.channels === 3 ? o.channels : probed.some((p) => p.colour) ? 3 : 1
    const size = o.size ?? (channels === 3 ? 32 : 28)
    const layout: ImportLayout = candidates.some((c) => c.split !== null) ? 'split' : 'classes'

    // The split: a folder's own, or seeded and stratified over the readable pictures (sorted by name).
    const isTest = new Uint8Array(probed.length)
    if (layout === 'split') probed.forEach((p, i) => (isTest[i] = p.c.split === 'test' ? 1 : 0))
    else {
      if (probed.length < 2) throw bad(`${path}: one picture cannot be split into train and test`)
      const { val } = splitIndices(Uint8Array.from(probed, (p) => p.label), testSplit, seed, true)
      for (const i of val) isTest[i] = 1
    }
    if (!isTest.some((t) => t === 1)) throw bad(`${path}: the test split is empty (test/ holds no readable pictures)`)

    const duplicates = findDuplicates(probed, isTest)

    // Pass 2: decode into the cache.
    const tail = channels === 3 ? [size, size, 3] : [size, size]
    const writers = { train: await IdxWriter.create(out.trainImages, tail), test: await IdxWriter.create(out.testImages, tail) }
    const labels = { train: [] as number[], test: [] as number[] }
    const counts = { train: classes.map(() => 0), test: classes.map(() => 0) }
    try {
      await windowed(
        probed.map((p, i) => ({ p, i })),
        async ({ p }) => {
          try {
            return await decodeForDataset(p.c.rel, await p.c.read(), { size, channels, policy })
          } catch (err) {
            if (err instanceof ImageDecodeError) return err
            throw err
          }
        },
        async (r, k) => {
          const p = probed[k]
          if (r instanceof ImageDecodeError) skipped.push({ file: p.c.rel, reason: r.message.slice(p.c.rel.length + 2).replace(/\.$/, '') })
          else {
            const side = isTest[k] ? 'test' : 'train'
            await writers[side].append(r)
            labels[side].push(p.label)
            counts[side][p.label]++
          }
          if (k % 50 === 0 || k === probed.length - 1) progress('decoding', k + 1, probed.length, p.c.rel)
        },
        o.signal
      )
    } catch (err) {
      await writers.train.abandon()
      await writers.test.abandon()
      throw err
    }
    progress('writing', probed.length, probed.length, null)
    await writers.train.close()
    await writers.test.close()
    await writeLabels(out.trainLabels, labels.train)
    await writeLabels(out.testLabels, labels.test)
    const lost = classes.filter((_, k) => counts.train[k] === 0)
    if (lost.length) throw bad(`the class folder ${JSON.stringify(lost[0])} holds no decodable pictures`)
    if (labels.test.length === 0) throw bad(`${path}: the test split is empty after decoding`)
    progress('done', probed.length, probed.length, null)
    return {
      layout,
      classes,
      size,
      channels,
      policy,
      testSplit: layout === 'classes' ? testSplit : null,
      seed,
      train: { count: labels.train.length, perClass: counts.train },
      test: { count: labels.test.length, perClass: counts.test },
      valMerged: candidates.filter((c) => c.split === 'train' && !/^train\//i.test(c.rel)).length,
      skipped: skipped.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)),
      duplicates
    }
  } finally {
    source.close()
  }
}

async function writeLabels(path: string, labels: number[]): Promise<void> {
  const w = await open(path, 'wx')
  try {
    const header = new Uint8Array(8)
    header[2] = 0x08
    header[3] = 1
    new DataView(header.buffer).setUint32(4, labels.length, false)
    await w.write(header)
    await w.write(Uint8Array.from(labels))
  } finally {
    await w.close()
  }
}

/** Groups of byte-identical files, each said once with the worst thing it means. */
export function findDuplicates(probed: { c: { rel: string }; label: number; hash: string }[], isTest: Uint8Array): DuplicateGroup[] {
  const byHash = new Map<string, number[]>()
  probed.forEach((p, i) => {
    const list = byHash.get(p.hash)
    if (list) list.push(i)
    else byHash.set(p.hash, [i])
  })
  const out: DuplicateGroup[] = []
  for (const group of byHash.values()) {
    if (group.length < 2) continue
    const labels = new Set(group.map((i) => probed[i].label))
    const sides = new Set(group.map((i) => isTest[i]))
    const kind: DuplicateGroup['kind'] = labels.size > 1 ? 'classes' : sides.size > 1 ? 'leak' : 'class'
    out.push({ kind, files: group.map((i) => probed[i].c.rel) })
  }
  return out
}
