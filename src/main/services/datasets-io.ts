// File access for the data layer: read IDX files (gz or raw), find the four files in a folder, and
// write files and folders atomically (temp + rename) so a crash never leaves a half-written cache.
import { readdirSync, statSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { IdxError, isGzip, toImageSet } from '../../core/data/idx'
import type { ImageSet } from '../../core/data/types'

const gunzipAsync = promisify(gunzip)

/** Reads a file and un-gzips it when it starts with the gzip magic (1f 8b), whatever its name. */
export async function readIdxBytes(file: string): Promise<Uint8Array> {
  let raw: Buffer
  try {
    raw = await readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new IdxError('not_found', file, 'no such file')
    throw new IdxError('not_found', file, `cannot be read (${code ?? String(err)})`)
  }
  if (raw.length === 0) throw new IdxError('empty', file, 'the file is empty')
  if (!isGzip(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
  try {
    const out = await gunzipAsync(raw)
    if (out.length === 0) throw new IdxError('empty', file, 'the gzip stream decompresses to nothing')
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  } catch (err) {
    if (err instanceof IdxError) throw err
    const why = err instanceof Error ? err.message : String(err)
    throw new IdxError('corrupt_gzip', file, `corrupt gzip data (${why})`)
  }
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
  if (missing.length)
    throw new IdxError(
      'not_found',
      folder,
      `missing ${missing.map((r) => canonicalNames[r] + '[.gz]').join(', ')} (found: ${names.length ? names.join(', ') : 'nothing'})`
    )
  const twice = roles.filter((r) => found[r]!.length > 1)
  if (twice.length)
    throw new IdxError('not_found', folder, `more than one candidate for ${twice.map((r) => found[r]!.join(' and ')).join('; ')}`)
  return Object.fromEntries(roles.map((r) => [r, join(folder, found[r]![0])])) as IdxFiles
}

/** Reads and validates both splits. `numClasses` null means "as many as the train labels use". */
export async function readIdxSets(
  files: IdxFiles,
  numClasses: number | null
): Promise<{ train: ImageSet; test: ImageSet; numClasses: number }> {
  const [ti, tl, ei, el] = await Promise.all(roles.map((r) => readIdxBytes(files[r])))
  let n = numClasses
  if (n === null) {
    // Peek at the labels to learn the class count; toImageSet below does the full check.
    const labels = toImageSet({ bytes: ti, file: files.trainImages }, { bytes: tl, file: files.trainLabels }, 256).labels
    let max = 0
    for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i]
    n = Math.max(2, max + 1)
  }
  const train = toImageSet({ bytes: ti, file: files.trainImages }, { bytes: tl, file: files.trainLabels }, n)
  const test = toImageSet({ bytes: ei, file: files.testImages }, { bytes: el, file: files.testLabels }, n)
  if (test.height !== train.height || test.width !== train.width)
    throw new IdxError(
      'wrong_dims',
      files.testImages,
      `images are ${test.height}x${test.width} but ${basename(files.trainImages)} has ${train.height}x${train.width}`
    )
  return { train, test, numClasses: n }
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
