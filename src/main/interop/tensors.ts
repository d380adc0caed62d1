// Tensors read from a checkpoint file: names, dtypes and shapes first, values on demand, so that a
// checkpoint for another network is refused before 200 MB of AlexNet weights are read, and only
// one layer's values are held at a time while they are converted.

export class CheckpointFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CheckpointFileError'
  }
}

/** Dtypes as both formats name them, in torch's words. */
export type SourceDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool'

export const BYTES: Record<SourceDtype, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1
}

export const FLOAT_DTYPES: readonly SourceDtype[] = ['float32', 'float64', 'float16', 'bfloat16']

export interface SourceTensor {
  name: string
  dtype: SourceDtype
  shape: number[]
  /** The values as float32, contiguous, row-major (C order). */
  load(): Promise<Float32Array>
}

export interface CheckpointSource {
  /** 'PyTorch zip (torch.save)' or 'safetensors', for notes and messages. */
  format: string
  tensors: SourceTensor[]
  close(): void
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1
  const e = (h >> 10) & 0x1f
  const f = h & 0x3ff
  if (e === 0) return s * f * 2 ** -24
  if (e === 31) return f ? NaN : s * Infinity
  return s * (1 + f / 1024) * 2 ** (e - 15)
}

/**
 * Element `i` of a little-endian buffer of `dtype` as a number. Used only for the non-float32
 * dtypes (float32 is viewed in place).
 */
function reader(bytes: Uint8Array, dtype: SourceDtype): (i: number) => number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (dtype) {
    case 'float32':
      return (i) => v.getFloat32(i * 4, true)
    case 'float64':
      return (i) => v.getFloat64(i * 8, true)
    case 'float16':
      return (i) => halfToFloat(v.getUint16(i * 2, true))
    case 'bfloat16': {
      const scratch = new DataView(new ArrayBuffer(4))
      return (i) => {
        scratch.setUint32(0, v.getUint16(i * 2, true) << 16)
        return scratch.getFloat32(0)
      }
    }
    case 'int64':
      return (i) => Number(v.getBigInt64(i * 8, true))
    case 'int32':
      return (i) => v.getInt32(i * 4, true)
    case 'int16':
      return (i) => v.getInt16(i * 2, true)
    case 'int8':
      return (i) => v.getInt8(i)
    case 'uint8':
    case 'bool':
      return (i) => v.getUint8(i)
  }
}

/**
 * A strided view of a storage (as torch describes a tensor) as contiguous float32. A contiguous
 * float32 tensor that is 4-byte aligned is returned as a view of `bytes`, not copied.
 */
export function stridedToFloat32(bytes: Uint8Array, dtype: SourceDtype, offset: number, shape: readonly number[], stride: readonly number[]): Float32Array {
  const n = numel(shape)
  const contiguous = shape.every((_, i) => shape[i] === 1 || stride[i] === numel(shape.slice(i + 1)))
  if (dtype === 'float32' && contiguous && (bytes.byteOffset + offset * 4) % 4 === 0)
    return new Float32Array(bytes.buffer, bytes.byteOffset + offset * 4, n)
  const get = reader(bytes, dtype)
  const out = new Float32Array(n)
  if (contiguous) {
    for (let i = 0; i < n; i++) out[i] = get(offset + i)
    return out
  }
  const idx = new Array<number>(shape.length).fill(0)
  for (let i = 0; i < n; i++) {
    let at = offset
    for (let d = 0; d < shape.length; d++) at += idx[d] * stride[d]
    out[i] = get(at)
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break
      idx[d] = 0
    }
  }
  return out
}
