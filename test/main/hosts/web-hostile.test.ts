// Web mode against hostile requests, over real sockets to a real server on 127.0.0.1: malformed
// request targets and cookies (each followed by a good request: the server must still answer),
// foreign Host headers, the token kept out of cookies, the socket cap, and the host-only methods a
// token holder must not reach.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type RunningServer } from '../../../src/main/server'
import { MAX_SOCKETS } from '../../../src/main/transports/websocket'
import { MAX_CHILD_JOBS } from '../../../src/main/transports/window-calls'
import { tempDir, tinyConfig, upgradeStatus, WireClient } from '../../helpers/hosts'

let dir: ReturnType<typeof tempDir>
let server: RunningServer
let client: WireClient
let origin: string
let wsUrl: string

beforeAll(async () => {
  dir = tempDir()
  const web = join(dir.path, 'web')
  mkdirSync(web, { recursive: true })
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Conv Studio</title>')
  server = await startServer({ port: 0, dataDir: join(dir.path, 'data'), staticDir: web })
  origin = `http://127.0.0.1:${server.port}`
  wsUrl = `ws://127.0.0.1:${server.port}/ws?token=${server.token}`
  client = await WireClient.connect(wsUrl, { Origin: origin })
})

afterAll(async () => {
  client?.close()
  await server?.close()
  dir?.remove()
})

/** Sends `head` (request line and headers, without the blank line) as raw bytes; resolves with the whole answer. */
function raw(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(server.port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`no answer to ${JSON.stringify(head.slice(0, 60))}`))
    }, 10_000)
    sock.setEncoding('latin1')
    sock.on('data', (d: string) => (got += d))
    sock.on('error', reject)
    sock.on('close', () => {
      clearTimeout(timer)
      resolve(got)
    })
    sock.write(head + '\r\n\r\n')
  })
}

function statusOf(answer: string): number {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(answer)
  return m ? Number(m[1]) : 0
}

const host = () => `Host: 127.0.0.1:${server.port}`
const upgradeHeaders = () => `${host()}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: ${origin}`

/** After each hostile request: the page and a contract call still answer. */
async function stillServing(): Promise<void> {
  expect(statusOf(await raw(`GET /?token=${server.token} HTTP/1.1\r\n${host()}\r\nConnection: close`))).toBe(200)
  expect(await client.call('app.info')).toMatchObject({ ok: true })
}

describe('malformed requests get a 4xx and the server keeps serving (D1)', () => {
  const targets = ['//', '///', '//a:b@', 'http://x:99999/', '/\\\\evil.example/']
  for (const target of targets) {
    it(`GET ${target}`, async () => {
      const status = statusOf(await raw(`GET ${target} HTTP/1.1\r\n${host()}\r\nConnection: close`))
      expect(status).toBeGreaterThanOrEqual(400)
      expect(status).toBeLessThan(500)
      await stillServing()
    })
    it(`upgrade to ${target}`, async () => {
      const status = statusOf(await raw(`GET ${target} HTTP/1.1\r\n${upgradeHeaders()}`))
      expect(status).toBeGreaterThanOrEqual(400)
      expect(status).toBeLessThan(500)
      await stillServing()
    })
  }
  for (const cookie of ['conv_studio_token=%', 'conv_studio_token=%E0%A4%A', `conv_studio_token_${'x'}=%`]) {
    it(`Cookie: ${cookie}`, async () => {
      const page = await raw(`GET /index.html HTTP/1.1\r\n${host()}\r\nCookie: ${cookie}\r\nConnection: close`)
      expect(statusOf(page)).toBeLessThan(500)
      const files = statusOf(await raw(`POST /files/runs/1/export HTTP/1.1\r\n${host()}\r\nOrigin: ${origin}\r\nCookie: ${cookie}\r\nContent-Length: 0\r\nConnection: close`))
      expect(files).toBe(401)
      await stillServing()
    })
    it(`upgrade with Cookie: ${cookie}`, async () => {
      expect(statusOf(await raw(`GET /ws HTTP/1.1\r\n${upgradeHeaders()}\r\nCookie: ${cookie}`))).toBe(401)
      await stillServing()
    })
  }
})

describe('the token stays out of cookies (D6)', () => {
  it('sets no cookie, and a cookie holding the right token opens nothing', async () => {
    const page = await fetch(`${origin}/?token=${server.token}`)
    expect(page.status).toBe(200)
    expect(page.headers.get('set-cookie')).toBeNull()
    for (const name of ['conv_studio_token', `conv_studio_token_${server.port}`]) {
      const cookie = `${name}=${server.token}`
      expect((await fetch(`${origin}/files/runs/1/export`, { method: 'POST', headers: { Cookie: cookie, Origin: origin } })).status).toBe(401)
      expect(await upgradeStatus(`ws://127.0.0.1:${server.port}/ws`, { Origin: origin, Cookie: cookie })).toBe(401)
    }
    // The header the page's fetches use does open it.
    const ok = await fetch(`${origin}/files/runs/1/export`, { method: 'POST', headers: { 'x-conv-studio-token': server.token, Origin: origin } })
    expect(ok.status).toBe(200)
  })
})

describe('the Host header (D9)', () => {
  it('refuses a foreign Host (DNS rebinding) for the page, the files and the socket', async () => {
    const evil = `Host: evil.example:${server.port}`
    expect(statusOf(await raw(`GET /?token=${server.token} HTTP/1.1\r\n${evil}\r\nConnection: close`))).toBe(421)
    expect(statusOf(await raw(`POST /files/runs/1/export?token=${server.token} HTTP/1.1\r\n${evil}\r\nOrigin: http://evil.example:${server.port}\r\nContent-Length: 0\r\nConnection: close`))).toBe(421)
    expect(statusOf(await raw(`GET /ws?token=${server.token} HTTP/1.1\r\n${upgradeHeaders().replace(host(), evil)}`))).toBe(421)
    await stillServing()
  })

  it('never copies a hostile Host into the CSP', async () => {
    const answer = await raw(`GET /?token=${server.token} HTTP/1.1\r\nHost: a; script-src * 'unsafe-inline'\r\nConnection: close`)
    expect(statusOf(answer)).toBeGreaterThanOrEqual(400)
    expect(answer).not.toContain('unsafe-inline')
    expect(answer).not.toMatch(/script-src \*/)
    await stillServing()
  })

  it('answers to its own names on any port (an ssh -L tunnel), with connect-src built from the validated Host', async () => {
    for (const name of [`localhost:${server.port}`, `LOCALHOST:${server.port}`, '127.0.0.1:9000', `[::1]:${server.port}`]) {
      const answer = await raw(`GET / HTTP/1.1\r\nHost: ${name}\r\nConnection: close`)
      expect(statusOf(answer)).toBe(200)
      const csp = /content-security-policy: (.*)\r\n/i.exec(answer)?.[1] ?? ''
      expect(csp).toContain(`connect-src 'self' ws://${name.toLowerCase()} wss://${name.toLowerCase()};`)
    }
  })
})

describe('limits (D12)', () => {
  it(`accepts at most ${MAX_SOCKETS} sockets at once, with a reason, and takes more once some close`, async () => {
    const extra: WireClient[] = []
    try {
      // `client` is already open.
      for (let i = 1; i < MAX_SOCKETS; i++) extra.push(await WireClient.connect(wsUrl, { Origin: origin }))
      const refused = await raw(`GET /ws?token=${server.token} HTTP/1.1\r\n${upgradeHeaders()}`)
      expect(statusOf(refused)).toBe(503)
      expect(refused).toMatch(/connections open/)
      expect(await client.call('app.info')).toMatchObject({ ok: true })
      const closed = new Promise((r) => extra[0].ws.once('close', r))
      extra.shift()?.close()
      await closed
      await expect.poll(() => upgradeStatus(wsUrl, { Origin: origin })).toBe(101)
    } finally {
      for (const c of extra) c.close()
    }
  })

  it(`runs at most ${MAX_CHILD_JOBS} backend probes at once for windows`, async () => {
    const replies = await Promise.all(Array.from({ length: MAX_CHILD_JOBS + 2 }, () => client.call('backends.report', { refresh: true })))
    const refused = replies.filter((r) => !r.ok)
    expect(refused).toHaveLength(2)
    for (const r of refused) expect(r).toMatchObject({ ok: false, error: { code: 'unavailable', message: expect.stringMatching(/already running/) } })
    expect(replies.filter((r) => r.ok)).toHaveLength(MAX_CHILD_JOBS)
    // The cap is on what runs at once: the next one is served.
    expect(await client.call('backends.report', {})).toMatchObject({ ok: true })
  })
})

describe('path-taking methods are host-only (D3)', () => {
  it('refuses runs.export, runs.import and datasets.import over the socket even with the token', async () => {
    const target = join(dir.path, 'written-by-a-page.zip')
    const calls: [string, unknown][] = [
      ['runs.export', { runId: 1, path: target }],
      ['runs.import', { path: '/etc/passwd' }],
      ['datasets.import', { path: '/root' }]
    ]
    for (const [method, args] of calls) {
      const reply = await client.call(method, args)
      expect(reply).toMatchObject({ ok: false, error: { code: 'unauthorized' } })
      if (!reply.ok) expect(reply.error.message).toMatch(/only the app itself/)
    }
    expect(existsSync(target)).toBe(false)
  })

  it('refuses a folder path as the dataset of training.start, and lists no folder', async () => {
    for (const dataset of ['/root', '../x', '/etc', 'C:\\Users', './data']) {
      const reply = await client.call('training.start', { config: tinyConfig({ dataset }) })
      expect(reply).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
      if (!reply.ok) expect(reply.error.message).toMatch(/not a folder path/)
    }
    // A bare name that is no dataset id could be a folder relative to the server's working directory.
    for (const dataset of ['src', 'node_modules']) {
      const reply = await client.call('training.start', { config: tinyConfig({ dataset }) })
      expect(reply).toMatchObject({ ok: false, error: { code: 'not_found', message: `There is no dataset '${dataset}'; choose one on the Datasets page.` } })
    }
    expect((await client.value('runs.list', {})).total).toBe(0)
  })
})
