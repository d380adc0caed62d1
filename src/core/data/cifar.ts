// CIFAR-10's binary version (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary version
// (suitable for C programs)"): each file is records of 1 label byte then 3072 pixel bytes, the
// 1024 red values of a 32x32 image row-major, then the 1024 green, then the 1024 blue (CHW).
// Pure: bytes in, an ImageSet out in this studio's layout (HWC, interleaved RGB).
import { IdxError } from './idx'
import type { ImageSet } from './types'

export const CIFAR_SIDE = 32
const PLANE = CIFAR_SIDE * CIFAR_SIDE
export const CIFAR_RECORD = 1 + 3 * PLANE

/** The class names in the order of batches.meta.txt. */
export const cifar10Classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']

/** The files of the extracted archive (cifar-10-batches-bin/). */
export const cifar10TrainFiles = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']
export const cifar10TestFile = 'test_batch.bin'

/** Parses one or more batch files (each checked on its own, so an error names the right file). */
export function parseCifarBatches(files: { bytes: Uint8Array; file: string }[], numClasses = 10): ImageSet {
  let count = 0
  for (const { bytes, file } of files) {
    if (bytes.length === 0) throw new IdxError('empty', file, 'the file is empty')
    if (bytes.length % CIFAR_RECORD !== 0)
      throw new IdxError(
        'truncated',
        file,
        `${bytes.length} bytes is not a whole number of ${CIFAR_RECORD}-byte CIFAR records (truncated, or not a CIFAR-10 binary batch?)`
      )
    count += bytes.length / CIFAR_RECORD
  }
  const images = new Uint8Array(count * 3 * PLANE)
  const labels = new Uint8Array(count)
  let n = 0
  for (const { bytes, file } of files) {
    for (let off = 0; off < bytes.length; off += CIFAR_RECORD, n++) {
      const label = bytes[off]
      if (label >= numClasses) throw new IdxError('label_out_of_range', file, `record ${off / CIFAR_RECORD} has label ${label}; CIFAR-10 labels are 0..${numClasses - 1}`)
      labels[n] = label
      const base = n * 3 * PLANE
      for (let p = 0; p < PLANE; p++) {
        images[base + 3 * p] = bytes[off + 1 + p]
        images[base + 3 * p + 1] = bytes[off + 1 + PLANE + p]
        images[base + 3 * p + 2] = bytes[off + 1 + 2 * PLANE + p]
      }
    }
  }
  return { images, labels, count, height: CIFAR_SIDE, width: CIFAR_SIDE, channels: 3 }
}

/** Writes records in the binary format (tests and fixtures): images HWC RGB 32x32. */
export function encodeCifarBatch(images: Uint8Array, labels: Uint8Array): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR_RECORD)
  for (let n = 0; n < labels.length; n++) {
    const off = n * CIFAR_RECORD
    out[off] = labels[n]
    for (let p = 0; p < PLANE; p++)
      for (let c = 0; c < 3; c++) out[off + 1 + c * PLANE + p] = images[n * 3 * PLANE + 3 * p + c]
  }
  return out
}
