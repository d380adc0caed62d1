// CIFAR-10: the binary version, downloaded (a small archive written in its format, served from
// 127.0.0.1 with its md5) or imported from the extracted batches.
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { cifar10Classes, cifar10TestFile, cifar10TrainFiles, encodeCifarBatch } from '../../../src/core/data/cifar'
import { catalog } from '../../../src/main/services/datasets-catalog'
import { clearDatasetMemory, DatasetStore } from '../../../src/main/services/datasets'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-cifar-'))
  clearDatasetMemory()
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** n records whose pixels encode (record, channel) so the test can find them again. */
function batch(n: number, first: number): Uint8Array {
  const images = new Uint8Array(n * 3072)
  const labels = new Uint8Array(n)
  for (let k = 0; k < n; k++) {
    labels[k] = (first + k) % 10
    for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[k * 3072 + p * 3 + c] = (first + k + 50 * c) % 256
  }
  return encodeCifarBatch(images, labels)
}

/** A ustar archive of the given members (what tar czf writes, minus what the reader ignores). */
function tarGz(members: Record<string, Uint8Array>): Buffer {
  const parts: Buffer[] = []
  for (const [name, data] of Object.entries(members)) {
    const h = Buffer.alloc(512)
    h.write(name, 0, 'utf8')
    h.write('0000644\0', 100)
    h.write('0000000\0', 108)
    h.write('0000000\0', 116)
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124)
    h.write('00000000000\0', 136)
    h.write('        ', 148)
    h.write('0', 156)
    h.write('ustar\0' + '00', 257)
    let sum = 0
    for (const b of h) sum += b
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
    parts.push(h, Buffer.from(data), Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return gzipSync(Buffer.concat(parts))
}

const members = (): Record<string, Uint8Array> => ({
  'cifar-10-batches-bin/batches.meta.txt': new TextEncoder().encode(cifar10Classes.join('\n')),
  ...Object.fromEntries(cifar10TrainFiles.map((f, i) => [`cifar-10-batches-bin/${f}`, batch(4, i * 4)])),
  [`cifar-10-batches-bin/${cifar10TestFile}`]: batch(3, 100)
})

describe('CIFAR-10', () => {
  it('is in the catalog with the canonical archive and its md5', () => {
    const e = catalog.find((c) => c.id === 'cifar-10')!
    expect(e).toMatchObject({ style: 'photos', imageSize: 32, trainCount: 50_000, testCount: 10_000, classes: cifar10Classes })
    expect(e.archive).toEqual({ mirrors: ['https://www.cs.toronto.edu/~kriz/'], name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' })
  })

  it('downloads the binary archive, checks its md5, parses the records and keeps only the cache', async () => {
    const body = tarGz(members())
    const md5 = createHash('md5').update(body).digest('hex')
    const server = createServer((req, res) => (req.url === '/c/cifar-10-binary.tar.gz' ? res.writeHead(200, { 'Content-Length': body.length }).end(body) : res.writeHead(404).end()))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const port = (server.address() as { port: number }).port
      const entry = { ...catalog.find((c) => c.id === 'cifar-10')!, archive: { mirrors: [`http://127.0.0.1:${port}/c/`], name: 'cifar-10-binary.tar.gz', md5 } }
      const store = new DatasetStore({ dataDir: dir, catalog: [entry] })
      expect((await store.list())[0]).toMatchObject({ id: 'cifar-10', status: 'available', channels: 3 })
      const info = await store.download('cifar-10')
      expect(info.status).toBe('ready')
      const data = await store.load('cifar-10')
      expect(data.train).toMatchObject({ count: 20, height: 32, width: 32, channels: 3 })
      expect(data.test.count).toBe(3)
      expect(Array.from(data.train.labels.subarray(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
      // Record 5 of the training set: red 5, green 55, blue 105 everywhere.
      expect(Array.from(data.train.images.subarray(5 * 3072, 5 * 3072 + 3))).toEqual([5, 55, 105])
      // A wrong md5 (a damaged download) leaves nothing behind.
      const bad = new DatasetStore({ dataDir: join(dir, 'other'), catalog: [{ ...entry, archive: { ...entry.archive, md5: '0'.repeat(32) } }] })
      await expect(bad.download('cifar-10')).rejects.toThrow(/md5 .* does not match/)
      expect((await bad.list())[0].status).toBe('error')
    } finally {
      server.close()
    }
  })

  it('imports the extracted batches (the folder or the one above it); a truncated batch is named', async () => {
    const root = join(dir, 'extracted', 'cifar-10-batches-bin')
    mkdirSync(root, { recursive: true })
    for (const [name, data] of Object.entries(members())) writeFileSync(join(dir, 'extracted', name), data)
    const store = new DatasetStore({ dataDir: join(dir, 'data') })
    const { info, report } = await store.importImages(join(dir, 'extracted'), 'my-cifar')
    expect(report).toBeNull()
    expect(info).toMatchObject({ id: 'my-cifar', classes: cifar10Classes, trainCount: 20, testCount: 3, channels: 3, style: 'photos' })
    writeFileSync(join(root, 'data_batch_3.bin'), batch(2, 0).subarray(0, 5000))
    await expect(store.importImages(root, 'cut')).rejects.toThrow(/data_batch_3\.bin: 5000 bytes is not a whole number of 3073-byte CIFAR records/)
    expect((await store.list()).map((d) => d.id)).not.toContain('cut')
  })
})
