// IDX (LeCun's MNIST format) parsing on bytes. Pure: the caller reads files and un-gzips them (see
// src/main/services/datasets-io.ts), so this module runs anywhere. Every failure names the file.
import type { ImageSet } from './types'

export type IdxErrorCode =
  | 'empty'
  | 'bad_magic'
  | 'wrong_dtype'
  | 'wrong_dims'
  | 'truncated'
  | 'trailing_data'
  | 'corrupt_gzip'
  | 'count_mismatch'
  | 'label_out_of_range'
  | 'not_found'

export class IdxError extends Error {
  constructor(
    readonly code: IdxErrorCode,
    readonly file: string,
    detail: string
  ) {
    super(`${file}: ${detail}`)
    this.name = 'IdxError'
  }
}

/** The IDX dtype byte (third byte of the magic) and the element size it implies. */
const DTYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'uint8', bytes: 1 },
  0x09: { name: 'int8', bytes: 1 },
  0x0b: { name: 'int16', bytes: 2 },
  0x0c: { name: 'int32', bytes: 4 },
  0x0d: { name: 'float32', bytes: 4 },
  0x0e: { name: 'float64', bytes: 8 }
}

export interface IdxTensor {
  /** The dims from the header, e.g. [60000, 28, 28]. */
  dims: number[]
  /** A view into the input bytes (no copy): the ubyte payload. */
  data: Uint8Array
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
}

/**
 * Parses an IDX file of unsigned bytes with any number of dims. Datasets here are all ubyte; any
 * other dtype is refused rather than silently reinterpreted.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxTensor {
  if (bytes.length === 0) throw new IdxError('empty', file, 'the file is empty')
  if (isGzip(bytes)) throw new IdxError('corrupt_gzip', file, 'still gzip-compressed after decompression (double gzip?)')
  if (bytes.length < 4) throw new IdxError('truncated', file, `only ${bytes.length} bytes; an IDX header needs at least 4`)
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')
    throw new IdxError('bad_magic', file, `bad magic number ${hex}; an IDX file starts with 00 00 <dtype> <ndims>`)
  }
  const dtype = DTYPES[bytes[2]]
  if (!dtype) throw new IdxError('bad_magic', file, `unknown IDX dtype byte 0x${bytes[2].toString(16).padStart(2, '0')}`)
  if (dtype.bytes !== 1 || dtype.name !== 'uint8')
    throw new IdxError('wrong_dtype', file, `holds ${dtype.name} values; only unsigned bytes (dtype 0x08) are supported`)
  const ndims = bytes[3]
  if (ndims === 0) throw new IdxError('wrong_dims', file, 'the header declares 0 dimensions')
  const headerLen = 4 + 4 * ndims
  if (bytes.length < headerLen)
    throw new IdxError('truncated', file, `the header declares ${ndims} dims but the file ends after ${bytes.length} bytes`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dims: number[] = []
  let total = 1
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false)
    dims.push(d)
    total *= d
  }
  const have = bytes.length - headerLen
  if (have < total)
    throw new IdxError('truncated', file, `truncated: dims ${dims.join('x')} need ${total} data bytes, found ${have}`)
  if (have > total)
    throw new IdxError('trailing_data', file, `${have - total} unexpected bytes after the ${dims.join('x')} data (not an IDX file of these dims?)`)
  return { dims, data: bytes.subarray(headerLen, headerLen + total) }
}

/**
 * Images: dims [count, height, width] (gray), or [count, height, width, 3] (RGB, interleaved, as the
 * image-folder cache writes it). A 2-D [count, features] file is refused: no image size.
 */
export function parseImages(bytes: Uint8Array, file: string): { images: Uint8Array; count: number; height: number; width: number; channels: 1 | 3 } {
  const t = parseIdx(bytes, file)
  if (t.dims.length === 4 && t.dims[3] !== 3 && t.dims[3] !== 1)
    throw new IdxError('wrong_dims', file, `a 4-dim image file has 1 or 3 channels last; this one has ${t.dims[3]} (${t.dims.join('x')})`)
  if (t.dims.length !== 3 && t.dims.length !== 4)
    throw new IdxError('wrong_dims', file, `an image file has 3 dims (count, height, width); this one has ${t.dims.length} (${t.dims.join('x')})`)
  const [count, height, width] = t.dims
  if (height === 0 || width === 0) throw new IdxError('wrong_dims', file, `image size ${height}x${width} is empty`)
  return { images: t.data, count, height, width, channels: t.dims[3] === 3 ? 3 : 1 }
}

export function parseLabels(bytes: Uint8Array, file: string): Uint8Array {
  const t = parseIdx(bytes, file)
  if (t.dims.length !== 1) throw new IdxError('wrong_dims', file, `a label file has 1 dim; this one has ${t.dims.length} (${t.dims.join('x')})`)
  return t.data
}

/**
 * Joins an image file and a label file into an ImageSet, checking that the counts agree and every
 * label is below `numClasses`.
 */
export function toImageSet(
  images: { bytes: Uint8Array; file: string },
  labels: { bytes: Uint8Array; file: string },
  numClasses: number
): ImageSet {
  const im = parseImages(images.bytes, images.file)
  const lb = parseLabels(labels.bytes, labels.file)
  if (lb.length !== im.count)
    throw new IdxError(
      'count_mismatch',
      labels.file,
      `holds ${lb.length} labels but ${images.file} holds ${im.count} images`
    )
  checkLabels(lb, numClasses, labels.file)
  return { images: im.images, labels: lb, count: im.count, height: im.height, width: im.width, ...(im.channels === 3 ? { channels: 3 as const } : {}) }
}

export function checkLabels(labels: Uint8Array, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses)
      throw new IdxError('label_out_of_range', file, `label ${labels[i]} at index ${i} is out of range 0..${numClasses - 1}`)
  }
}

/** Encodes an IDX ubyte file (used for caches and fixtures). */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const total = dims.reduce((a, b) => a * b, 1)
  if (total !== data.length) throw new RangeError(`encodeIdx: dims ${dims.join('x')} need ${total} bytes, got ${data.length}`)
  const out = new Uint8Array(4 + 4 * dims.length + data.length)
  const view = new DataView(out.buffer)
  out[2] = 0x08
  out[3] = dims.length
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false))
  out.set(data, 4 + 4 * dims.length)
  return out
}
