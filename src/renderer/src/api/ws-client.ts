// The web-mode transport: one WebSocket speaking the wire protocol of the hosts helper
// (request {id, method, args} → {id, reply}; pushed {event, payload}). It reconnects with backoff;
// events need no subscription message because the server pushes every event to every socket, so
// handlers registered here simply keep working across reconnects.
import {
  StudioError,
  type EventName,
  type Events,
  type MethodArgs,
  type MethodName,
  type MethodResult,
  type Reply
} from '../../../shared/contract'
import type { ConnectionState, StudioClient } from './types'

interface Pending {
  resolve: (value: unknown) => void
  reject: (e: StudioError) => void
}

type Frame = { id: number; reply: Reply<unknown> } | { event: EventName; payload: unknown }

export interface WsClientOptions {
  url: string
  /** Injected in tests; the browser's WebSocket otherwise. */
  WebSocketImpl?: typeof WebSocket
  /** Backoff bounds in ms. */
  minDelay?: number
  maxDelay?: number
}

export class WsStudioClient implements StudioClient {
  private socket: WebSocket | null = null
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly outbox: string[] = []
  private readonly handlers = new Map<EventName, Set<(payload: unknown) => void>>()
  private readonly stateHandlers = new Set<(s: ConnectionState) => void>()
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private closed = false
  state: ConnectionState = 'connecting'
  private everConnected = false

  constructor(private readonly opts: WsClientOptions) {
    this.connect()
  }

  invoke<M extends MethodName>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>> {
    const id = this.nextId++
    const text = JSON.stringify({ id, method, args })
    return new Promise<MethodResult<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      if (this.socket && this.socket.readyState === 1) this.socket.send(text)
      else this.outbox.push(text)
    })
  }

  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    let set = this.handlers.get(event)
    if (!set) this.handlers.set(event, (set = new Set()))
    const h = handler as (payload: unknown) => void
    set.add(h)
    return () => set.delete(h)
  }

  onConnection(handler: (s: ConnectionState) => void): () => void {
    this.stateHandlers.add(handler)
    return () => this.stateHandlers.delete(handler)
  }

  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.socket?.close()
    this.failPending('The connection to Conv Studio was closed.')
  }

  private setState(s: ConnectionState): void {
    this.state = s
    for (const h of this.stateHandlers) h(s)
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket
    const socket = new Impl(this.opts.url)
    this.socket = socket
    socket.onopen = () => {
      this.attempt = 0
      for (const text of this.outbox.splice(0)) socket.send(text)
      this.setState(this.everConnected ? 'reconnected' : 'open')
      this.everConnected = true
    }
    socket.onmessage = (ev: MessageEvent) => this.receive(String(ev.data))
    socket.onclose = (ev: CloseEvent) => {
      if (this.socket !== socket) return
      this.socket = null
      // A request in flight may or may not have run; the caller decides whether to retry.
      this.failPending('The connection to Conv Studio was lost; try again.')
      if (this.closed) return
      if (ev.code === 4401 || ev.code === 1008) {
        this.setState('unauthorized')
        return
      }
      this.setState('reconnecting')
      const min = this.opts.minDelay ?? 250
      const max = this.opts.maxDelay ?? 5000
      const delay = Math.min(max, min * 2 ** this.attempt++)
      this.timer = setTimeout(() => this.connect(), delay)
    }
  }

  private failPending(message: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id)
      p.reject(new StudioError('unavailable', message))
    }
  }

  private receive(text: string): void {
    let frame: Frame
    try {
      frame = JSON.parse(text) as Frame
    } catch {
      return
    }
    if ('event' in frame) {
      for (const h of this.handlers.get(frame.event) ?? []) h(frame.payload)
      return
    }
    const p = this.pending.get(frame.id)
    if (!p) return
    this.pending.delete(frame.id)
    if (frame.reply.ok) p.resolve(frame.reply.value)
    else p.reject(new StudioError(frame.reply.error.code, frame.reply.error.message))
  }
}

/** ws(s)://<host>/ws?token=... from the page's own address. */
export function socketUrlFromLocation(loc: Pick<Location, 'protocol' | 'host' | 'search'>): string {
  const token = new URLSearchParams(loc.search).get('token') ?? ''
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${loc.host}/ws?token=${encodeURIComponent(token)}`
}
