// The safetensors format (huggingface.co/docs/safetensors): an 8-byte little-endian header length,
// a JSON header { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }, then
// the raw little-endian tensor bytes. No code in it, by design. Read with offsets checked against
// the file before any value is read; written as a stream, one tensor's bytes at a time.
import { closeSync, openSync, readSync, renameSync, writeSync } from 'node:fs'
import { openRegularFile } from '../storage/safe-read'
import { BYTES, CheckpointFileError, numel, stridedToFloat32, type CheckpointSource, type SourceDtype } from './tensors'

const MAX_HEADER_BYTES = 100 * 1024 * 1024
const MAX_FILE_BYTES = 8 * 1024 ** 3

const DTYPES: Record<string, SourceDtype> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool'
}

interface HeaderEntry {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
}

export function openSafetensors(path: string): CheckpointSource {
  const { fd, size } = openRegularFile(path, MAX_FILE_BYTES)
  let closed = false
  // Once only: a second closeSync could close a descriptor the number was reused for.
  const close = () => {
    if (closed) return
    closed = true
    closeSync(fd)
  }
  try {
    const read = (at: number, n: number): Uint8Array => {
      const out = new Uint8Array(n)
      let got = 0
      while (got < n) {
        const k = readSync(fd, out, got, n - got, at + got)
        if (k === 0) throw new CheckpointFileError(`the file ends after ${at + got} bytes, inside its data`)
        got += k
      }
      return out
    }
    if (size < 8) throw new CheckpointFileError(`the file is ${size} bytes, too short for a safetensors header`)
    const headerLen = Number(new DataView(read(0, 8).buffer).getBigUint64(0, true))
    if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > size)
      throw new CheckpointFileError(`the safetensors header declares ${headerLen} bytes, which the ${size}-byte file cannot hold`)
    let header: Record<string, unknown>
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(read(8, headerLen))) as Record<string, unknown>
    } catch (err) {
      throw new CheckpointFileError(`the safetensors header is not valid JSON (${(err as Error).message})`)
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointFileError('the safetensors header is not a JSON object')
    const dataStart = 8 + headerLen
    const dataLen = size - dataStart
    const tensors = Object.entries(header)
      .filter(([name]) => name !== '__metadata__')
      .map(([name, raw]) => {
        const e = raw as Partial<HeaderEntry>
        if (!e || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets))
          throw new CheckpointFileError(`the tensor '${name}' has a malformed header entry`)
        const dtype = DTYPES[e.dtype]
        if (!dtype) throw new CheckpointFileError(`the tensor '${name}' has dtype ${JSON.stringify(e.dtype).slice(0, 20)}, which is not a dtype Conv Studio reads (F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)`)
        const shape = e.shape
        if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new CheckpointFileError(`the tensor '${name}' has a bad shape`)
        const [begin, end] = e.data_offsets
        const need = numel(shape) * BYTES[dtype]
        if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end > dataLen || end - begin !== need)
          throw new CheckpointFileError(`the tensor '${name}' declares bytes ${begin}..${end}, but its shape [${shape.join(', ')}] of ${dtype} needs ${need} inside ${dataLen}`)
        return { name, dtype, shape, begin, end }
      })
    // safetensors writes tensors sorted by name, not in module order; the data offsets keep the writer's order.
    tensors.sort((a, b) => a.begin - b.begin)
    for (let i = 1; i < tensors.length; i++)
      if (tensors[i].begin < tensors[i - 1].end) throw new CheckpointFileError(`the tensors '${tensors[i - 1].name}' and '${tensors[i].name}' overlap`)
    if (tensors.length === 0) throw new CheckpointFileError('the file holds no tensors')
    return {
      format: 'safetensors',
      tensors: tensors.map((t) => ({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        load: () => {
          const bytes = read(dataStart + t.begin, t.end - t.begin)
          return Promise.resolve(stridedToFloat32(bytes, t.dtype, 0, t.shape, t.shape.map((_, i) => numel(t.shape.slice(i + 1)))))
        }
      })),
      close
    }
  } catch (err) {
    close()
    throw err
  }
}

export interface TensorOut {
  name: string
  dtype: 'F32' | 'I64'
  shape: number[]
  /** Called once, in order, when this tensor's bytes are written. */
  bytes: () => Uint8Array
}

/**
 * Writes a safetensors file through a temporary name, one tensor's bytes in memory at a time.
 * Tensors keep the given order in the data (readers use the offsets, not the header's key order).
 */
export function writeSafetensors(path: string, tensors: TensorOut[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: metadata }
  let at = 0
  for (const t of tensors) {
    const n = numel(t.shape) * (t.dtype === 'F32' ? 4 : 8)
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + n] }
    at += n
  }
  let json = JSON.stringify(header)
  // Pad to 8 bytes as the reference writer does, so the data that follows is aligned.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8)
  const headerBytes = Buffer.from(json)
  const tmp = `${path}.partial`
  const fd = openSync(tmp, 'w')
  try {
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(headerBytes.length))
    writeSync(fd, len)
    writeSync(fd, headerBytes)
    for (const t of tensors) {
      const b = t.bytes()
      const n = numel(t.shape) * (t.dtype === 'F32' ? 4 : 8)
      if (b.byteLength !== n) throw new Error(`tensor ${t.name}: ${b.byteLength} bytes, its shape needs ${n}`)
      let off = 0
      while (off < b.byteLength) off += writeSync(fd, b, off, b.byteLength - off)
    }
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
