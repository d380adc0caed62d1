// Run archives through web mode's HTTP endpoints, as the page uses them: a real server on 127.0.0.1,
// a real run store, real zips. Export → one-time download → import gives back the same run.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src/main/server'
import { RunStore } from '../../../src/main/services/runs'
import type { Reply } from '../../../src/shared/contract'
import type { RunExportLink, RunRecord } from '../../../src/shared/domain'
import { tempDir } from '../../helpers/hosts'
import { tmpfsUnavailable, withTmpfs } from '../../helpers/tmpfs'
import { createHttpRunFiles } from '../../../src/main/transports/http-run-files'
import { CLASSES, config, confusion, epochRecord, writeCheckpoint } from '../runs/helpers'

const MAX_UPLOAD = 256 * 1024
let dir: ReturnType<typeof tempDir>
let server: RunningServer
let base: string
let cookie: string
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
  return fetch(`${base}${path}`, { method: 'POST', body, headers: { Cookie: cookie, Origin: origin, ...headers } })
}

let runId = 0
beforeAll(async () => {
  dir = tempDir()
  const dataDir = join(dir.path, 'data')
  runId = seedRun(dataDir)
  const web = join(dir.path, 'web')
  mkdirSync(web, { recursive: true })
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Conv Studio</title>')
  server = await startServer({ port: 0, dataDir, staticDir: web, maxUploadBytes: MAX_UPLOAD })
  base = `http://127.0.0.1:${server.port}`
  origin = base
  const page = await fetch(`${base}/?token=${server.token}`)
  cookie = (page.headers.get('set-cookie') ?? '').split(';')[0]
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
    const res = await fetch(`${base}${reply.value.url}`, { headers: { Cookie: cookie } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="conv-studio-run-${runId}.zip"`)
    archive = new Uint8Array(await res.arrayBuffer())
    expect(archive.length).toBe(reply.value.bytes)
    expect([...archive.subarray(0, 4)]).toEqual([0x50, 0x4b, 0x03, 0x04])
    const listing = execFileSync('python3', ['-c', 'import sys,zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))', writeTemp('got.zip', archive)], { encoding: 'utf8' })
    expect(listing).toContain('manifest.json')
    // Taken once: the scratch copy is gone, and a second fetch says so.
    const again = await fetch(`${base}${reply.value.url}`, { headers: { Cookie: cookie } })
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
    const streamed = await fetch(`${base}/files/runs/import`, { method: 'POST', body: chunks, headers: { Cookie: cookie, Origin: origin }, duplex: 'half' } as RequestInit)
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
    expect((await fetch(`${base}/files/runs/${runId}/export`, { headers: { Cookie: cookie } })).status).toBe(404)
    expect((await fetch(`${base}/files/runs/import`, { method: 'PUT', headers: { Cookie: cookie, Origin: origin } })).status).toBe(405)
    expect(server.services.runs.list({ limit: 10, offset: 0 }).total).toBe(2)
  })
})

function writeTemp(name: string, bytes: Uint8Array): string {
  const path = join(dir.path, name)
  writeFileSync(path, bytes)
  if (!existsSync(path)) throw new Error('not written')
  return path
}
