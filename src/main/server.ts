// Web mode: the built renderer over HTTP and the contract over one WebSocket, guarded by a random
// token. `npm run serve [-- --port N --data-dir D --host H]`. Binds 127.0.0.1 unless told otherwise;
// --host lets a laptop browser use a GPU server, and then the token is the only thing protecting it.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Duplex } from 'node:stream'
import { createServices, type Services, type ServicesOptions } from './services'
import { createWebSocketTransport, type WebSocketTransport } from './transports/websocket'
import { createHttpRunFiles } from './transports/http-run-files'
import { runFilesHttp } from '../shared/contract'
import { defaultDataDir } from './paths'

export const TOKEN_COOKIE = 'conv_studio_token'
const defaultStaticDir = fileURLToPath(new URL('../../out/web', import.meta.url))

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8'
}

export interface ServerOptions extends Omit<ServicesOptions, 'host' | 'dataDir'> {
  dataDir?: string
  port?: number
  host?: string
  /** The built renderer (out/web by default). */
  staticDir?: string
  /** Tests pass one; otherwise 24 random bytes. */
  token?: string
  /** The largest run archive an upload may be (2 GiB by default). */
  maxUploadBytes?: number
}

export interface RunningServer {
  url: string
  port: number
  host: string
  token: string
  services: Services
  http: Server
  close(): Promise<void>
}

/** The CSP for the page: our own scripts only, sockets only back to us. */
export function contentSecurityPolicy(hostHeader: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ws://${hostHeader} wss://${hostHeader}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookieToken(req: IncomingMessage): string | null {
  const header = req.headers.cookie
  if (!header) return null
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === TOKEN_COOKIE) return decodeURIComponent(v.join('='))
  }
  return null
}

function refuse(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(text + '\n')
}

function refuseUpgrade(socket: Duplex, status: 401 | 403 | 404, text: string): void {
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status]
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`)
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const bindHost = opts.host ?? '127.0.0.1'
  const token = opts.token ?? randomBytes(24).toString('base64url')
  const staticDir = resolve(opts.staticDir ?? defaultStaticDir)
  const dataDir = opts.dataDir ?? defaultDataDir()
  const services = await createServices({ ...opts, dataDir, host: 'web' })
  const transport: WebSocketTransport = createWebSocketTransport(services)
  const runFiles = createHttpRunFiles(services, { scratchDir: join(dataDir, 'web-transfers'), maxUploadBytes: opts.maxUploadBytes })
  let port = 0

  // A browser only sends a foreign Origin from a foreign page; ours is always http://<the Host it asked for>.
  const originAllowed = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin
    const host = req.headers.host
    if (!origin || !host) return false
    return origin === `http://${host}` || origin === `https://${host}`
  }

  const serveStatic = (req: IncomingMessage, res: ServerResponse, pathname: string, setCookie: boolean) => {
    let rel: string
    try {
      rel = decodeURIComponent(pathname)
    } catch {
      return refuse(res, 400, 'Bad path.')
    }
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = resolve(staticDir, '.' + rel)
    if (file !== staticDir && !file.startsWith(staticDir + sep)) return refuse(res, 404, 'Not found.')
    let target = file
    if (!existsSync(target) || !statSync(target).isFile()) {
      // Client-side routes fall back to the page; a missing asset is a 404.
      if (extname(rel) !== '') return refuse(res, 404, 'Not found.')
      target = join(staticDir, 'index.html')
    }
    if (!existsSync(target)) return refuse(res, 503, 'The web UI is not built: run `npm run build:web` (npm run serve does it).')
    const type = MIME[extname(target).toLowerCase()] ?? 'application/octet-stream'
    const headers: Record<string, string | string[]> = {
      'Content-Type': type,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'private, max-age=3600'
    }
    if (type.startsWith('text/html')) {
      headers['Content-Security-Policy'] = contentSecurityPolicy(req.headers.host ?? `127.0.0.1:${port}`)
      headers['X-Frame-Options'] = 'DENY'
    }
    if (setCookie) headers['Set-Cookie'] = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`
    res.writeHead(200, headers)
    if (req.method === 'HEAD') return res.end()
    createReadStream(target).pipe(res)
  }

  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const isFiles = url.pathname.startsWith(runFilesHttp.prefix)
    if (req.method !== 'GET' && req.method !== 'HEAD' && !(isFiles && req.method === 'POST'))
      return refuse(res, 405, 'Only GET is served, and POST for run archives; the API is on the WebSocket.')
    const queryOk = sameToken(url.searchParams.get('token'), token)
    const cookieOk = sameToken(cookieToken(req), token)
    if (!queryOk && !cookieOk) return refuse(res, 401, 'Conv Studio needs the access token: open the URL printed by `npm run serve`.')
    if (!isFiles) return serveStatic(req, res, url.pathname, queryOk && !cookieOk)
    // A POST changes data: only from our own page, as for the socket.
    if (req.method === 'POST' && !originAllowed(req)) return refuse(res, 403, 'This Origin may not use Conv Studio.')
    runFiles.handle(req, res, url.pathname).catch((err: unknown) => {
      if (!res.headersSent) refuse(res, 500, `The transfer failed: ${(err as Error).message}`)
      else res.destroy()
    })
  })
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname !== '/ws') return refuseUpgrade(socket, 404, 'The socket is at /ws.')
    if (!sameToken(url.searchParams.get('token'), token) && !sameToken(cookieToken(req), token))
      return refuseUpgrade(socket, 401, 'Missing or wrong access token.')
    if (!originAllowed(req)) return refuseUpgrade(socket, 403, 'This Origin may not use Conv Studio.')
    transport.accept(req, socket, head)
  })
  // Slow-loris and header abuse: bounded waits and header sizes.
  http.headersTimeout = 20_000
  http.requestTimeout = 60_000
  http.maxHeadersCount = 100

  await new Promise<void>((resolvePromise, reject) => {
    http.once('error', reject)
    http.listen(opts.port ?? 0, bindHost, () => {
      http.off('error', reject)
      resolvePromise()
    })
  })
  const address = http.address()
  port = typeof address === 'object' && address ? address.port : (opts.port ?? 0)
  const shownHost = bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost.includes(':') ? `[${bindHost}]` : bindHost
  let closing: Promise<void> | null = null
  return {
    url: `http://${shownHost}:${port}/?token=${token}`,
    port,
    host: bindHost,
    token,
    services,
    http,
    close() {
      closing ??= (async () => {
        await transport.close()
        await new Promise<void>((r) => http.close(() => r()))
        http.closeAllConnections()
        runFiles.close()
        await services.close()
      })()
      return closing
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8765' },
      host: { type: 'string', default: '127.0.0.1' },
      'data-dir': { type: 'string' },
      'static-dir': { type: 'string' }
    },
    strict: true
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer from 0 to 65535, not '${values.port}'.`)
    process.exit(2)
  }
  const server = await startServer({ port, host: values.host, dataDir: values['data-dir'], staticDir: values['static-dir'] })
  console.log(`Conv Studio web mode: ${server.url}`)
  console.log(`Data folder: ${server.services.dataDir}`)
  if (!['127.0.0.1', 'localhost', '::1'].includes(server.host)) {
    console.warn(
      `Warning: listening on ${server.host}, reachable from other machines. The token in the URL is what protects it: ` +
        'share it only over a trusted channel, and prefer an SSH tunnel (ssh -L) where you can.'
    )
  }
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`\n${signal}: stopping (runs still training are marked interrupted).`)
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err)
        process.exit(1)
      }
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (invokedDirectly) {
  main().catch((err: unknown) => {
    console.error(`Conv Studio web mode could not start: ${(err as Error).message ?? String(err)}`)
    process.exit(1)
  })
}
