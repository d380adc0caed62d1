// The contract over one WebSocket (web mode). The frames are declared in src/shared/wire.ts:
//   client -> server {id, method, args};  server -> client {id, reply};  pushes {event, payload}.
// Who may connect is decided before the upgrade (Host, token and Origin, see server.ts); here every
// frame is checked for size and shape, and a bad one gets a typed error while the socket keeps working.
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { MAX_UPLOAD_BASE64, type EventName, type Events, type Reply } from '../../shared/contract'
import { parseRequest, sniffRequestId, type ServerFrame } from '../../shared/wire'
import type { Services } from '../services'
import { windowCalls } from './window-calls'
import { isWorkerCall } from './browser-worker'

/** Largest request we read: an image upload (base64) plus its envelope. */
export const MAX_MESSAGE_BYTES = MAX_UPLOAD_BASE64 + 1024 * 1024
/** Beyond this ws closes the socket (1009) without reading the frame at all. */
export const HARD_MAX_PAYLOAD = 64 * 1024 * 1024
/** Requests one socket may have in flight; more get 'unavailable' until some answer. */
export const MAX_IN_FLIGHT = 32
/** Sockets one server keeps open at once (a person has a few tabs); more are refused with 503. */
export const MAX_SOCKETS = 16
/** A socket that stops reading gets no more batch events once this much is queued for it. */
const EVENT_BACKLOG_BYTES = 4 * 1024 * 1024

export interface WebSocketTransport {
  /** Call from the http server's 'upgrade' handler once the request is authorised; refuses with 503 when full. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void
  clientCount(): number
  close(): Promise<void>
}

const reasons: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 421: 'Misdirected Request', 503: 'Service Unavailable' }

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
export function refuseUpgrade(socket: Duplex, status: 400 | 401 | 403 | 404 | 421 | 503, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${reasons[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
}

function errorReply(code: 'invalid_argument' | 'too_large' | 'unavailable', message: string): Reply<never> {
  return { ok: false, error: { code, message } }
}

export function createWebSocketTransport(services: Services): WebSocketTransport {
  const wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_PAYLOAD, perMessageDeflate: false })

  const calls = windowCalls(services)

  wss.on('connection', (ws: WebSocket) => {
    let inFlight = 0
    const send = (frame: ServerFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame))
    }
    const unsubscribe = services.events.subscribe(<E extends EventName>(event: E, payload: Events[E]) => {
      if (event === 'training.batch' && ws.bufferedAmount > EVENT_BACKLOG_BYTES) return
      send({ event, payload } as ServerFrame)
    })
    // This socket's window may train runs in its browser's GPU: the host's messages for them go to it alone.
    const link = services.browserWorkers.connect((payload) => send({ event: 'browserGpu.toWorker', payload }))
    ws.on('close', () => {
      unsubscribe()
      link.close()
    })
    ws.on('error', (err) => console.error('[ws] socket error:', err.message))

    ws.on('message', (data: RawData, isBinary: boolean) => {
      const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer).byteLength
      if (isBinary) {
        send({ id: null, reply: errorReply('invalid_argument', 'Binary frames are not part of the protocol; send JSON text.') })
        return
      }
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString()
      if (size > MAX_MESSAGE_BYTES) {
        send({
          id: sniffRequestId(text),
          reply: errorReply('too_large', `The message is ${(size / 1048576).toFixed(1)} MB; the limit is ${Math.floor(MAX_MESSAGE_BYTES / 1048576)} MB.`)
        })
        return
      }
      const req = parseRequest(text)
      if (!req.ok) {
        send({ id: req.id, reply: errorReply('invalid_argument', req.message) })
        return
      }
      const id = req.id
      if (inFlight >= MAX_IN_FLIGHT) {
        send({ id, reply: errorReply('unavailable', `Too many requests at once (limit ${MAX_IN_FLIGHT}); wait for some to answer.`) })
        return
      }
      if (isWorkerCall(req.method)) {
        send({ id, reply: link.handle(req.method, req.args) })
        return
      }
      inFlight++
      calls
        .handle(req.method, req.args)
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
      // handleUpgrade adds the socket to wss.clients synchronously, so the count includes every accepted one.
      if (wss.clients.size >= MAX_SOCKETS)
        return refuseUpgrade(socket, 503, `Conv Studio already has ${MAX_SOCKETS} connections open; close a tab and reload.`)
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
    },
    clientCount: () => wss.clients.size,
    close() {
      for (const ws of wss.clients) ws.terminate()
      return new Promise((resolve) => wss.close(() => resolve()))
    }
  }
}
