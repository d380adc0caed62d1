// Files through web mode's HTTP endpoints, as the page uses them: a real server on 127.0.0.1, a real
// run store, real zips and IDX files. Export → one-time download → import gives back the same run;
// four IDX files uploaded become a dataset.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src/main/server'
import { RunStore } from '../../../src/main/services/runs'
import type { Reply } from '../../../src/shared/contract'
import type { DatasetInfo, RunExportLink, RunRecord } from '../../../src/shared/domain'
import { tempDir } from '../../helpers/hosts'
import { tmpfsUnavailable, withTmpfs } from '../../helpers/tmpfs'
import { createHttpRunFiles, MAX_CONCURRENT_UPLOADS } from '../../../src/main/transports/http-run-files'
import { CLASSES, config, confusion, epochRecord, writeCheckpoint } from '../runs/helpers'

const MAX_UPLOAD = 256 * 1024
const MAX_DATASET_UPLOAD = 64 * 1024
const fixtures = join(import.meta.dirname, '../../fixtures/data')
let dir: ReturnType<typeof tempDir>
let server: RunningServer
let base: string
/** What the page sends with its fetches: the token in a header (never a cookie) and its Origin. */
let auth: Record<string, string>
let origin: string

/** A finished two-epoch run with a best checkpoint, written through the real RunStore. */
function seedRun(dataDir: string): number {
  const store = RunStore.open(dataDir)
  try {
    const r = store.create(config({ epochs: 2 }), { name: 'kept run', classes: CLASSES, paramCount: 61706 })
    store.markStarted(r.id, { backend: 'tensorflow', device: 'cpu', libVersions: {} })
    for (let e = 1; e <= 2; e++)
      store.recordEpoch(r.id, epochRecord(e), confusion(), new Uint8Array(4), [{ kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(r.id), `b${e}`)) }])
    store.finish(r.id, { status: 'completed', bestEpoch: 2, test: { loss: 0.3, acc: 0.91, confusion: confusion(), precision: [], recall: [], predictions: new Uint8Array(4) } })
    return r.id
  } finally {
    store.close()
  }
}

function post(path: string, body?: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', body, headers: { ...auth, ...headers } })
}

let runId = 0
beforeAll(async () => {
  dir = tempDir()
  const dataDir = join(dir.path, 'data')
  runId = seedRun(dataDir)
  const web = join(dir.path, 'web')
  mkdirSync(web, { recursive: true })
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Conv Studio</title>')
  server = await startServer({ port: 0, dataDir, staticDir: web, maxUploadBytes: MAX_UPLOAD, maxDatasetUploadBytes: MAX_DATASET_UPLOAD })
  base = `http://127.0.0.1:${server.port}`
  origin = base
  auth = { 'x-conv-studio-token': server.token, Origin: origin }
})

afterAll(async () => {
  await server?.close()
  dir?.remove()
})

describe('run archives over HTTP (web mode)', () => {
  let archive: Uint8Array<ArrayBuffer>

  it('exports a run to a one-time download that is a valid archive', async () => {
    const reply = (await (await post(`/files/runs/${runId}/export`)).json()) as Reply<RunExportLink>
    expect(reply.ok).toBe(true)
    if (!reply.ok) return
    expect(reply.value.fileName).toBe(`conv-studio-run-${runId}.zip`)
    // A plain link (no token header): the one-time address is its own key.
    const res = await fetch(`${base}${reply.value.url}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="conv-studio-run-${runId}.zip"`)
    archive = new Uint8Array(await res.arrayBuffer())
    expect(archive.length).toBe(reply.value.bytes)
    expect([...archive.subarray(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04])
    const listing = execFileSync('python3', ['-c', 'import sys,zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', writeTemp('got.zip', archive)], { encoding: 'utf8' })
    expect(listing).toContain('manifest.json')
    // Taken once: the scratch copy is gone, and a second fetch says so.
    const again = await fetch(`${base}${reply.value.url}`)
    expect(again.status).toBe(404)
    expect(((await again.json()) as Reply<unknown>).ok).toBe(false)
    await expect.poll(() => readdirSync(join(dir.path, 'data', 'web-transfers')).length).toBe(0)
  })

  it('says why when the run does not exist', async () => {
    const reply = (await (await post('/files/runs/9999/export')).json()) as Reply<RunExportLink>
    expect(reply).toMatchObject({ ok: false, error: { code: 'not_found' } })
  })

  it('imports an uploaded archive as a new run with the same record', async () => {
    const reply = (await (await post('/files/runs/import', archive, { 'Content-Type': 'application/zip' })).json()) as Reply<RunRecord>
    expect(reply.ok).toBe(true)
    if (!reply.ok) return
    expect(reply.value.id).not.toBe(runId)
    expect(reply.value.name).toBe('kept run')
    expect(reply.value.tags).toContain('imported')
    expect(reply.value.testAcc).toBeCloseTo(0.91)
    const list = server.services.runs.list({ limit: 10, offset: 0 })
    expect(list.total).toBe(2)
    expect(readdirSync(join(dir.path, 'data', 'web-transfers'))).toEqual([])
  })

  it('refuses a corrupt, an empty and an oversized upload with a message, and imports nothing', async () => {
    const corrupt = archive.slice(0, archive.length >> 1)
    const bad = (await (await post('/files/runs/import', corrupt)).json()) as Reply<RunRecord>
    expect(bad.ok).toBe(false)
    if (!bad.ok) {
      expect(bad.error.message).toMatch(/^The file is not a valid Conv Studio run export/)
      expect(bad.error.message).not.toContain('web-transfers')
    }
    const empty = await post('/files/runs/import', new Uint8Array(0))
    expect(empty.status).toBe(400)
    expect(((await empty.json()) as Reply<unknown>)).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
    const huge = await post('/files/runs/import', new Uint8Array(MAX_UPLOAD + 1))
    expect(huge.status).toBe(413)
    expect(((await huge.json()) as Reply<unknown>)).toMatchObject({ ok: false, error: { code: 'too_large' } })
    // Without a declared length the limit holds while the bytes stream in.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 8; i++) c.enqueue(new Uint8Array(MAX_UPLOAD / 4))
        c.close()
      }
    })
    const streamed = await fetch(`${base}/files/runs/import`, { method: 'POST', body: chunks, headers: auth, duplex: 'half' } as RequestInit)
    expect(streamed.status).toBe(413)
    expect(server.services.runs.list({ limit: 10, offset: 0 }).total).toBe(2)
    expect(readdirSync(join(dir.path, 'data', 'web-transfers'))).toEqual([])
  })

  it.skipIf(tmpfsUnavailable !== null)(
    `says the disk is full when an upload does not fit, and keeps nothing${tmpfsUnavailable ? ` (skipped: ${tmpfsUnavailable})` : ''}`,
    withTmpfs(64, async (mnt) => {
      const files = createHttpRunFiles(server.services, { scratchDir: join(mnt, 'transfers'), maxUploadBytes: MAX_UPLOAD })
      const http = createServer((req, res) => void files.handle(req, res, new URL(req.url ?? '/', 'http://x').pathname))
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
      try {
        const port = (http.address() as AddressInfo).port
        const res = await fetch(`http://127.0.0.1:${port}/files/runs/import`, { method: 'POST', body: new Uint8Array(200 * 1024).fill(7) })
        expect(res.status).toBe(507)
        const reply = (await res.json()) as Reply<unknown>
        expect(reply).toMatchObject({ ok: false, error: { code: 'storage_error' } })
        if (!reply.ok) expect(reply.error.message).toMatch(/disk is full/)
        expect(readdirSync(join(mnt, 'transfers'))).toEqual([])
        expect(server.services.runs.list({ limit: 10, offset: 0 }).total).toBe(2)
      } finally {
        await new Promise((r) => http.close(r))
        files.close()
      }
    })
  )

  it('needs the token, our Origin for POST, and POST for what changes data', async () => {
    expect((await fetch(`${base}/files/runs/${runId}/export`, { method: 'POST', headers: { Origin: origin } })).status).toBe(401)
    expect((await post(`/files/runs/${runId}/export`, undefined, { Origin: 'http://evil.example' })).status).toBe(403)
    expect((await fetch(`${base}/files/runs/${runId}/export`, { headers: auth })).status).toBe(404)
    expect((await fetch(`${base}/files/runs/import`, { method: 'PUT', headers: auth })).status).toBe(405)
    expect((await fetch(`${base}/files/downloads/${'a'.repeat(24)}`)).status).toBe(404)
    expect(server.services.runs.list({ limit: 10, offset: 0 }).total).toBe(2)
  })
})

/** The fixture's IDX files as the page's FormData sends them. */
function idxForm(folder: 'tiny-gz' | 'tiny-raw', over: { title?: string; drop?: number; rename?: [string, string]; replace?: [string, Uint8Array] } = {}): FormData {
  const form = new FormData()
  const names = readdirSync(join(fixtures, folder)).sort()
  names.forEach((name, i) => {
    if (i === over.drop) return
    const bytes = over.replace?.[0] === name ? over.replace[1] : readFileSync(join(fixtures, folder, name))
    form.append('files', new Blob([new Uint8Array(bytes)]), over.rename?.[0] === name ? over.rename[1] : name)
  })
  if (over.title) form.append('title', over.title)
  return form
}

/** A body that sends a few bytes and then waits until `release` is called. */
function heldBody(): { body: ReadableStream<Uint8Array>; release(): void } {
  let release = () => {}
  const gate = new Promise<void>((r) => (release = r))
  let sent = false
  const body = new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!sent) {
        sent = true
        return c.enqueue(new Uint8Array(16).fill(1))
      }
      await gate
      c.close()
    }
  })
  return { body, release }
}

describe('the HTTP routes as the host (D3, D7, D12)', () => {
  const transfers = () => readdirSync(join(dir.path, 'data', 'web-transfers'))

  it('imports four uploaded IDX files as a dataset, and keeps no scratch copy', async () => {
    // Every window hears of it (the services publish datasets.changed), not only the uploader.
    const changed: string[] = []
    const unsubscribe = server.services.events.subscribe((event, payload) => {
      if (event === 'datasets.changed') changed.push((payload as { datasetId: string }).datasetId)
    })
    for (const folder of ['tiny-gz', 'tiny-raw'] as const) {
      const res = await post('/files/datasets/import', idxForm(folder, { title: `upload ${folder}` }))
      expect(res.status).toBe(200)
      const reply = (await res.json()) as Reply<DatasetInfo>
      expect(reply).toMatchObject({ ok: true, value: { id: `imported-upload-${folder}`, title: `upload ${folder}`, source: 'imported', status: 'ready', trainCount: 20, testCount: 10 } })
    }
    expect((await server.services.datasets.list()).map((d) => d.id)).toEqual(expect.arrayContaining(['imported-upload-tiny-gz', 'imported-upload-tiny-raw']))
    expect(changed).toEqual(['imported-upload-tiny-gz', 'imported-upload-tiny-raw'])
    unsubscribe()
    expect(transfers()).toEqual([])
  })

  it('refuses a broken, an incomplete, a badly named and an oversized dataset upload, naming files by their own names', async () => {
    const broken = (await (await post('/files/datasets/import', idxForm('tiny-raw', { replace: ['train-labels.idx1-ubyte', new Uint8Array([0, 0, 8, 1, 0, 0, 0, 99, 1])] }))).json()) as Reply<DatasetInfo>
    expect(broken).toMatchObject({ ok: false, error: { code: 'data_error' } })
    if (!broken.ok) {
      expect(broken.error.message).toMatch(/^train-labels\.idx1-ubyte/)
      expect(broken.error.message).not.toContain('web-transfers')
      expect(broken.error.message).not.toContain(dir.path)
    }
    const three = await post('/files/datasets/import', idxForm('tiny-gz', { drop: 0 }))
    expect(three.status).toBe(400)
    expect(await three.json()).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: expect.stringMatching(/four IDX files .*got 3/) } })
    const sly = await post('/files/datasets/import', idxForm('tiny-gz', { rename: ['train-images-idx3-ubyte.gz', '../../train-images-idx3-ubyte.gz'] }))
    expect(sly.status).toBe(400)
    expect(await sly.json()).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: expect.stringMatching(/not a usable IDX file name/) } })
    const big = await post('/files/datasets/import', idxForm('tiny-raw', { replace: ['train-images.idx3-ubyte', new Uint8Array(MAX_DATASET_UPLOAD)] }))
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ ok: false, error: { code: 'too_large' } })
    const notForm = await post('/files/datasets/import', new Uint8Array(10), { 'Content-Type': 'application/octet-stream' })
    expect(notForm.status).toBe(415)
    expect((await server.services.datasets.list()).filter((d) => d.source === 'imported')).toHaveLength(2)
    expect(transfers()).toEqual([])
  })

  it(`takes at most ${MAX_CONCURRENT_UPLOADS} uploads at once and says why to the next one`, async () => {
    const held = Array.from({ length: MAX_CONCURRENT_UPLOADS }, () => heldBody())
    const pending = held.map((h) => fetch(`${base}/files/runs/import`, { method: 'POST', body: h.body, headers: auth, duplex: 'half' } as RequestInit))
    // An empty upload answers at once: 400 while there is room, 503 once the held ones are in.
    await expect.poll(async () => (await post('/files/runs/import', new Uint8Array(0))).status).toBe(503)
    const refused = await post('/files/datasets/import', idxForm('tiny-gz'))
    expect(refused.status).toBe(503)
    expect(await refused.json()).toMatchObject({ ok: false, error: { code: 'unavailable', message: expect.stringMatching(/uploads are already in progress/) } })
    for (const h of held) h.release()
    for (const res of await Promise.all(pending)) expect(((await res.json()) as Reply<unknown>).ok).toBe(false)
    expect((await post('/files/runs/import', new Uint8Array(0))).status).toBe(400)
  })

  it('imports uploaded PyTorch weights onto a preset, evaluated on a listed dataset; a path or unknown id as the dataset is refused', async () => {
    const ds = (await (await post('/files/datasets/import', idxForm('tiny-raw', { title: 'for weights' }))).json()) as Reply<DatasetInfo>
    expect(ds.ok).toBe(true)
    const weights = readFileSync(join(import.meta.dirname, '../../fixtures/interop/lenet5-modern.pth'))
    const send = (q: string, body: Uint8Array = weights) => post(`/files/models/import?${q}`, new Blob([new Uint8Array(body)]), { 'Content-Type': 'application/octet-stream' })
    const res = await send('model=lenet5-modern&dataset=imported-for-weights&name=from%20torch&fileName=le_net5_best_model.pth')
    expect(res.status).toBe(200)
    const reply = (await res.json()) as Reply<RunRecord>
    expect(reply).toMatchObject({ ok: true, value: { name: 'from torch', status: 'completed', tags: ['imported'], dataset: 'imported-for-weights' } })
    if (reply.ok) {
      expect(reply.value.testAcc).not.toBeNull()
      // The notes name the person's file, not where the server kept its copy.
      expect(reply.value.notes).toMatch(/^Imported from le_net5_best_model\.pth, uploaded from a browser window/)
      expect(reply.value.notes).not.toContain(dir.path)
    }
    // A page must not name a folder on the server, nor a name the services do not list.
    for (const [dataset, status] of [['/etc', 400], ['..%2F..%2Fetc', 400], ['src', 404]] as const) {
      const r = await send(`model=lenet5-modern&dataset=${dataset}`)
      expect(r.status, dataset).toBe(status)
    }
    // A pickle that calls os.system is refused without naming where the server kept the upload.
    const hostile = (await (await send('model=lenet5-modern&dataset=imported-for-weights', readFileSync(join(import.meta.dirname, '../../fixtures/interop/os-system.pth')))).json()) as Reply<RunRecord>
    expect(hostile).toMatchObject({ ok: false })
    if (!hostile.ok) {
      expect(hostile.error.message).toMatch(/posix\.system/)
      expect(hostile.error.message).not.toContain(dir.path)
    }
    expect(transfers()).toEqual([])
  }, 120_000)

  it('does not show the server scratch path when an export fails', async () => {
    const scratch = join(dir.path, 'own-transfers')
    const files = createHttpRunFiles(server.services, { scratchDir: scratch })
    // The scratch folder is replaced by a file: writing the export there fails.
    rmSync(scratch, { recursive: true })
    writeFileSync(scratch, 'not a folder')
    const http = createServer((req, res) => void files.handle(req, res, new URL(req.url ?? '/', 'http://x').pathname))
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    try {
      const port = (http.address() as AddressInfo).port
      const reply = (await (await fetch(`http://127.0.0.1:${port}/files/runs/${runId}/export`, { method: 'POST' })).json()) as Reply<RunExportLink>
      expect(reply).toMatchObject({ ok: false, error: { code: 'storage_error' } })
      if (!reply.ok) {
        expect(reply.error.message).not.toContain(scratch)
        expect(reply.error.message).not.toContain(dir.path)
        expect(reply.error.message).toMatch(/^Could not write the export file/)
      }
    } finally {
      await new Promise((r) => http.close(r))
      files.close()
    }
  })
})

function writeTemp(name: string, bytes: Uint8Array): string {
  const path = join(dir.path, name)
  writeFileSync(path, bytes)
  if (!existsSync(path)) throw new Error('not written')
  return path
}
