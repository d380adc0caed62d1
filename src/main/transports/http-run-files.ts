// Run archives over HTTP: web mode's counterpart of Electron's save dialog and file path. A page
// cannot name a path on the server, so the server exports into its own scratch folder and hands the
// page a one-time download address, and an upload lands in that folder before it is imported.
// Both go through services.handle, so the contract's validation and typed errors apply unchanged.
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, rmSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { runFilesHttp, StudioError, type Reply } from '../../shared/contract'
import type { RunExportLink } from '../../shared/domain'
import type { Services } from '../services'

/** An AlexNet run keeps two 187 MB checkpoints; leave room for that and more. */
export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3
/** A download nobody fetched is deleted after this long. */
const DOWNLOAD_TTL_MS = 10 * 60_000

export interface HttpRunFiles {
  /** Answers a request under runFilesHttp.prefix; the caller has checked the token and the Origin. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void>
  close(): void
}

function sendJson(res: ServerResponse, status: number, body: Reply<unknown>): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
  res.end(JSON.stringify(body))
}

function sendError(res: ServerResponse, status: number, error: StudioError): void {
  sendJson(res, status, { ok: false, error: { code: error.code, message: error.message } })
}

export function createHttpRunFiles(services: Services, opts: { scratchDir: string; maxUploadBytes?: number }): HttpRunFiles {
  const scratch = opts.scratchDir
  const maxUpload = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES
  // Whatever an earlier server left (it was killed mid-transfer) is garbage now.
  rmSync(scratch, { recursive: true, force: true })
  mkdirSync(scratch, { recursive: true })
  const downloads = new Map<string, { path: string; fileName: string; timer: NodeJS.Timeout }>()

  const scratchFile = (suffix: string) => join(scratch, `${randomBytes(12).toString('hex')}${suffix}`)
  const forget = (key: string) => {
    const d = downloads.get(key)
    if (!d) return
    clearTimeout(d.timer)
    downloads.delete(key)
    rmSync(d.path, { force: true })
  }

  async function exportRun(res: ServerResponse, runId: number): Promise<void> {
    const path = scratchFile('.zip')
    const reply = await services.handle('runs.export', { runId, path })
    if (!reply.ok) {
      rmSync(path, { force: true })
      return sendJson(res, 200, reply)
    }
    const key = randomBytes(18).toString('base64url')
    const fileName = `conv-studio-run-${runId}.zip`
    downloads.set(key, { path, fileName, timer: setTimeout(() => forget(key), DOWNLOAD_TTL_MS).unref() })
    const link: RunExportLink = { url: `${runFilesHttp.prefix}downloads/${key}`, fileName, bytes: statSync(path).size }
    sendJson(res, 200, { ok: true, value: link })
  }

  function download(req: IncomingMessage, res: ServerResponse, key: string): void {
    const d = downloads.get(key)
    if (!d) return sendError(res, 404, new StudioError('not_found', 'This download has expired or was already taken; export the run again.'))
    res.writeHead(200, {
      'Content-Type': 'application/zip',
      'Content-Length': String(statSync(d.path).size),
      'Content-Disposition': `attachment; filename="${d.fileName}"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff'
    })
    if (req.method === 'HEAD') return void res.end()
    const stream = createReadStream(d.path)
    stream.pipe(res)
    // One download per export: the scratch copy goes as soon as it was sent (or the fetch gave up).
    res.on('close', () => forget(key))
  }

  async function importRun(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? NaN)
    const tooBig = () => new StudioError('too_large', `The archive is larger than ${Math.round(maxUpload / 1024 ** 2)} MB, the most this server takes.`)
    if (Number.isFinite(declared) && declared > maxUpload) {
      sendError(res, 413, tooBig())
      req.resume()
      return
    }
    const path = scratchFile('.upload.zip')
    const out = createWriteStream(path, { flags: 'wx' })
    let writeError: NodeJS.ErrnoException | null = null
    out.on('error', (e) => (writeError = e))
    let received = 0
    try {
      // Read to the end even past the limit or a write error: answering before the body is consumed
      // would reset the connection, and the page would see a network error instead of the message.
      for await (const chunk of req as AsyncIterable<Buffer>) {
        received += chunk.length
        if (received > maxUpload || writeError) continue
        if (!out.write(chunk)) await new Promise<void>((r) => (out.once('drain', () => r()), out.once('error', () => r())))
      }
      out.end()
      // Resolves at once if the stream already ended or failed; a failure is in writeError.
      await finished(out).catch(() => undefined)
      if (received > maxUpload) return sendError(res, 413, tooBig())
      if (writeError) {
        const e: NodeJS.ErrnoException = writeError
        const message = e.code === 'ENOSPC' ? 'The disk is full: the upload could not be stored.' : `The upload could not be stored: ${e.message}`
        return sendError(res, 507, new StudioError('storage_error', message))
      }
      if (received === 0) return sendError(res, 400, new StudioError('invalid_argument', 'The upload was empty: choose a run archive (.zip).'))
      const reply = await services.handle('runs.import', { path })
      // The scratch path means nothing to the person who picked the file.
      if (!reply.ok) reply.error.message = reply.error.message.replaceAll(path, 'The file')
      sendJson(res, 200, reply)
    } catch (err) {
      // The page went away mid-upload: nobody is left to answer.
      if (!res.headersSent && !res.destroyed) sendError(res, 400, new StudioError('invalid_argument', `The upload was cut off: ${(err as Error).message}`))
    } finally {
      out.destroy()
      rmSync(path, { force: true })
    }
  }

  return {
    async handle(req, res, pathname) {
      const rest = pathname.slice(runFilesHttp.prefix.length)
      const exportMatch = /^runs\/(\d{1,12})\/export$/.exec(rest)
      if (exportMatch && req.method === 'POST') return exportRun(res, Number(exportMatch[1]))
      const downloadMatch = /^downloads\/([\w-]{16,64})$/.exec(rest)
      if (downloadMatch && (req.method === 'GET' || req.method === 'HEAD')) return download(req, res, downloadMatch[1])
      if (pathname === runFilesHttp.importPath && req.method === 'POST') return importRun(req, res)
      sendError(res, 404, new StudioError('not_found', `No ${req.method} ${pathname} here.`))
    },
    close() {
      for (const key of [...downloads.keys()]) forget(key)
      rmSync(scratch, { recursive: true, force: true })
    }
  }
}
