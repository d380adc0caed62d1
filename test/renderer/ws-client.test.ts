// The web-mode client against a real WebSocket server (the `ws` package) speaking the wire protocol.
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket, WebSocketServer } from 'ws'
import type { AddressInfo } from 'node:net'
import { StudioError } from '../../src/shared/contract'
import { socketUrlFromLocation, WsStudioClient } from '../../src/renderer/src/api/ws-client'
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

function connect(port: number, states: ConnectionState[] = []): WsStudioClient {
  const c = new WsStudioClient({ url: `ws://127.0.0.1:${port}/ws?token=t`, WebSocketImpl: WebSocket as unknown as typeof globalThis.WebSocket, minDelay: 20, maxDelay: 100 })
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
    expect(socketUrlFromLocation({ protocol: 'http:', host: '127.0.0.1:5000', search: '?token=a%2Fb' })).toBe('ws://127.0.0.1:5000/ws?token=a%2Fb')
    expect(socketUrlFromLocation({ protocol: 'https:', host: 'gpu.box', search: '' })).toBe('wss://gpu.box/ws?token=')
  })
})
