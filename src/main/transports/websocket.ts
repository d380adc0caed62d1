// The contract over one WebSocket (web mode). Wire format (WIRE.md):
//   client -> server {id, method, args};  server -> client {id, reply};  pushes {event, payload}.
// Who may connect is decided before the upgrade (token and Origin, see server.ts); here every frame
// is checked for size and shape, and a bad one gets a typed error while the socket keeps working.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { MAX_UPLOAD_BASE64, type EventName, type Events, type Reply } from '../../shared/contract'
import type { Services } from '../services'

/** Largest request we read: an image upload (base64) plus its envelope. */
export const MAX_MESSAGE_BYTES = MAX_UPLOAD_BASE64 + 1024 * 1024
/** Beyond this ws closes the socket (1009) without reading the frame at all. */
export const HARD_MAX_PAYLOAD = 64 * 1024 * 1024
/** Requests one socket may have in flight; more get 'unavailable' until some answer. */
export const MAX_IN_FLIGHT = 32
/** A socket that stops reading gets no more batch events once this much is queued for it. */
const EVENT_BACKLOG_BYTES = 4 * 1024 * 1024

export interface WebSocketTransport {
  /** Call from the http server's 'upgrade' handler once the request is authorised. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void
  clientCount(): number
  close(): Promise<void>
}

function errorReply(code: 'invalid_argument' | 'too_large' | 'unavailable', message: string): Reply<never> {
  return { ok: false, error: { code, message } }
}

/** The request id, even from a frame too large or too broken to parse, so the client's promise settles. */
function sniffId(text: string): number | null {
  const m = /^\s*\{\s*"id"\s*:\s*(\d{1,15})\s*[,}]/.exec(text.slice(0, 64))
  return m ? Number(m[1]) : null
}

export function createWebSocketTransport(services: Services): WebSocketTransport {
  const wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_PAYLOAD, perMessageDeflate: false })

  wss.on('connection', (ws: WebSocket) => {
    let inFlight = 0
    const send = (value: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(value))
    }
    const unsubscribe = services.events.subscribe(<E extends EventName>(event: E, payload: Events[E]) => {
      if (event === 'training.batch' && ws.bufferedAmount > EVENT_BACKLOG_BYTES) return
      send({ event, payload })
    })
    ws.on('close', unsubscribe)
    ws.on('error', (err) => console.error('[ws] socket error:', err.message))

    ws.on('message', (data: RawData, isBinary: boolean) => {
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength
      const text = isBinary ? '' : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString()
      if (isBinary) {
        send({ id: null, reply: errorReply('invalid_argument', 'Binary frames are not part of the protocol; send JSON text.') })
        return
      }
      if (size > MAX_MESSAGE_BYTES) {
        send({
          id: sniffId(text),
          reply: errorReply('too_large', `The message is ${(size / 1048576).toFixed(1)} MB; the limit is ${Math.floor(MAX_MESSAGE_BYTES / 1048576)} MB.`)
        })
        return
      }
      let msg: unknown
      try {
        msg = JSON.parse(text)
      } catch {
        send({ id: sniffId(text), reply: errorReply('invalid_argument', 'The message is not valid JSON.') })
        return
      }
      const req = msg as { id?: unknown; method?: unknown; args?: unknown }
      if (!req || typeof req !== 'object' || Array.isArray(req) || typeof req.id !== 'number' || !Number.isSafeInteger(req.id)) {
        send({ id: null, reply: errorReply('invalid_argument', 'A request is {"id": integer, "method": string, "args": object}.') })
        return
      }
      const id = req.id
      if (typeof req.method !== 'string') {
        send({ id, reply: errorReply('invalid_argument', 'The request has no "method" string.') })
        return
      }
      if (inFlight >= MAX_IN_FLIGHT) {
        send({ id, reply: errorReply('unavailable', `Too many requests at once (limit ${MAX_IN_FLIGHT}); wait for some to answer.`) })
        return
      }
      inFlight++
      services
        .handle(req.method, req.args ?? {})
        .then((reply) => send({ id, reply }))
        .catch((err: unknown) => {
          console.error('[ws] handler crashed:', err)
          send({ id, reply: { ok: false, error: { code: 'internal', message: 'The request failed inside Conv Studio.' } } })
        })
        .finally(() => inFlight--)
    })
  })

  return {
    accept(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
    },
    clientCount: () => wss.clients.size,
    close() {
      for (const ws of wss.clients) ws.terminate()
      return new Promise((resolve) => wss.close(() => resolve()))
    }
  }
}
