// The web-mode transport: one WebSocket speaking the wire protocol of src/shared/wire.ts
// (request {id, method, args} → {id, reply}; pushed {event, payload}). It reconnects with backoff;
// events need no subscription message because the server pushes every event to every socket, so
// handlers registered here simply keep working across reconnects.
import { StudioError, type EventName, type Events, type MethodArgs, type MethodName, type MethodResult } from '../../../shared/contract'
import { createEventHub, parseServerFrame, type WireRequest } from '../../../shared/wire'
import type { ConnectionState, StudioClient } from './types'

interface Pending {
  resolve: (value: unknown) => void
  reject: (e: StudioError) => void
}

export interface WsClientOptions {
  url: string
  /** Injected in tests; the browser's WebSocket otherwise. */
  WebSocketImpl?: typeof WebSocket
  /** Backoff bounds in ms. */
  minDelay?: number
  maxDelay?: number
  /** Runs once, when the first connection opens: the token worked, so the page can drop it from its address. */
  onFirstOpen?: () => void
}

export class WsStudioClient implements StudioClient {
  private socket: WebSocket | null = null
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private readonly outbox: string[] = []
  private readonly hub = createEventHub()
  private readonly stateHandlers = new Set<(s: ConnectionState) => void>()
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private closed = false
  state: ConnectionState = 'connecting'
  private everConnected = false

  constructor(private readonly opts: WsClientOptions) {
    // Without a token the server refuses the upgrade, and a browser reports that only as a drop:
    // say so instead of retrying for ever.
    if (!new URL(opts.url).searchParams.get('token')) {
      this.closed = true
      this.state = 'unauthorized'
      return
    }
    this.connect()
  }

  invoke<M extends MethodName>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>> {
    if (this.state === 'unauthorized') return Promise.reject(new StudioError('unauthorized', 'Conv Studio needs the access token: open the URL printed by `npm run serve`.'))
    const id = this.nextId++
    const request: WireRequest<M> = { id, method, args }
    const text = JSON.stringify(request)
    return new Promise<MethodResult<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      if (this.socket && this.socket.readyState === 1) this.socket.send(text)
      else this.outbox.push(text)
    })
  }

  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    return this.hub.on(event, handler)
  }

  onConnection(handler: (s: ConnectionState) => void): () => void {
    // 'unauthorized' is final and may be known before anyone listens.
    if (this.state === 'unauthorized') handler(this.state)
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
      if (!this.everConnected) this.opts.onFirstOpen?.()
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
    const frame = parseServerFrame(text)
    if (!frame) return
    if ('event' in frame) {
      this.hub.emit(frame.event, frame.payload)
      return
    }
    const p = frame.id === null ? undefined : this.pending.get(frame.id)
    if (!p || frame.id === null) return
    this.pending.delete(frame.id)
    if (frame.reply.ok) p.resolve(frame.reply.value)
    else p.reject(new StudioError(frame.reply.error.code, frame.reply.error.message))
  }
}

const TOKEN_KEY = 'conv-studio-token'

/**
 * The access token: from the page's address (the URL `npm run serve` printed), else from this tab's
 * sessionStorage, where it is kept so a reload works once the address no longer shows it. Not a
 * cookie: cookies are not port-scoped, and every other server on 127.0.0.1 would receive it.
 */
export function pageToken(loc: Pick<Location, 'search'>, storage: Pick<Storage, 'getItem' | 'setItem'>): string {
  const fromUrl = new URLSearchParams(loc.search).get('token')
  if (fromUrl) {
    storage.setItem(TOKEN_KEY, fromUrl)
    return fromUrl
  }
  return storage.getItem(TOKEN_KEY) ?? ''
}

/** Takes the token out of the address bar (and so out of history, bookmarks and screenshots). */
export function dropTokenFromAddress(loc: Pick<Location, 'href'>, history: Pick<History, 'replaceState' | 'state'>): void {
  const url = new URL(loc.href)
  if (!url.searchParams.has('token')) return
  url.searchParams.delete('token')
  history.replaceState(history.state, '', url.pathname + url.search + url.hash)
}

/** ws(s)://<host>/ws?token=... back to the server the page came from. */
export function socketUrlFromLocation(loc: Pick<Location, 'protocol' | 'host'>, token: string): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${loc.host}/ws?token=${encodeURIComponent(token)}`
}
