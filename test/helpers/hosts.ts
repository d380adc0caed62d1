// Shared by the hosts tests: temp data folders, a tiny training config, and a WebSocket client that
// speaks the wire protocol of src/shared/wire.ts and records every pushed event in arrival order.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { expect } from 'vitest'
import { getPreset } from '../../src/core/models/presets'
import type { MethodArgs, MethodName, MethodResult, Reply } from '../../src/shared/contract'
import { parseServerFrame } from '../../src/shared/wire'
import type { TrainConfigInput } from '../../src/shared/schemas'
import type { RunRecord } from '../../src/shared/domain'
import type { Services } from '../../src/main/services'

export function tempDir(prefix = 'conv-studio-hosts-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** LeNet-5 on the bundled MNIST sample, small enough to train in a few seconds. */
export function tinyConfig(over: Partial<TrainConfigInput> = {}): TrainConfigInput {
  const preset = getPreset('lenet5')
  if (!preset) throw new Error('lenet5 preset missing')
  return {
    model: 'lenet5',
    spec: preset.spec,
    dataset: 'mnist-sample',
    optimizer: 'sgd',
    lr: 0.9,
    batchSize: 64,
    epochs: 1,
    seed: 1,
    validation: { source: 'test' },
    init: 'xavier',
    trainLimit: 512,
    backend: (process.env.CONV_STUDIO_TEST_BACKEND as TrainConfigInput['backend']) ?? 'auto',
    ...over
  }
}

export interface PushedEvent {
  event: string
  payload: Record<string, unknown>
  /** Date.now() when it arrived. */
  at: number
}

export class WireClient {
  readonly events: PushedEvent[] = []
  private nextId = 1
  private readonly pending = new Map<number, (r: Reply<unknown>) => void>()
  private readonly waiters: { test: (e: PushedEvent) => boolean; resolve: (e: PushedEvent) => void }[] = []
  /** Replies with no usable id (to frames that could not be parsed). */
  readonly orphanReplies: Reply<unknown>[] = []

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = parseServerFrame(String(data))
      if (!msg) throw new Error(`not a wire frame: ${String(data).slice(0, 200)}`)
      if ('event' in msg) {
        const e = { event: msg.event, payload: msg.payload as unknown as Record<string, unknown>, at: Date.now() }
        this.events.push(e)
        for (const w of [...this.waiters]) {
          if (w.test(e)) {
            this.waiters.splice(this.waiters.indexOf(w), 1)
            w.resolve(e)
          }
        }
        return
      }
      const cb = msg.id === null ? undefined : this.pending.get(msg.id)
      if (cb && msg.id !== null) {
        this.pending.delete(msg.id)
        cb(msg.reply)
      } else {
        this.orphanReplies.push(msg.reply)
      }
    })
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers })
      ws.once('open', () => resolve(new WireClient(ws)))
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    })
  }

  /** Any method name and arguments, so tests can send what a hostile client would; see value() for typed calls. */
  call(method: string, args: unknown = {}): Promise<Reply<unknown>> {
    const id = this.nextId++
    return this.sendRaw(JSON.stringify({ id, method, args }), id)
  }

  /** Sends a frame as is; resolves with the reply to `id`. */
  sendRaw(text: string, id: number): Promise<Reply<unknown>> {
    return new Promise((resolve) => {
      this.pending.set(id, resolve)
      this.ws.send(text)
    })
  }

  /** A contract call whose failure fails the test; typed by the contract like the renderer's client. */
  async value<M extends MethodName>(method: M, args?: MethodArgs<M>): Promise<MethodResult<M>> {
    const r = await this.call(method, args ?? {})
    if (!r.ok) throw new Error(`${method}: ${r.error.code}: ${r.error.message}`)
    return r.value as MethodResult<M>
  }

  waitFor(test: (e: PushedEvent) => boolean, timeoutMs = 60_000): Promise<PushedEvent> {
    const seen = this.events.find(test)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for an event')), timeoutMs)
      this.waiters.push({
        test,
        resolve: (e) => {
          clearTimeout(timer)
          resolve(e)
        }
      })
    })
  }

  eventsOf(runId: number): PushedEvent[] {
    return this.events.filter((e) => e.payload.runId === runId)
  }

  close(): void {
    this.ws.close()
  }
}

/** Resolves once the status event for `runId` reaches one of `statuses`. */
export function waitForStatus(client: WireClient, runId: number, statuses: string[], timeoutMs = 90_000): Promise<PushedEvent> {
  return client.waitFor((e) => e.event === 'training.status' && e.payload.runId === runId && statuses.includes(String(e.payload.status)), timeoutMs)
}

/** Opens an upgrade request and reports the HTTP status the server answered with (101 when accepted). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => {
      ws.close()
      resolve(101)
    })
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0)
      res.resume()
    })
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err)
    })
  })
}

/** Polls the services' record of a run until its status is one of `done`; returns that record. */
export async function recordedStatus(services: Pick<Services, 'handle'>, runId: number, done: string[], ms = 20_000): Promise<RunRecord> {
  let r: RunRecord | null = null
  await expect
    .poll(
      async () => {
        const reply = await services.handle('runs.get', { runId })
        r = reply.ok ? (reply.value as RunRecord) : null
        return r?.status
      },
      { timeout: ms, interval: 100 }
    )
    .toSatisfy((s: string | undefined) => s !== undefined && done.includes(s))
  return r as unknown as RunRecord
}
