// torch.save's file format (PyTorch >= 1.6): a zip, entries stored uncompressed, holding
// <prefix>/data.pkl (the pickled state dict, read by our restricted unpickler), <prefix>/data/<key>
// (one raw little-endian storage per key) and <prefix>/byteorder. Read through yauzl, central
// directory first: every entry's size is checked against what the pickle says before a byte of
// it is read, and no entry is inflated past its declared size.
import { closeSync } from 'node:fs'
import type { Readable } from 'node:stream'
import yauzl from 'yauzl'
import { openRegularFile } from '../storage/safe-read'
import { PickleError, readStateDictPickle, type StorageRef } from './pickle'
import { BYTES, CheckpointFileError, stridedToFloat32, type CheckpointSource, type SourceTensor } from './tensors'

/** A state dict pickle is a few KB per tensor; anything this big is not one. */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024
const MAX_ENTRIES = 100_000
/** AlexNet's biggest storage is ~150 MB; a checkpoint is at most a few GB. */
const MAX_FILE_BYTES = 8 * 1024 ** 3

function listEntries(zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const out: yauzl.Entry[] = []
    zip.on('entry', (e: yauzl.Entry) => {
      out.push(e)
      if (out.length > MAX_ENTRIES) reject(new CheckpointFileError(`the zip has more than ${MAX_ENTRIES} entries; a state_dict has one per tensor`))
      else zip.readEntry()
    })
    zip.on('end', () => resolve(out))
    zip.on('error', reject)
    zip.readEntry()
  })
}

async function readEntry(zip: yauzl.ZipFile, e: yauzl.Entry): Promise<Uint8Array> {
  const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(e, (err, s) => (err ? reject(err) : resolve(s))))
  // A fresh ArrayBuffer, so float32 storages are aligned and viewed in place.
  const out = new Uint8Array(e.uncompressedSize)
  let at = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (at + chunk.length > out.length) throw new CheckpointFileError(`${e.fileName} holds more than its declared ${out.length} bytes`)
    out.set(chunk, at)
    at += chunk.length
  }
  if (at !== out.length) throw new CheckpointFileError(`${e.fileName} ends after ${at} of ${out.length} bytes`)
  return out
}

function zipProblem(err: unknown): CheckpointFileError {
  if (err instanceof CheckpointFileError) return err
  const m = (err as Error).message ?? String(err)
  return new CheckpointFileError(`it is not a complete zip archive (${m}); the file may be truncated`)
}

export async function openTorchZip(path: string): Promise<CheckpointSource> {
  const { fd } = openRegularFile(path, MAX_FILE_BYTES)
  let zip: yauzl.ZipFile | null = null
  let closed = false
  // Once only: a second closeSync could close a descriptor the number was reused for.
  const close = () => {
    if (closed) return
    closed = true
    // yauzl closes the descriptor itself once the zip and its open streams are closed.
    if (zip) zip.close()
    else closeSync(fd)
  }
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      yauzl.fromFd(fd, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true }, (err, z) => (err || !z ? reject(err) : resolve(z)))
    ).catch((err: unknown) => {
      throw zipProblem(err)
    })
    const entries = await listEntries(zip).catch((err: unknown) => {
      throw zipProblem(err)
    })
    const pkl = entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.fileName) || e.fileName === 'data.pkl')
    if (!pkl) throw new CheckpointFileError('the zip has no data.pkl, so it is not a torch.save checkpoint')
    const prefix = pkl.fileName.slice(0, -'data.pkl'.length)
    if (pkl.uncompressedSize > MAX_PICKLE_BYTES) throw new CheckpointFileError(`data.pkl is ${pkl.uncompressedSize} bytes, more than a state_dict needs`)
    const byName = new Map(entries.map((e) => [e.fileName, e]))
    const order = byName.get(`${prefix}byteorder`)
    if (order && order.uncompressedSize <= 16) {
      const text = new TextDecoder().decode(await readEntry(zip, order).catch((err: unknown) => Promise.reject(zipProblem(err))))
      if (text.trim() !== 'little') throw new CheckpointFileError(`the checkpoint was saved on a ${text.trim()}-endian machine; only little-endian files are read`)
    }
    const pickleBytes = await readEntry(zip, pkl).catch((err: unknown) => Promise.reject(zipProblem(err)))
    let dict
    try {
      dict = readStateDictPickle(pickleBytes)
    } catch (err) {
      if (err instanceof PickleError) throw new CheckpointFileError(err.message)
      throw err
    }
    const z = zip
    const entryOf = (s: StorageRef): yauzl.Entry => {
      const e = byName.get(`${prefix}data/${s.key}`)
      if (!e) throw new CheckpointFileError(`the storage data/${s.key} is missing from the zip`)
      const need = s.numel * BYTES[s.dtype]
      if (e.uncompressedSize !== need) throw new CheckpointFileError(`the storage data/${s.key} has ${e.uncompressedSize} bytes; its ${s.numel} ${s.dtype} values need ${need}`)
      return e
    }
    // Every storage is checked now, against the central directory: a short file fails before any value is read.
    for (const { tensor } of dict) entryOf(tensor.storage)
    const tensors: SourceTensor[] = dict.map(({ name, tensor }) => ({
      name,
      dtype: tensor.storage.dtype,
      shape: tensor.shape,
      load: async () => {
        const bytes = await readEntry(z, entryOf(tensor.storage)).catch((err: unknown) => Promise.reject(zipProblem(err)))
        return stridedToFloat32(bytes, tensor.storage.dtype, tensor.offset, tensor.shape, tensor.stride)
      }
    }))
    return { format: 'PyTorch zip (torch.save)', tensors, close }
  } catch (err) {
    close()
    throw err
  }
}
