// File access for the data layer: read IDX files (gz or raw), find the four files in a folder, and
// write files and folders atomically (temp + rename) so a crash never leaves a half-written cache.
import { readdirSync, statSync } from 'node:fs'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { createGunzip } from 'node:zlib'
import { readRegularFileAsync, SafeReadError } from '../storage/safe-read'
import { IdxError, isGzip, toImageSet } from '../../core/data/idx'
import type { ImageSet } from '../../core/data/types'

/**
 * The most one IDX file may hold once inflated. EMNIST ByClass, the largest IDX set in use, is
 * 550 MB of training images; anything past 1 GB is a mistake or a gzip bomb.
 */
export const MAX_IDX_BYTES = 1024 ** 3

/** Reads a file and un-gzips it when it starts with the gzip magic (1f 8b), whatever its name. */
export async function readIdxBytes(file: string): Promise<Uint8Array> {
  let raw: Buffer
  try {
    // Regular files only: a FIFO or a device is refused at once instead of hanging or filling memory.
    raw = await readRegularFileAsync(file, MAX_IDX_BYTES)
  } catch (err) {
    if (!(err instanceof SafeReadError)) throw err
    throw new IdxError('not_found', file, err.reason)
  }
  if (raw.length === 0) throw new IdxError('empty', file, 'the file is empty')
  if (!isGzip(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  const out = await gunzipCapped(raw, file)
  if (out.length === 0) throw new IdxError('empty', file, 'the gzip stream decompresses to nothing')
  return out
}

/**
 * The size an IDX file declares in its header (header + data bytes), read from the file's first
 * bytes: 'incomplete' until the whole header is there, 'refused' for a header parseIdx refuses
 * anyway (bad magic, a dtype other than uint8, no dimensions), which then says why.
 */
export function idxDeclaredSize(head: Uint8Array): number | 'incomplete' | 'refused' {
  if (head.length < 4) return 'incomplete'
  if (head[0] !== 0 || head[1] !== 0 || head[2] !== 0x08 || head[3] === 0) return 'refused'
  const headerLen = 4 + 4 * head[3]
  if (head.length < headerLen) return 'incomplete'
  const view = new DataView(head.buffer, head.byteOffset, headerLen)
  let data = 1
  for (let i = 0; i < head[3]; i++) data *= view.getUint32(4 + 4 * i, false)
  return headerLen + data
}

/**
 * Inflates a gzip file, stopping as soon as the output passes what its IDX header declares (or
 * MAX_IDX_BYTES): a small .gz that inflates to gigabytes costs one zlib chunk past the header.
 */
function gunzipCapped(raw: Uint8Array, file: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const z = createGunzip()
    const parts: Buffer[] = []
    let total = 0
    let cap: number | null = null
    let done = false
    const finish = (err: Error | null) => {
      if (done) return
      done = true
      z.destroy()
      if (err) return reject(err)
      const out = Buffer.concat(parts, total)
      resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength))
    }
    z.on('data', (chunk: Buffer) => {
      if (done) return
      parts.push(chunk)
      total += chunk.length
      if (cap === null) {
        const declared = idxDeclaredSize(parts.length === 1 ? parts[0] : Buffer.concat(parts, total))
        if (declared === 'incomplete') return
        // parseIdx names what is wrong with this header from the bytes seen so far.
        if (declared === 'refused') return finish(null)
        if (declared > MAX_IDX_BYTES)
          return finish(new IdxError('wrong_dims', file, `the header declares ${declared.toLocaleString('en-US')} bytes, more than the ${MAX_IDX_BYTES / 1024 ** 3} GB an IDX file may hold`))
        cap = declared
      }
      if (total > cap)
        finish(new IdxError('trailing_data', file, `the gzip data inflates to more than the ${cap.toLocaleString('en-US')} bytes its IDX header declares (a gzip bomb, or not an IDX file?)`))
    })
    z.on('end', () => finish(null))
    z.on('error', (err) => finish(new IdxError('corrupt_gzip', file, `corrupt gzip data (${err.message})`)))
    z.end(raw)
  })
}

export type IdxRole = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels'
export type IdxFiles = Record<IdxRole, string>
export const roles: IdxRole[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels']

/** The canonical file names (as on the MNIST mirrors, without .gz). */
export const canonicalNames: IdxFiles = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte'
}

/**
 * Recognises the usual spellings: train-images-idx3-ubyte(.gz), train-images.idx3-ubyte (Kaggle),
 * t10k-/test-, *-images-idx3-ubyte.gz renamed by browsers to *-images-idx3-ubyte (1).gz is not
 * guessed. Case-insensitive.
 */
export function roleOf(name: string): IdxRole | null {
  const n = name.toLowerCase().replace(/\.gz$/, '')
  const m = /^(?:[a-z0-9]+-)*(train|t10k|test)[-_.]?(images|labels)[-_.]idx([13])[-_.]ubyte$/.exec(n)
  if (!m) return null
  const split = m[1] === 'train' ? 'train' : 'test'
  const kind = m[2]
  if ((kind === 'images') !== (m[3] === '3')) return null
  return (split + (kind === 'images' ? 'Images' : 'Labels')) as IdxRole
}

/** The four IDX files in a folder; names each role that is missing or found twice. */
export function findIdxFiles(folder: string): IdxFiles {
  let names: string[]
  try {
    if (!statSync(folder).isDirectory()) throw new IdxError('not_found', folder, 'is not a folder')
    names = readdirSync(folder)
  } catch (err) {
    if (err instanceof IdxError) throw err
    throw new IdxError('not_found', folder, 'no such folder')
  }
  const found: Partial<Record<IdxRole, string[]>> = {}
  for (const name of names) {
    const role = roleOf(name)
    if (role) (found[role] ??= []).push(name)
  }
  const missing = roles.filter((r) => !found[r])
  // Names what is missing only: the folder's other files are none of the caller's business (the
  // path may come from a page, and a listing would let it read any folder's contents).
  if (missing.length) throw new IdxError('not_found', folder, `missing ${missing.map((r) => canonicalNames[r] + '[.gz]').join(', ')}`)
  const twice = roles.filter((r) => found[r]!.length > 1)
  if (twice.length)
    throw new IdxError('not_found', folder, `more than one candidate for ${twice.map((r) => found[r]!.join(' and ')).join('; ')}`)
  return Object.fromEntries(roles.map((r) => [r, join(folder, found[r]![0])])) as IdxFiles
}

/**
 * Whether `path` is meant as IDX data: a missing path (so its error names it as a folder of IDX
 * files, as before pictures could be imported), a file named as an IDX role, or a folder holding
 * at least one file named so. Pictures and zips are everything else.
 */
export function holdsIdx(path: string): boolean {
  try {
    const st = statSync(path)
    if (st.isFile()) return roleOf(basename(path)) !== null
    if (!st.isDirectory()) return false
    return readdirSync(path).some((n) => roleOf(n) !== null)
  } catch {
    return true
  }
}

/** Reads and validates both splits. `numClasses` null means "as many as the train labels use". */
export async function readIdxSets(
  files: IdxFiles,
  numClasses: number | null
): Promise<{ train: ImageSet; test: ImageSet; numClasses: number }> {
  // One file after another: four inflating at once would hold four caps' worth of memory.
  const bytes: Uint8Array[] = []
  for (const r of roles) bytes.push(await readIdxBytes(files[r]))
  const [ti, tl, ei, el] = bytes
  const empty = (set: ImageSet, file: string) => {
    if (set.count === 0) throw new IdxError('empty', file, 'holds no images (its header declares 0 items)')
  }
  // Labels are bytes: 256 admits any of them, so the class count can be learnt from the train set.
  const peek = toImageSet({ bytes: ti, file: files.trainImages }, { bytes: tl, file: files.trainLabels }, numClasses ?? 256)
  // Files from outside (an import, a folder) must make a dataset; the bundled ones are ours.
  const outside = numClasses === null
  if (outside) empty(peek, files.trainImages)
  const n = numClasses ?? impliedClassCount(peek.labels, files.trainLabels)
  const train = numClasses === null ? toImageSet({ bytes: ti, file: files.trainImages }, { bytes: tl, file: files.trainLabels }, n) : peek
  const test = toImageSet({ bytes: ei, file: files.testImages }, { bytes: el, file: files.testLabels }, n)
  if (outside) empty(test, files.testImages)
  if (test.height !== train.height || test.width !== train.width)
    throw new IdxError(
      'wrong_dims',
      files.testImages,
      `images are ${test.height}x${test.width} but ${basename(files.trainImages)} has ${train.height}x${train.width}`
    )
  if ((test.channels ?? 1) !== (train.channels ?? 1))
    throw new IdxError('wrong_dims', files.testImages, `images have ${test.channels ?? 1} channel(s) but ${basename(files.trainImages)} has ${train.channels ?? 1}`)
  return { train, test, numClasses: n }
}

/**
 * The class count a label file implies (labels 0..n-1), refusing what cannot be a classification
 * dataset: every class up to the largest label must have training images, so a few stray labels
 * (or all labels 255) do not turn a 10-class set into a 256-class one with 246 empty classes.
 */
export function impliedClassCount(labels: Uint8Array, file: string): number {
  const counts = new Array<number>(256).fill(0)
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++
  let max = 0
  for (let c = 0; c < 256; c++) if (counts[c]) max = c
  const empty = counts.slice(0, max + 1).flatMap((k, c) => (k === 0 ? [c] : []))
  if (max === 0) throw new IdxError('label_out_of_range', file, 'every label is 0: a dataset needs at least two classes')
  if (empty.length) {
    const shown = empty.length > 5 ? `${empty.slice(0, 5).join(', ')} and ${empty.length - 5} more` : empty.join(', ')
    throw new IdxError(
      'label_out_of_range',
      file,
      `the labels go up to ${max}, so ${max + 1} classes, but classes ${shown} have no training images (stray labels, or not a label file?)`
    )
  }
  return Math.max(2, max + 1)
}

let tmpCounter = 0
const tmpName = (path: string) => `${path}.tmp-${process.pid}-${Date.now()}-${tmpCounter++}`

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = tmpName(path)
  try {
    await writeFile(tmp, data)
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}

/**
 * Builds a folder under a temporary name and renames it into place. When `path` already exists
 * (another process finished the same work first) ours is discarded and theirs kept, so readers
 * never see the folder vanish.
 */
export async function writeFolderAtomic(path: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = tmpName(path)
  await mkdir(tmp)
  try {
    await fill(tmp)
    try {
      await rename(tmp, path)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err
      await rm(tmp, { recursive: true, force: true })
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}
