// The wire between a window and the services, declared once for every side of it: the Electron
// channel names (preload ↔ main) and the WebSocket frames (web-mode client ↔ server, and the test
// client). Type-only imports: the sandboxed preload bundles this file and must not pull in zod.
//   request  client → server  {id, method, args}
//   reply    server → client  {id, reply}       (id null when the request was too broken to name one)
//   event    server → client  {event, payload}  (every event to every window; no subscription)
import type { EventName, Events, MethodArgs, MethodName, Reply } from './contract'

/** Electron IPC channels. `invoke`/`event` carry the contract; the rest are shell actions whose paths main picks in a native dialog. */
export const channels = {
  invoke: 'studio:invoke',
  event: 'studio:event',
  exportRun: 'studio:export-run',
  importRun: 'studio:import-run',
  importDataset: 'studio:import-dataset',
  importImages: 'studio:import-images',
  importModel: 'studio:import-model'
} as const

export interface WireRequest<M extends MethodName = MethodName> {
  id: number
  method: M
  args: MethodArgs<M>
}

export interface WireReply<T = unknown> {
  id: number | null
  reply: Reply<T>
}

export type WireEvent = { [E in EventName]: { event: E; payload: Events[E] } }[EventName]

/** What a server sends. */
export type ServerFrame = WireReply | WireEvent

/**
 * A request frame as the server reads it. The method stays a string: whether it names a contract
 * method is decided once, by services.handle.
 */
export type ParsedRequest = { ok: true; id: number; method: string; args: unknown } | { ok: false; id: number | null; message: string }

/** The request id, even from a frame too large or too broken to parse, so the client's promise settles. */
export function sniffRequestId(text: string): number | null {
  const m = /^\s*\{\s*"id"\s*:\s*(\d{1,15})\s*[,}]/.exec(text.slice(0, 64))
  return m ? Number(m[1]) : null
}

export function parseRequest(text: string): ParsedRequest {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    return { ok: false, id: sniffRequestId(text), message: 'The message is not valid JSON.' }
  }
  const req = msg as { id?: unknown; method?: unknown; args?: unknown } | null
  if (!req || typeof req !== 'object' || Array.isArray(req) || typeof req.id !== 'number' || !Number.isSafeInteger(req.id))
    return { ok: false, id: null, message: 'A request is {"id": integer, "method": string, "args": object}.' }
  if (typeof req.method !== 'string') return { ok: false, id: req.id, message: 'The request has no "method" string.' }
  return { ok: true, id: req.id, method: req.method, args: req.args ?? {} }
}

/** A frame from the server, or null for anything that is neither a reply nor an event. */
export function parseServerFrame(text: string): ServerFrame | null {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    return null
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return null
  const f = msg as Record<string, unknown>
  if (typeof f.event === 'string') return f as unknown as WireEvent
  const reply = f.reply as { ok?: unknown } | undefined
  if (reply && typeof reply === 'object' && typeof reply.ok === 'boolean' && (typeof f.id === 'number' || f.id === null)) return f as unknown as WireReply
  return null
}

/** The handler registry each client keeps for pushed events (preload, WebSocket client, test fakes). */
export interface EventHub {
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void
  emit(event: EventName, payload: unknown): void
}

export function createEventHub(): EventHub {
  const handlers = new Map<EventName, Set<(payload: unknown) => void>>()
  return {
    on(event, handler) {
      let set = handlers.get(event)
      if (!set) handlers.set(event, (set = new Set()))
      const h = handler as (payload: unknown) => void
      set.add(h)
      return () => void set.delete(h)
    },
    emit(event, payload) {
      for (const h of handlers.get(event) ?? []) h(payload)
    }
  }
}
