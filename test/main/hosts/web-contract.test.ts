// The contract over the real WebSocket transport: a real server on 127.0.0.1 (port 0), real training
// processes, a real run store. One server for the file; runs train LeNet-5 on the bundled MNIST sample.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src/main/server'
import { tempDir, tinyConfig, upgradeStatus, waitForStatus, WireClient } from '../../helpers/hosts'

let dir: ReturnType<typeof tempDir>
let server: RunningServer
let client: WireClient
let wsUrl: string
let origin: string

beforeAll(async () => {
  dir = tempDir()
  const web = join(dir.path, 'web')
  mkdirSync(join(web, 'assets'), { recursive: true })
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Conv Studio</title><script type="module" src="./assets/app.js"></script>')
  writeFileSync(join(web, 'assets', 'app.js'), 'console.log("app")')
  server = await startServer({ port: 0, dataDir: join(dir.path, 'data'), staticDir: web })
  wsUrl = `ws://127.0.0.1:${server.port}/ws?token=${server.token}`
  origin = `http://127.0.0.1:${server.port}`
  client = await WireClient.connect(wsUrl, { Origin: origin })
})

afterAll(async () => {
  client?.close()
  await server?.close()
  dir?.remove()
})

describe('contract over the WebSocket', () => {
  let completedId = 0
  let cancelledId = 0

  it('trains a tiny run and pushes its events in order', async () => {
    const run = await client.value('training.start', { config: tinyConfig(), name: 'tiny' })
    expect(run.status).toBe('queued')
    expect(run.name).toBe('tiny')
    completedId = run.id
    const done = await waitForStatus(client, run.id, ['completed', 'failed', 'cancelled'])
    expect(done.payload.error).toBeNull()
    expect(done.payload.status).toBe('completed')

    const kinds = client.eventsOf(run.id).map((e) => (e.event === 'training.status' ? `status:${String(e.payload.status)}` : e.event))
    expect(kinds[0]).toBe('status:queued')
    expect(kinds[1]).toBe('status:running')
    const firstBatch = kinds.indexOf('training.batch')
    const epoch = kinds.indexOf('training.epoch')
    expect(firstBatch).toBeGreaterThan(1)
    expect(epoch).toBeGreaterThan(firstBatch)
    expect(kinds[kinds.length - 1]).toBe('status:completed')
    expect(kinds.filter((k) => k === 'training.epoch')).toHaveLength(1)

    const record = await client.value('runs.get', { runId: run.id })
    expect(record.status).toBe('completed')
    expect(record.epochsDone).toBe(1)
    expect(record.backend).toBeTruthy()
    expect(record.testAcc).toBeGreaterThan(0)
    const curves = await client.value('runs.curves', { runId: run.id })
    expect(curves.epochs).toHaveLength(1)
    expect(curves.steps.length).toBeGreaterThanOrEqual(5)
  })

  it('queues a second run, shows the active run with what it logged so far, then cancels both', async () => {
    const run = await client.value('training.start', { config: tinyConfig({ epochs: 50, trainLimit: 4096 }) })
    cancelledId = run.id
    // One run trains at a time (maxConcurrent 1): the next one waits in the queue.
    const waiting = await client.value('training.start', { config: tinyConfig() })
    await client.waitFor((e) => e.event === 'training.batch' && e.payload.runId === run.id)
    const active = await client.value('training.active')
    const mine = active.find((a) => a.run.id === run.id)
    expect(mine?.run.status).toBe('running')
    expect(mine?.steps.length).toBeGreaterThan(0)
    expect(active.find((a) => a.run.id === waiting.id)?.run.status).toBe('queued')
    expect(await client.value('training.cancel', { runId: waiting.id })).toMatchObject({ status: 'cancelled' })
    expect(client.eventsOf(waiting.id).map((e) => e.payload.status)).toEqual(['queued', 'cancelled'])
    expect((await client.value('runs.get', { runId: waiting.id })).startedAt).toBeNull()
    // Let it train a little longer to see the batch events thinned to at most 10 per second.
    await new Promise((r) => setTimeout(r, 1500))

    const t0 = Date.now()
    const status = await client.value('training.cancel', { runId: run.id })
    const elapsed = Date.now() - t0
    expect(status).toMatchObject({ runId: run.id, status: 'cancelled' })
    // Reported, not asserted (tests assert no timings); the grace-then-kill path is tested in training-host.test.ts.
    console.log(`[hosts] cancel of a training run answered in ${elapsed} ms`)
    await waitForStatus(client, run.id, ['cancelled'])
    const batchTimes = client.eventsOf(run.id).filter((e) => e.event === 'training.batch').map((e) => e.at)
    for (let i = 0; i + 11 < batchTimes.length; i++) expect(batchTimes[i + 11] - batchTimes[i]).toBeGreaterThanOrEqual(1000)
    const steps = (await client.value('runs.curves', { runId: run.id })).totalSteps
    expect(steps).toBeGreaterThanOrEqual(batchTimes.length)
    expect(await client.value('training.active')).toEqual([])
    const again = await client.call('training.cancel', { runId: run.id })
    expect(again).toMatchObject({ ok: false, error: { code: 'conflict' } })
  })

  it('lists both runs with the right statuses', async () => {
    const list = await client.value('runs.list', {})
    const byId = new Map(list.rows.map((r) => [r.id, r.status]))
    expect(byId.get(completedId)).toBe('completed')
    expect(byId.get(cancelledId)).toBe('cancelled')
    expect(list.total).toBe(3)
    const only = await client.value('runs.list', { status: 'completed' })
    expect(only.rows.map((r) => r.id)).toEqual([completedId])
  })

  it('probes the backends in a separate process', async () => {
    const report = await client.value('backends.report', {})
    expect(report.candidates.map((c) => c.name)).toContain('cpu')
    expect(report.candidates.find((c) => c.name === report.chosen)?.available).toBe(true)
    expect(report.reason.length).toBeGreaterThan(0)
  })

  it('opens a confusion cell of the finished run to its images', async () => {
    const cm = await client.value('runs.confusion', { runId: completedId, epoch: 1 })
    let cell: [number, number] = [0, 0]
    cm.matrix.forEach((row, t) => row.forEach((n, p) => (n > 0 ? (cell = [t, p]) : null)))
    const examples = await client.value(
      'runs.cellExamples',
      { runId: completedId, epoch: 1, trueClass: cell[0], predictedClass: cell[1], limit: 5 }
    )
    expect(examples.length).toBe(Math.min(5, cm.matrix[cell[0]][cell[1]]))
    for (const ex of examples) {
      expect(ex).toMatchObject({ trueClass: cell[0], predictedClass: cell[1], width: 28 })
      expect(Buffer.from(ex.pixels, 'base64')).toHaveLength(28 * 28)
      if (ex.probabilities) {
        expect(ex.probabilities).toHaveLength(10)
        expect(ex.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3)
      }
    }
  })

  it('marks a run failed with the reason when its training process is killed, and keeps serving', async () => {
    const run = await client.value('training.start', { config: tinyConfig({ epochs: 50, trainLimit: 4096 }) })
    await client.waitFor((e) => e.event === 'training.batch' && e.payload.runId === run.id)
    const pid = server.services.training.childPid(run.id)
    expect(pid).toBeGreaterThan(0)
    process.kill(pid as number, 'SIGKILL')
    const failed = await waitForStatus(client, run.id, ['failed', 'interrupted', 'completed', 'cancelled'])
    expect(failed.payload.status).toBe('failed')
    expect(String(failed.payload.error)).toMatch(/killed by SIGKILL/)
    const info = await client.value('app.info')
    expect(info.host).toBe('web')
    expect(info.version).toBe(JSON.parse(readFileSync(join(import.meta.dirname, '../../../package.json'), 'utf8')).version)
    expect((await client.value('runs.get', { runId: run.id })).error).toMatch(/SIGKILL/)
  })
})

describe('web-mode security', () => {
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${server.port}${path}`, { headers })

  it('serves the public page and assets with a strict CSP and no cookie; the files routes need the token', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port} wss://127.0.0.1:${server.port};`)
    expect(page.headers.get('set-cookie')).toBeNull()
    expect((await get(`/?token=${server.token}`)).headers.get('set-cookie')).toBeNull()
    const asset = await get('/assets/app.js')
    expect(asset.status).toBe(200)
    expect(await asset.text()).toContain('console.log')
    expect((await get('/assets/..%2f..%2f..%2f..%2fetc%2fpasswd')).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${server.port}/?token=${server.token}`, { method: 'POST' })).status).toBe(405)
    const post = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${server.port}/files/runs/1/export`, { method: 'POST', headers: { Origin: origin, ...headers } })
    expect((await post({})).status).toBe(401)
    expect((await post({ 'x-conv-studio-token': 'wrong' })).status).toBe(401)
    expect((await post({ 'x-conv-studio-token': server.token })).status).toBe(200)
  })

  it('refuses a socket without the token, with a wrong token, or from another Origin', async () => {
    const base = `ws://127.0.0.1:${server.port}/ws`
    expect(await upgradeStatus(base, { Origin: origin })).toBe(401)
    expect(await upgradeStatus(`${base}?token=nope`, { Origin: origin })).toBe(401)
    expect(await upgradeStatus(wsUrl, { Origin: 'http://evil.example' })).toBe(403)
    expect(await upgradeStatus(wsUrl)).toBe(403)
    expect(await upgradeStatus(wsUrl, { Origin: origin })).toBe(101)
  })

  it('answers malformed frames, unknown methods and bad arguments with typed errors and keeps serving', async () => {
    const malformed = await client.sendRaw('{"id": 901, "method": ', 901)
    expect(malformed).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: 'The message is not valid JSON.' } })
    const unknown = await client.call('runs.explode', {})
    expect(unknown).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
    if (!unknown.ok) expect(unknown.error.message).toMatch(/Unknown method 'runs.explode'/)
    const bad = await client.call('runs.get', { runId: -3 })
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
    if (!bad.ok) {
      expect(bad.error.message).toMatch(/runId/)
      expect(bad.error.message).not.toMatch(/\n\s+at /)
    }
    const extra = await client.call('app.info', { surprise: 1 })
    expect(extra).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
    const missing = await client.call('runs.get', { runId: 99999 })
    expect(missing).toMatchObject({ ok: false, error: { code: 'not_found' } })
    expect(await client.call('app.info')).toMatchObject({ ok: true })
  })

  it('caps the requests one socket may have in flight, and recovers', async () => {
    const flood = await WireClient.connect(wsUrl, { Origin: origin })
    const replies = await Promise.all(Array.from({ length: 200 }, () => flood.call('runs.list', {})))
    const refused = replies.filter((r) => !r.ok)
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused) expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } })
    expect(replies.filter((r) => r.ok).length).toBeGreaterThanOrEqual(32)
    expect(await flood.call('app.info')).toMatchObject({ ok: true })
    flood.close()
  })

  it('refuses an oversized message with too_large, and survives one past the hard limit', async () => {
    const big = `{"id": 902, "method": "app.info", "args": {"pad": "${'x'.repeat(42 * 1024 * 1024)}"}}`
    const reply = await client.sendRaw(big, 902)
    expect(reply).toMatchObject({ ok: false, error: { code: 'too_large' } })
    expect(await client.call('app.info')).toMatchObject({ ok: true })

    const other = await WireClient.connect(wsUrl, { Origin: origin })
    const closed = new Promise<number>((resolve) => other.ws.once('close', (code) => resolve(code)))
    other.ws.send('x'.repeat(65 * 1024 * 1024))
    expect(await closed).toBe(1009)
    expect(await client.call('app.info')).toMatchObject({ ok: true })
  })
})
