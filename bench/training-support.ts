// Shared by bench/training.ts and bench/accuracy.ts (models helper).
// Minimal IDX reader for the benchmarks (gz or raw), so they run against /work/shared/datasets or
// any folder holding the four canonical files; the app itself loads data through DatasetStore.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { DatasetArrays, ImageSet } from '../src/core/data/types'

function readIdx(folder: string, base: string): Buffer {
  for (const name of [`${base}.gz`, base]) {
    const path = join(folder, name)
    if (existsSync(path)) {
      const raw = readFileSync(path)
      return name.endsWith('.gz') ? gunzipSync(raw) : raw
    }
  }
  throw new Error(`${folder}: neither ${base} nor ${base}.gz found`)
}

function readSet(folder: string, images: string, labels: string): ImageSet {
  const img = readIdx(folder, images)
  const lab = readIdx(folder, labels)
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new Error(`${folder}: bad IDX magic in ${images} / ${labels}`)
  const count = img.readUInt32BE(4)
  const height = img.readUInt32BE(8)
  const width = img.readUInt32BE(12)
  if (lab.readUInt32BE(4) !== count) throw new Error(`${folder}: ${count} images but ${lab.readUInt32BE(4)} labels`)
  return {
    images: new Uint8Array(img.buffer, img.byteOffset + 16, count * height * width),
    labels: new Uint8Array(lab.buffer, lab.byteOffset + 8, count),
    count,
    height,
    width
  }
}

export function readIdxFolder(folder: string, id = 'idx'): DatasetArrays {
  return {
    id,
    title: id,
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    style: 'objects',
    train: readSet(folder, 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    test: readSet(folder, 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
  }
}

// Loads the native `tensorflow` backend (tfjs-node) when installed; oneDNN must be switched on
// before the addon loads. Returns the reason when it cannot.
export async function loadNative(): Promise<{ ok: true } | { ok: false; reason: string }> {
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1'
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
  try {
    await import('@tensorflow/tfjs-node')
    const tf = await import('@tensorflow/tfjs')
    await tf.setBackend('tensorflow')
    await tf.ready()
    return { ok: true }
  } catch (error) {
    return { ok: false, reason: (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200) }
  }
}
