// CIFAR-10 from its binary version: the extracted folder (cifar-10-batches-bin/, or the folder
// above it) or the downloaded cifar-10-binary.tar.gz, parsed by core/data/cifar.ts and cached as
// the same IDX files (count x 32 x 32 x 3) an image-folder import writes.
import { existsSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createGunzip } from 'node:zlib'
import { cifar10TestFile, cifar10TrainFiles, CIFAR_RECORD, parseCifarBatches } from '../../core/data/cifar'
import { encodeIdx, IdxError } from '../../core/data/idx'
import type { ImageSet } from '../../core/data/types'
import { StudioError } from '../../shared/contract'
import { readRegularFileAsync, SafeReadError } from '../storage/safe-read'
import type { IdxFiles } from './datasets-io'

/** 10,000 records per batch file. */
const BATCH_BYTES = 10_000 * CIFAR_RECORD
const ALL = [...cifar10TrainFiles, cifar10TestFile]

/** The folder holding the batches: `path` itself or its cifar-10-batches-bin/. */
function batchesFolder(path: string): string | null {
  for (const dir of [path, join(path, 'cifar-10-batches-bin')]) {
    try {
      if (statSync(dir).isDirectory() && existsSync(join(dir, cifar10TestFile)) && existsSync(join(dir, cifar10TrainFiles[0]))) return dir
    } catch {
      // not this one
    }
  }
  return null
}

export function isCifarFolder(path: string): boolean {
  return batchesFolder(path) !== null
}

async function writeSets(train: ImageSet, test: ImageSet, out: IdxFiles): Promise<void> {
  await writeFile(out.trainImages, encodeIdx([train.count, 32, 32, 3], train.images), { flag: 'wx' })
  await writeFile(out.trainLabels, encodeIdx([train.count], train.labels), { flag: 'wx' })
  await writeFile(out.testImages, encodeIdx([test.count, 32, 32, 3], test.images), { flag: 'wx' })
  await writeFile(out.testLabels, encodeIdx([test.count], test.labels), { flag: 'wx' })
}

/** Reads the five training batches and the test batch (each checked) and writes the IDX cache. */
export async function importCifarFolder(path: string, out: IdxFiles): Promise<void> {
  const dir = batchesFolder(path)
  if (!dir) throw new StudioError('invalid_argument', `${path}: not CIFAR-10's binary batches (data_batch_1.bin .. test_batch.bin)`)
  const read = async (name: string) => {
    const file = join(dir, name)
    try {
      return { bytes: new Uint8Array(await readRegularFileAsync(file, BATCH_BYTES * 2)), file }
    } catch (err) {
      if (err instanceof SafeReadError) throw new StudioError(err.problem === 'missing' ? 'not_found' : 'data_error', `${file}: ${err.reason}`)
      throw err
    }
  }
  try {
    const train = parseCifarBatches(await Promise.all(cifar10TrainFiles.map(read)))
    const test = parseCifarBatches([await read(cifar10TestFile)])
    await writeSets(train, test, out)
  } catch (err) {
    if (err instanceof IdxError) throw new StudioError('data_error', err.message)
    throw err
  }
}

/**
 * The batches out of cifar-10-binary.tar.gz (ustar: 512-byte headers, data padded to 512), read
 * in one streamed pass; every other member is passed over. The archive's md5 was checked already.
 */
export async function importCifarTarGz(tgz: string, out: IdxFiles): Promise<void> {
  const raw = await readRegularFileAsync(tgz, 256 * 1024 ** 2)
  const members = new Map<string, Uint8Array>()
  const gunzip = createGunzip()
  const chunks: Buffer[] = []
  let total = 0
  await new Promise<void>((resolve, reject) => {
    gunzip.on('data', (c: Buffer) => {
      total += c.length
      // The real archive inflates to 185 MB; past 256 MB it is not CIFAR-10.
      if (total > 256 * 1024 ** 2) gunzip.destroy(new Error('inflates to more than 256 MB'))
      else chunks.push(c)
    })
    gunzip.on('end', resolve)
    gunzip.on('error', reject)
    gunzip.end(raw)
  }).catch((err: Error) => {
    throw new StudioError('data_error', `${tgz}: not a readable tar.gz (${err.message})`)
  })
  const tar = Buffer.concat(chunks, total)
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512)
    if (header.every((b) => b === 0)) break
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '')
    const size = parseInt(header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8)
    if (!Number.isFinite(size) || size < 0) throw new StudioError('data_error', `${tgz}: a damaged tar header at byte ${off}`)
    const base = name.split('/').pop() ?? ''
    if (ALL.includes(base) && header[156] !== 0x35) members.set(base, tar.subarray(off + 512, off + 512 + size))
    off += 512 + Math.ceil(size / 512) * 512
  }
  const missing = ALL.filter((n) => !members.has(n))
  if (missing.length) throw new StudioError('data_error', `${tgz}: the archive lacks ${missing.join(', ')}`)
  try {
    const train = parseCifarBatches(cifar10TrainFiles.map((n) => ({ bytes: members.get(n)!, file: n })))
    const test = parseCifarBatches([{ bytes: members.get(cifar10TestFile)!, file: cifar10TestFile }])
    await writeSets(train, test, out)
  } catch (err) {
    if (err instanceof IdxError) throw new StudioError('data_error', `${tgz}: ${err.message}`)
    throw err
  }
}
