// Web mode: the built renderer over HTTP and the contract over one WebSocket, guarded by a random
// token. `npm run serve [-- --port N --data-dir D --host H --allowed-host NAME]`. Binds 127.0.0.1
// unless told otherwise; --host lets a laptop browser use a GPU server, and then the token is the
// only thing protecting it. Every request is checked in this order: a plain path as the target, a
// Host that is one of our names (DNS rebinding), the token (query or header, never a cookie) for
// the socket and /files/, and our own Origin for the socket and POSTs.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { hostname, networkInterfaces } from 'node:os'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Duplex } from 'node:stream'
import { createServices, type Services, type ServicesOptions } from './services'
import { createWebSocketTransport, refuseUpgrade, type WebSocketTransport } from './transports/websocket'
import { createHttpRunFiles, isDownloadPath } from './transports/http-run-files'
import { filesHttp } from '../shared/contract'
import { defaultDataDir } from './paths'

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
  /** More names the server answers to (the Host header), e.g. a DNS name in front of --host 0.0.0.0. */
  allowedHosts?: string[]
  /** The built renderer (out/web by default). */
  staticDir?: string
  /** Tests pass one; otherwise 24 random bytes. */
  token?: string
  /** The largest run archive an upload may be (2 GiB by default). */
  maxUploadBytes?: number
  /** The largest set of IDX files a dataset upload may be (256 MiB by default). */
  maxDatasetUploadBytes?: number
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

/** The CSP for the page: our own scripts only, sockets only back to us. `host` must be a validated Host (see hostChecker). */
export function contentSecurityPolicy(host: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ws://${host} wss://${host}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
}

/**
 * The request target as a URL on our own origin, or null. Only origin-form ("/path?query") is
 * served: "//x", "///", "//a:b@" would parse as another authority (or throw), and absolute-form
 * ("http://x:99999/") is for proxies, which we are not.
 */
export function parseTarget(raw: string | undefined): URL | null {
  if (!raw || raw[0] !== '/' || raw[1] === '/' || raw[1] === '\\') return null
  try {
    const url = new URL(raw, 'http://localhost')
    return url.origin === 'http://localhost' ? url : null
  } catch {
    return null
  }
}

const HOST_HEADER = /^(\[[0-9a-f:.]{2,45}\]|[a-z0-9.-]{1,253})(?::(\d{1,5}))?$/i

/**
 * DNS rebinding defence: a browser sends the name it looked up, so a page on evil.example that
 * resolves to 127.0.0.1 arrives with `Host: evil.example`. Only our own names pass (any port: an
 * `ssh -L 9000:127.0.0.1:8765` tunnel arrives as localhost:9000). Returns the Host to use, or null.
 */
export function hostChecker(bindHost: string, extra: string[] = []): (header: string | undefined) => string | null {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]', ...extra].map((h) => h.toLowerCase()))
  const add = (h: string) => names.add((h.includes(':') ? `[${h}]` : h).toLowerCase())
  if (bindHost === '0.0.0.0' || bindHost === '::') {
    // Reachable on every interface: the machine's own names and addresses.
    add(hostname())
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address.replace(/%.*$/, ''))
  } else add(bindHost.replace(/^\[|\]$/g, ''))
  return (header) => {
    const m = HOST_HEADER.exec(header ?? '')
    if (!m || !names.has(m[1].toLowerCase())) return null
    if (m[2] !== undefined && Number(m[2]) > 65535) return null
    return m[0].toLowerCase()
  }
}

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * The token from the query (the page's own address, the socket URL) or the header the page's
 * fetches send. Never a cookie: cookies are not port-scoped, so every other server on 127.0.0.1
 * would receive it.
 */
function tokenOf(req: IncomingMessage, url: URL): string | null {
  const header = req.headers[filesHttp.tokenHeader]
  return url.searchParams.get('token') ?? (typeof header === 'string' ? header : null)
}

function refuse(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
  res.end(text + '\n')
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const bindHost = opts.host ?? '127.0.0.1'
  const token = opts.token ?? randomBytes(24).toString('base64url')
  const staticDir = resolve(opts.staticDir ?? defaultStaticDir)
  const dataDir = opts.dataDir ?? defaultDataDir()
  const services = await createServices({ ...opts, dataDir, host: 'web' })
  const transport: WebSocketTransport = createWebSocketTransport(services)
  const runFiles = createHttpRunFiles(services, {
    scratchDir: join(dataDir, 'web-transfers'),
    maxUploadBytes: opts.maxUploadBytes,
    maxDatasetUploadBytes: opts.maxDatasetUploadBytes
  })
  const checkHost = hostChecker(bindHost, opts.allowedHosts)
  const wrongHost = 'This address is not one Conv Studio answers to; open the URL printed by `npm run serve` (or pass --allowed-host).'

  // A browser only sends a foreign Origin from a foreign page; ours is always http://<the Host it asked for>.
  const originAllowed = (req: IncomingMessage, host: string): boolean => {
    const origin = req.headers.origin?.toLowerCase()
    return origin === `http://${host}` || origin === `https://${host}`
  }

  // The page and its assets are the public renderer bundle: served without the token, so a reload
  // works once the page has moved the token out of the address bar. Everything that reads or
  // changes data (the socket, /files/) needs the token.
  const serveStatic = (req: IncomingMessage, res: ServerResponse, pathname: string, host: string) => {
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
    const headers: Record<string, string> = {
      'Content-Type': type,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'private, max-age=3600'
    }
    if (type.startsWith('text/html')) {
      headers['Content-Security-Policy'] = contentSecurityPolicy(host)
      headers['X-Frame-Options'] = 'DENY'
    }
    res.writeHead(200, headers)
    if (req.method === 'HEAD') return res.end()
    createReadStream(target)
      .on('error', () => res.destroy())
      .pipe(res)
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = parseTarget(req.url)
    if (!url) return refuse(res, 400, 'Bad request target: only paths like /runs are served.')
    const host = checkHost(req.headers.host)
    if (!host) return refuse(res, 421, wrongHost)
    const isFiles = url.pathname.startsWith(filesHttp.prefix)
    if (req.method !== 'GET' && req.method !== 'HEAD' && !(isFiles && req.method === 'POST'))
      return refuse(res, 405, 'Only GET is served, and POST for file transfers; the API is on the WebSocket.')
    if (!isFiles) return serveStatic(req, res, url.pathname, host)
    if (!isDownloadPath(url.pathname) && !sameToken(tokenOf(req, url), token))
      return refuse(res, 401, 'Conv Studio needs the access token: open the URL printed by `npm run serve`.')
    // A POST changes data: only from our own page, as for the socket.
    if (req.method === 'POST' && !originAllowed(req, host)) return refuse(res, 403, 'This Origin may not use Conv Studio.')
    runFiles.handle(req, res, url.pathname).catch((err: unknown) => {
      console.error('[web] transfer failed:', (err as Error).message)
      if (!res.headersSent) refuse(res, 500, 'The transfer failed inside Conv Studio.')
      else res.destroy()
    })
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = parseTarget(req.url)
    if (!url) return refuseUpgrade(socket, 400, 'Bad request target.')
    const host = checkHost(req.headers.host)
    if (!host) return refuseUpgrade(socket, 421, wrongHost)
    if (url.pathname !== '/ws') return refuseUpgrade(socket, 404, 'The socket is at /ws.')
    if (!sameToken(tokenOf(req, url), token)) return refuseUpgrade(socket, 401, 'Missing or wrong access token.')
    if (!originAllowed(req, host)) return refuseUpgrade(socket, 403, 'This Origin may not use Conv Studio.')
    transport.accept(req, socket, head)
  }

  // No request may take the server down (and a training run with it): whatever a handler throws
  // is one failed request.
  const http = createServer((req, res) => {
    try {
      onRequest(req, res)
    } catch (err) {
      console.error('[web] request failed:', (err as Error).message)
      if (!res.headersSent) refuse(res, 500, 'The request failed inside Conv Studio.')
      else res.destroy()
    }
  })
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    try {
      onUpgrade(req, socket, head)
    } catch (err) {
      console.error('[web] upgrade failed:', (err as Error).message)
      socket.destroy()
    }
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
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0)
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
      'static-dir': { type: 'string' },
      'allowed-host': { type: 'string', multiple: true }
    },
    strict: true
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer from 0 to 65535, not '${values.port}'.`)
    process.exit(2)
  }
  const server = await startServer({
    port,
    host: values.host,
    allowedHosts: values['allowed-host'],
    dataDir: values['data-dir'],
    staticDir: values['static-dir']
  })
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
