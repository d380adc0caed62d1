// Downloads against a real HTTP server on 127.0.0.1 that can cut connections, answer 404 and
// serve wrong bytes; no test touches the internet.
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createRng } from '../../../src/core/data/batches'
import { StudioError } from '../../../src/shared/contract'
import type { DownloadProgress } from '../../../src/shared/domain'
import { clearDatasetMemory, DatasetStore } from '../../../src/main/services/datasets'
import { catalog, type CatalogEntry } from '../../../src/main/services/datasets-catalog'
import { downloadFile } from '../../../src/main/services/datasets-download'

const fixtures = join(__dirname, '../../fixtures/data/tiny-gz')
const names = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex')
const rng = createRng(5)
const big = Uint8Array.from({ length: 300_000 }, () => Math.floor(rng() * 256))

const files = new Map<string, Uint8Array>(names.map((n) => [`/a/${n}`, new Uint8Array(readFileSync(join(fixtures, n)))]))
files.set('/a/big.bin', big)
files.set('/b/big.bin', big)
/** Paths whose next full (non-range) request is cut half way. */
const cutNext = new Set<string>()
const requests: { path: string; range: string | null }[] = []

let server: Server
let base: string
beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? ''
    requests.push({ path, range: req.headers.range ?? null })
    const body = files.get(path)
    if (!body) {
      res.writeHead(404).end('not here')
      return
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    if (m) {
      const start = Number(m[1])
      if (start >= body.length) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end()
        return
      }
      res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` })
      res.end(Buffer.from(body.subarray(start)))
      return
    }
    res.writeHead(200, { 'Content-Length': body.length })
    if (cutNext.delete(path)) {
      res.write(Buffer.from(body.subarray(0, body.length >> 1)), () => res.socket?.destroy())
      return
    }
    res.end(Buffer.from(body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-dl-'))
  requests.length = 0
  cutNext.clear()
  clearDatasetMemory()
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

async function rejection(p: Promise<unknown>): Promise<StudioError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(StudioError)
    return err as StudioError
  }
  throw new Error('expected a rejection')
}

const tinyEntry: CatalogEntry = {
  id: 'tiny',
  title: 'Tiny',
  style: 'digits',
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  source: 'download',
  note: null,
  trainCount: 20,
  testCount: 10,
  imageSize: 28,
  download: {
    mirrors: ['http://127.0.0.1:9/never-used/'],
    files: {
      trainImages: { name: names[0], md5: md5(files.get(`/a/${names[0]}`)!) },
      trainLabels: { name: names[1], md5: md5(files.get(`/a/${names[1]}`)!) },
      testImages: { name: names[2], md5: md5(files.get(`/a/${names[2]}`)!) },
      testLabels: { name: names[3], md5: md5(files.get(`/a/${names[3]}`)!) }
    }
  }
}

describe('downloadFile', () => {
  it('resumes a cut connection with a Range request from the .part file', async () => {
    cutNext.add('/a/big.bin')
    const events: DownloadProgress[] = []
    const dest = join(dir, 'big.bin')
    await downloadFile({
      datasetId: 'x', name: 'big.bin', md5: md5(big), mirrors: [`${base}/a/`], dest, part: join(dir, 'dl', 'big.bin.part'),
      onProgress: (p) => events.push(p), progressIntervalMs: 0
    })
    expect(requests.map((r) => r.range)).toEqual([null, `bytes=${big.length >> 1}-`])
    expect(md5(readFileSync(dest))).toBe(md5(big))
    expect(existsSync(join(dir, 'dl', 'big.bin.part'))).toBe(false)
    expect(events.map((e) => e.phase).slice(-2)).toEqual(['verifying', 'done'])
    expect(events.filter((e) => e.phase === 'downloading').every((e) => e.totalBytes === big.length)).toBe(true)
  })

  it('keeps the .part of a failed download and resumes it on the next call', async () => {
    cutNext.add('/a/big.bin')
    const opts = { datasetId: 'x', name: 'big.bin', md5: md5(big), mirrors: [`${base}/a/`], dest: join(dir, 'big.bin'), part: join(dir, 'big.bin.part'), attempts: 1 }
    const err = await rejection(downloadFile(opts))
    expect(err.code).toBe('unavailable')
    expect(existsSync(opts.dest)).toBe(false)
    expect(statSync(opts.part).size).toBe(big.length >> 1)
    await downloadFile(opts)
    expect(requests.at(-1)!.range).toBe(`bytes=${big.length >> 1}-`)
    expect(md5(readFileSync(opts.dest))).toBe(md5(big))
  })

  it('moves on to the next mirror after a 404', async () => {
    const dest = join(dir, 'big.bin')
    await downloadFile({ datasetId: 'x', name: 'big.bin', md5: md5(big), mirrors: [`${base}/missing/`, `${base}/b/`], dest, part: `${dest}.part` })
    expect(requests.map((r) => r.path)).toEqual(['/missing/big.bin', '/b/big.bin'])
    const err = await rejection(downloadFile({ datasetId: 'x', name: 'nope.bin', md5: 'x', mirrors: [`${base}/a/`], dest, part: `${dest}.part` }))
    expect(err.code).toBe('unavailable')
    expect(err.message).toContain('HTTP 404')
  })
})

describe('DatasetStore.download', () => {
  it('downloads, verifies and then loads a dataset, with progress per file', async () => {
    const events: DownloadProgress[] = []
    const store = new DatasetStore({ dataDir: dir, catalog: [tinyEntry], mirrors: { tiny: [`${base}/a/`] }, onProgress: (p) => events.push(p) })
    expect((await store.list())[0].status).toBe('available')
    const info = await store.download('tiny')
    expect(info.status).toBe('ready')
    expect(events.filter((e) => e.phase === 'done').map((e) => e.file)).toEqual(names)
    expect(events.every((e) => e.datasetId === 'tiny')).toBe(true)
    const data = await store.load('tiny')
    expect([data.train.count, data.test.count]).toEqual([20, 10])
    expect(readdirSync(join(dir, 'downloads', 'tiny'))).toEqual([])
  })

  it('never uses a download whose md5 does not match (real MNIST md5s, wrong bytes)', async () => {
    const events: DownloadProgress[] = []
    const store = new DatasetStore({ dataDir: dir, mirrors: { mnist: [`${base}/a/`] }, onProgress: (p) => events.push(p) })
    const err = await rejection(store.download('mnist'))
    expect(err.code).toBe('data_error')
    expect(err.message).toMatch(/train-images-idx3-ubyte\.gz.*md5 [0-9a-f]{32} does not match the expected f68b3c2dcbeaaa9fbdd348bbdeb94873/)
    expect(existsSync(join(dir, 'datasets', 'mnist'))).toBe(false)
    expect(readdirSync(join(dir, 'downloads', 'mnist'))).toEqual([])
    expect(events.at(-1)!.phase).toBe('error')
    const listed = (await store.list()).find((d) => d.id === 'mnist')!
    expect(listed.status).toBe('error')
    expect(listed.note).toContain('md5')
    expect((await rejection(store.load('mnist'))).code).toBe('unavailable')
  })

  it('knows what it cannot download', async () => {
    const store = new DatasetStore({ dataDir: dir })
    expect((await rejection(store.download('nope'))).code).toBe('not_found')
    expect((await store.download('mnist-sample')).status).toBe('ready')
    expect(catalog.filter((e) => e.download).map((e) => e.id)).toEqual(['mnist', 'fashion-mnist-full', 'kmnist'])
  })
})

describe('cancelling', () => {
  it('stops on the signal, keeps the .part and says so', async () => {
    const ctl = new AbortController()
    ctl.abort()
    const err = await rejection(
      downloadFile({ datasetId: 'x', name: 'big.bin', md5: md5(big), mirrors: [`${base}/a/`], dest: join(dir, 'big.bin'), part: join(dir, 'big.bin.part'), signal: ctl.signal })
    )
    expect(err.message).toMatch(/cancelled/)
    expect(existsSync(join(dir, 'big.bin'))).toBe(false)
  })
})
