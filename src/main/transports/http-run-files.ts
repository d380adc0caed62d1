// Files over HTTP: web mode's counterpart of Electron's native dialogs. A page cannot name a path on
// the server (runs.export/runs.import/datasets.import are host-only), so this module is the host: it
// exports into its own scratch folder and hands the page a one-time download address, and an upload
// (a run archive, or the four IDX files of a dataset) lands in that folder before it is imported.
// All of it goes through services.handle, so the contract's validation and typed errors apply.
import { oneLine } from '../storage/archive'
import { unknownDataset } from './window-calls'
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join, sep } from 'node:path'
import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import { finished, pipeline } from 'node:stream/promises'
import { filesHttp, StudioError, type Reply } from '../../shared/contract'
import type { RunExportLink } from '../../shared/domain'
import type { Services } from '../services'

/** An AlexNet run keeps two 187 MB checkpoints; leave room for that and more. */
export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3
/** The four IDX files of a dataset are parsed in memory (multipart): full MNIST raw is 55 MB. */
export const DEFAULT_MAX_DATASET_UPLOAD_BYTES = 256 * 1024 ** 2
/** Uploads handled at once (each may hold hundreds of MB on disk or in memory); more get 503. */
export const MAX_CONCURRENT_UPLOADS = 2
/** A download nobody fetched is deleted after this long. */
const DOWNLOAD_TTL_MS = 10 * 60_000
const DOWNLOAD_PATH = /^\/files\/downloads\/([\w-]{16,64})$/
/** What an uploaded IDX file may be called: its name is kept (it says the file's role). */
const IDX_FILE_NAME = /^[\w][\w.-]{0,199}$/

/**
 * A one-time download address carries its own 18-byte random key: a plain link click cannot send
 * the token header, and the key was handed only to a page that had the token.
 */
export function isDownloadPath(pathname: string): boolean {
  return DOWNLOAD_PATH.test(pathname)
}

export interface HttpRunFiles {
  /** Answers a request under filesHttp.prefix; the caller has checked the token (or isDownloadPath) and the Origin. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void>
  close(): void
}

export interface HttpRunFilesOptions {
  scratchDir: string
  maxUploadBytes?: number
  maxDatasetUploadBytes?: number
  /** Cap on a zip of pictures (web mode's folder import). */
  maxImagesUploadBytes?: number
}

function sendJson(res: ServerResponse, status: number, body: Reply<unknown>): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
  res.end(JSON.stringify(body))
}

/** Deletes a scratch file or folder; a failure (the scratch folder itself is gone or broken) changes nothing for the answer. */
function discard(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true })
  } catch (err) {
    console.error('[web] could not delete a transfer file:', (err as Error).message)
  }
}

function sendError(res: ServerResponse, status: number, error: StudioError): void {
  sendJson(res, status, { ok: false, error: { code: error.code, message: error.message } })
}

export function createHttpRunFiles(services: Services, opts: HttpRunFilesOptions): HttpRunFiles {
  const scratch = opts.scratchDir
  const maxUpload = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES
  const maxDatasetUpload = opts.maxDatasetUploadBytes ?? DEFAULT_MAX_DATASET_UPLOAD_BYTES
  // A folder of photos is bigger than four IDX files: 4 GB, streamed to disk (never held in memory).
  const maxImagesUpload = opts.maxImagesUploadBytes ?? 4 * 1024 ** 3
  let uploads = 0
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
    discard(d.path)
  }

  async function exportRun(res: ServerResponse, runId: number): Promise<void> {
    const path = scratchFile('.zip')
    const reply = await services.handle('runs.export', { runId, path })
    if (!reply.ok) {
      discard(path)
      // The scratch path is the server's business (and says where its data folder is).
      reply.error.message = reply.error.message.replaceAll(path, 'file').replaceAll(scratch, "the server's transfer folder")
      return sendJson(res, 200, reply)
    }
    const key = randomBytes(18).toString('base64url')
    const fileName = `conv-studio-run-${runId}.zip`
    downloads.set(key, { path, fileName, timer: setTimeout(() => forget(key), DOWNLOAD_TTL_MS).unref() })
    const link: RunExportLink = { url: `${filesHttp.prefix}downloads/${key}`, fileName, bytes: statSync(path).size }
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

  /** Runs an upload if fewer than MAX_CONCURRENT_UPLOADS are in progress; otherwise answers 503. */
  async function oneUpload(req: IncomingMessage, res: ServerResponse, body: () => Promise<void>): Promise<void> {
    if (uploads >= MAX_CONCURRENT_UPLOADS) {
      sendError(res, 503, new StudioError('unavailable', `${MAX_CONCURRENT_UPLOADS} uploads are already in progress; try again when one has finished.`))
      req.resume()
      return
    }
    uploads++
    try {
      await body()
    } finally {
      uploads--
    }
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
      discard(path)
    }
  }

  /**
   * The body as a web stream for Response.formData(), cut off at `cap`: past it nothing more is
   * kept, the rest is read and dropped (answering before the body is consumed would reset the
   * connection), and the stream ends in an error that formData() rejects with.
   */
  function cappedBody(req: IncomingMessage, cap: number, tooBig: StudioError): ReadableStream<Uint8Array> {
    const chunks = (req as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    let received = 0
    return new ReadableStream<Uint8Array>({
      async pull(ctl) {
        for (;;) {
          const { value, done } = await chunks.next()
          if (done) return received > cap ? ctl.error(tooBig) : ctl.close()
          received += value.length
          if (received <= cap) return ctl.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))
        }
      }
    })
  }

  async function importDataset(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tooBig = new StudioError('too_large', `The dataset files are larger than ${Math.round(maxDatasetUpload / 1024 ** 2)} MB together, the most this server takes.`)
    const declared = Number(req.headers['content-length'] ?? NaN)
    if (Number.isFinite(declared) && declared > maxDatasetUpload) {
      sendError(res, 413, tooBig)
      req.resume()
      return
    }
    const type = String(req.headers['content-type'] ?? '')
    if (!/^multipart\/form-data;/i.test(type)) {
      sendError(res, 415, new StudioError('invalid_argument', 'Send the IDX files as multipart/form-data (a FormData with the four files as "files").'))
      req.resume()
      return
    }
    let form: FormData
    try {
      form = await new Response(cappedBody(req, maxDatasetUpload, tooBig), { headers: { 'content-type': type } }).formData()
    } catch (err) {
      if (err === tooBig) return sendError(res, 413, tooBig)
      if (res.destroyed) return
      return sendError(res, 400, new StudioError('invalid_argument', 'The upload is not a readable form with the IDX files; choose the files again.'))
    }
    const files = form.getAll('files').filter((f): f is File => typeof f !== 'string')
    const titleField = form.get('title')
    const title = typeof titleField === 'string' && titleField.trim() ? titleField.trim() : 'Uploaded dataset'
    if (files.length !== 4)
      return sendError(res, 400, new StudioError('invalid_argument', `Choose the four IDX files (train and test images and labels); got ${files.length}.`))
    const names = new Set<string>()
    for (const f of files) {
      if (!IDX_FILE_NAME.test(f.name)) return sendError(res, 400, new StudioError('invalid_argument', `'${f.name.slice(0, 80)}' is not a usable IDX file name (letters, digits, . - _).`))
      if (names.has(f.name)) return sendError(res, 400, new StudioError('invalid_argument', `Two files are named ${f.name}.`))
      names.add(f.name)
    }
    const dir = mkdtempSync(join(scratch, 'dataset-'))
    try {
      for (const f of files) await pipeline(Readable.fromWeb(f.stream() as NodeReadableStream<Uint8Array>), createWriteStream(join(dir, f.name), { flags: 'wx' }))
      const reply = await services.handle('datasets.import', { path: dir, title })
      // Errors name the files by their own names, not by where the server put them.
      if (!reply.ok) reply.error.message = reply.error.message.replaceAll(dir + sep, '').replaceAll(dir, 'the uploaded files').replaceAll(scratch, "the server's transfer folder")
      sendJson(res, 200, reply)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      const message = e.code === 'ENOSPC' ? 'The disk is full: the upload could not be stored.' : 'The upload could not be stored on the server.'
      sendError(res, 507, new StudioError('storage_error', message))
    } finally {
      discard(dir)
    }
  }

  /** A zip of pictures (the page zips a picked folder): streamed to the scratch folder with a cap, then imported. */
  /**
   * A page's file, streamed into a scratch folder under `cap`, handed to one host-only method by
   * its path, the folder removed after. Errors name the upload, never where the server put it.
   */
  async function uploadThenCall(
    req: IncomingMessage,
    res: ServerResponse,
    o: { cap: number; tooBig: StudioError; fileName: string; shownAs: string; call: (path: string) => Promise<Reply<unknown>> }
  ): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? NaN)
    if (Number.isFinite(declared) && declared > o.cap) {
      sendError(res, 413, o.tooBig)
      req.resume()
      return
    }
    const dir = mkdtempSync(join(scratch, 'upload-'))
    const file = join(dir, o.fileName)
    try {
      try {
        await pipeline(Readable.fromWeb(cappedBody(req, o.cap, o.tooBig) as NodeReadableStream<Uint8Array>), createWriteStream(file, { flags: 'wx' }))
      } catch (err) {
        if (err === o.tooBig) return sendError(res, 413, o.tooBig)
        throw err
      }
      const reply = await o.call(file)
      if (!reply.ok) reply.error.message = reply.error.message.replaceAll(file, o.shownAs).replaceAll(scratch, "the server's transfer folder")
      sendJson(res, 200, reply)
    } catch (err) {
      if (res.destroyed) return
      const e = err as NodeJS.ErrnoException
      sendError(res, 507, new StudioError('storage_error', e.code === 'ENOSPC' ? 'The disk is full: the upload could not be stored.' : 'The upload could not be stored on the server.'))
    } finally {
      discard(dir)
    }
  }

  /** PyTorch weights for models.import, evaluated on a dataset the page names by its listed id. */
  async function importModel(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    // The services take a folder path as the dataset from a host; a page may only name a listed id.
    const unknown = await unknownDataset(services, query.get('dataset') ?? '')
    if (unknown) {
      sendError(res, unknown.code === 'not_found' ? 404 : 400, unknown)
      req.resume()
      return
    }
    const name = query.get('name')
    const fileName = oneLine(query.get('fileName') ?? '').slice(0, 200)
    const from = fileName ? `${fileName}, uploaded from a browser window` : 'an upload from a browser window'
    await uploadThenCall(req, res, {
      cap: maxUpload,
      tooBig: new StudioError('too_large', `The weights file is larger than ${Math.round(maxUpload / 1024 ** 2)} MB, the most this server takes.`),
      fileName: 'weights',
      shownAs: 'The uploaded file',
      call: (path) => services.handle('models.import', { path, from, model: query.get('model') ?? '', dataset: query.get('dataset') ?? '', ...(name ? { name } : {}) })
    })
  }

  async function importImages(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const num = (k: string) => (query.get(k) === null || query.get(k) === '' ? undefined : Number(query.get(k)))
    const channels = query.get('channels')
    await uploadThenCall(req, res, {
      cap: maxImagesUpload,
      tooBig: new StudioError('too_large', `The zip is larger than ${Math.round(maxImagesUpload / 1024 ** 3)} GB, the most this server takes.`),
      fileName: 'upload.zip',
      // Errors name the pictures by their place in the zip, not by where the server put it.
      shownAs: 'the uploaded zip',
      call: async (path) => {
        const name = query.get('name') ?? ''
        // The page went away while its pictures were decoded (its Cancel stopped the upload just as
        // it ended, or the tab closed): nobody waits for this import, so it keeps nothing.
        const gone = (): void => void services.handle('datasets.cancelImport', { name })
        res.once('close', gone)
        try {
          return await services.handle('datasets.importImages', {
            path,
            name,
            size: num('size'),
            channels: channels === '1' || channels === '3' ? Number(channels) : 'auto',
            policy: query.get('policy') ?? undefined,
            testSplit: num('testSplit'),
            from: 'an upload from a browser window'
          })
        } finally {
          res.off('close', gone)
        }
      }
    })
  }

  return {
    async handle(req, res, pathname) {
      // A browser worker's dataset and checkpoints (guarded by its run's key as well as the token).
      if (await services.browserWorkers.handleHttp(req, res, pathname)) return
      const rest = pathname.slice(filesHttp.prefix.length)
      const exportMatch = /^runs\/(\d{1,12})\/export$/.exec(rest)
      if (exportMatch && req.method === 'POST') return exportRun(res, Number(exportMatch[1]))
      const downloadMatch = DOWNLOAD_PATH.exec(pathname)
      if (downloadMatch && (req.method === 'GET' || req.method === 'HEAD')) return download(req, res, downloadMatch[1])
      if (pathname === filesHttp.importPath && req.method === 'POST') return oneUpload(req, res, () => importRun(req, res))
      if (pathname === filesHttp.datasetImportPath && req.method === 'POST') return oneUpload(req, res, () => importDataset(req, res))
      if (pathname === filesHttp.modelImportPath && req.method === 'POST')
        return oneUpload(req, res, () => importModel(req, res, new URL(req.url ?? '/', 'http://x').searchParams))
      if (pathname === filesHttp.datasetImagesPath && req.method === 'POST')
        return oneUpload(req, res, () => importImages(req, res, new URL(req.url ?? '/', 'http://x').searchParams))
      sendError(res, 404, new StudioError('not_found', `No ${req.method} ${pathname} here.`))
    },
    close() {
      for (const key of [...downloads.keys()]) forget(key)
      discard(scratch)
    }
  }
}
