// @vitest-environment happy-dom
// The web-mode client against a real WebSocket server (the `ws` package) speaking the wire protocol
// of src/shared/wire.ts; the page's address and storage are happy-dom's.
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'
import { StudioError } from '../../src/shared/contract'
import { dropTokenFromAddress, pageToken, socketUrlFromLocation, WsStudioClient } from '../../src/renderer/src/api/ws-client'
import type { ConnectionState } from '../../src/renderer/src/api'

let server: WebSocketServer | null = null
let client: WsStudioClient | null = null

afterEach(async () => {
  client?.close()
  client = null
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
  server = null
})

function startServer(port = 0): Promise<WebSocketServer> {
  return new Promise((resolve) => {
    const s: WebSocketServer = new WebSocketServer({ port, host: '127.0.0.1' }, () => resolve(s))
    s.on('connection', (sock) => {
      sock.on('message', (raw) => {
        const msg = JSON.parse(String(raw)) as { id: number; method: string; args: Record<string, unknown> }
        if (msg.method === 'app.info') sock.send(JSON.stringify({ id: msg.id, reply: { ok: true, value: { version: '1', host: 'web', dataDir: '/d' } } }))
        else if (msg.method === 'runs.get') sock.send(JSON.stringify({ id: msg.id, reply: { ok: false, error: { code: 'not_found', message: `There is no run ${String(msg.args.runId)}.` } } }))
        else if (msg.method === 'hang') sock.close()
      })
    })
  })
}

function connect(port: number, states: ConnectionState[] = [], more: { token?: string; onFirstOpen?: () => void } = {}): WsStudioClient {
  const c = new WsStudioClient({
    url: `ws://127.0.0.1:${port}/ws?token=${more.token ?? 't'}`,
    WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket,
    minDelay: 20,
    maxDelay: 100,
    onFirstOpen: more.onFirstOpen
  })
  c.onConnection((s) => states.push(s))
  return c
}

describe('WsStudioClient', () => {
  it('sends requests, unwraps replies and turns error replies into StudioError with their code', async () => {
    server = await startServer()
    client = connect((server.address() as AddressInfo).port)
    // Sent before the socket opened: queued, then delivered.
    const info = await client.invoke('app.info', {})
    expect(info).toEqual({ version: '1', host: 'web', dataDir: '/d' })
    const err = await client.invoke('runs.get', { runId: 7 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StudioError)
    expect((err as StudioError).code).toBe('not_found')
    expect((err as StudioError).message).toBe('There is no run 7.')
  })

  it('delivers pushed events to their handlers, and stops after unsubscribe', async () => {
    server = await startServer()
    client = connect((server.address() as AddressInfo).port)
    await client.invoke('app.info', {})
    const got: number[] = []
    const off = client.on('training.batch', (e) => got.push(e.runId))
    const push = (runId: number) => {
      for (const s of server!.clients) s.send(JSON.stringify({ event: 'training.batch', payload: { runId, epoch: 1, x: 0.5, loss: 1, acc: 0.5, examplesPerSec: 1, etaSeconds: 1 } }))
    }
    push(3)
    await new Promise((r) => setTimeout(r, 50))
    off()
    push(4)
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toEqual([3])
  })

  it('fails calls in flight when the connection drops, reconnects, and keeps event handlers', async () => {
    server = await startServer()
    const port = (server.address() as AddressInfo).port
    const states: ConnectionState[] = []
    client = connect(port, states)
    const got: number[] = []
    client.on('training.status', (e) => got.push(e.runId))
    await client.invoke('app.info', {})
    const lost = await client.invoke('hang' as 'app.info', {}).catch((e: unknown) => e)
    expect((lost as StudioError).code).toBe('unavailable')
    // Comes back by itself.
    for (let i = 0; i < 50 && client.state !== 'reconnected'; i++) await new Promise((r) => setTimeout(r, 20))
    expect(states).toContain('reconnecting')
    expect(client.state).toBe('reconnected')
    expect(await client.invoke('app.info', {})).toMatchObject({ host: 'web' })
    for (const s of server.clients) s.send(JSON.stringify({ event: 'training.status', payload: { runId: 9, status: 'completed', error: null } }))
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toEqual([9])
  })

  it('builds the socket address from the page address and its token', () => {
    expect(socketUrlFromLocation({ protocol: 'http:', host: '127.0.0.1:5000' }, 'a/b')).toBe('ws://127.0.0.1:5000/ws?token=a%2Fb')
    expect(socketUrlFromLocation({ protocol: 'https:', host: 'gpu.box' }, '')).toBe('wss://gpu.box/ws?token=')
  })

  it('ignores frames that are neither a reply nor an event', async () => {
    server = await startServer()
    client = connect((server.address() as AddressInfo).port)
    await client.invoke('app.info', {})
    const got: unknown[] = []
    client.on('training.status', (e) => got.push(e))
    for (const s of server.clients) for (const junk of ['not json', '[1,2]', '{"id": 1}', '{"reply": {"ok": true}}', 'null']) s.send(junk)
    await new Promise((r) => setTimeout(r, 50))
    expect(got).toEqual([])
    expect(await client.invoke('app.info', {})).toMatchObject({ host: 'web' })
  })

  it('says unauthorized at once, and sends nothing, when the page has no token', async () => {
    server = await startServer()
    let connections = 0
    server.on('connection', () => connections++)
    const states: ConnectionState[] = []
    client = connect((server.address() as AddressInfo).port, [], { token: '' })
    client.onConnection((s) => states.push(s))
    expect(states).toEqual(['unauthorized'])
    await expect(client.invoke('app.info', {})).rejects.toMatchObject({ code: 'unauthorized' })
    await new Promise((r) => setTimeout(r, 100))
    expect(connections).toBe(0)
  })
})

describe('the token in the page (D6, D12)', () => {
  afterEach(() => {
    window.sessionStorage.clear()
    window.history.replaceState(null, '', '/')
  })

  it('takes the token from the address, keeps it in this tab for reloads, and drops it from the address once connected', async () => {
    window.history.replaceState({ kept: 1 }, '', '/runs?token=s3cret&sort=name#top')
    expect(pageToken(window.location, window.sessionStorage)).toBe('s3cret')
    server = await startServer()
    let opened = 0
    client = connect((server.address() as AddressInfo).port, [], {
      token: 's3cret',
      onFirstOpen: () => {
        opened++
        dropTokenFromAddress(window.location, window.history)
      }
    })
    // Not before the connection worked: a wrong token stays visible to the person.
    expect(window.location.search).toBe('?token=s3cret&sort=name')
    await client.invoke('app.info', {})
    expect(opened).toBe(1)
    expect(window.location.pathname + window.location.search + window.location.hash).toBe('/runs?sort=name#top')
    expect(window.history.state).toEqual({ kept: 1 })
    // A reload: the address has no token any more, this tab's storage has.
    expect(pageToken(window.location, window.sessionStorage)).toBe('s3cret')
    expect(document.cookie).toBe('')
  })

  it('has no token without one in the address or the tab', () => {
    window.history.replaceState(null, '', '/datasets')
    expect(pageToken(window.location, window.sessionStorage)).toBe('')
  })
})
