// One file from a list of mirrors: streamed into a .part file, resumed with an HTTP Range request
// after a cut connection, checked against its md5, and only then renamed to its final name. A
// corrupt or partial file never reaches the final name.
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { StudioError } from '../../shared/contract'
import type { DownloadProgress } from '../../shared/domain'

export interface DownloadFileOptions {
  datasetId: string
  /** The file's name, as shown in progress and appended to each mirror base URL. */
  name: string
  md5: string
  mirrors: string[]
  dest: string
  part: string
  signal?: AbortSignal
  onProgress?: (p: DownloadProgress) => void
  /** Tries per mirror; each retry resumes from the .part file. */
  attempts?: number
  /** Minimum milliseconds between 'downloading' events. */
  progressIntervalMs?: number
}

export async function md5OfFile(path: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    url: string
  ) {
    super(`${url} answered HTTP ${status}`)
  }
}

/** Streams the rest of `url` into `part`; returns when the response body ends. */
async function fetchInto(url: string, o: DownloadFileOptions, emit: (p: Omit<DownloadProgress, 'datasetId' | 'file'>) => void): Promise<void> {
  const have = existsSync(o.part) ? statSync(o.part).size : 0
  const res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: o.signal })
  if (res.status === 416 && have > 0) {
    // The .part already holds everything the server has: let the md5 decide.
    await res.body?.cancel()
    return
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel()
    throw new HttpStatusError(res.status, url)
  }
  const resumed = res.status === 206
  const offset = resumed ? have : 0
  const length = res.headers.get('content-length')
  const rangeTotal = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')
  const total = rangeTotal ? Number(rangeTotal[1]) : length !== null ? offset + Number(length) : null
  const out = createWriteStream(o.part, { flags: resumed ? 'a' : 'w' })
  const closed = new Promise<void>((resolve, reject) => {
    out.on('close', resolve)
    out.on('error', reject)
  })
  let received = offset
  let last = 0
  try {
    if (!res.body) throw new Error(`${url}: the response has no body`)
    const reader = res.body.getReader()
    for (;;) {
      const { done, value: chunk } = await reader.read()
      if (done) break
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', r))
      received += chunk.byteLength
      const now = Date.now()
      if (now - last >= (o.progressIntervalMs ?? 100)) {
        last = now
        emit({ receivedBytes: received, totalBytes: total, phase: 'downloading', message: null })
      }
    }
  } finally {
    out.end()
    await closed
  }
  emit({ receivedBytes: received, totalBytes: total, phase: 'downloading', message: null })
  if (total !== null && received < total) throw new Error(`${url}: the connection ended after ${received} of ${total} bytes`)
}

/**
 * Downloads one file to `dest` (md5-checked). Network errors retry with a Range request from the
 * .part file; a 404 or an md5 mismatch moves on to the next mirror. Throws StudioError
 * ('unavailable' for network/HTTP failures, 'data_error' for a bad md5) when every try fails.
 */
export async function downloadFile(o: DownloadFileOptions): Promise<void> {
  const emit = (p: Omit<DownloadProgress, 'datasetId' | 'file'>) => o.onProgress?.({ datasetId: o.datasetId, file: o.name, ...p })
  await mkdir(dirname(o.part), { recursive: true })
  const problems: string[] = []
  let md5Failed = false
  for (const base of o.mirrors) {
    const url = base.endsWith('/') ? base + o.name : `${base}/${o.name}`
    for (let attempt = 0; attempt < (o.attempts ?? 3); attempt++) {
      try {
        await fetchInto(url, o, emit)
      } catch (err) {
        if (o.signal?.aborted) {
          emit({ receivedBytes: existsSync(o.part) ? statSync(o.part).size : 0, totalBytes: null, phase: 'error', message: 'cancelled' })
          throw new StudioError('unavailable', `Download of ${o.name} cancelled; ${o.part} is kept to resume later.`)
        }
        const why = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err)
        problems.push(`${url}: ${why}`)
        if (err instanceof HttpStatusError) break // next mirror
        continue // resume from the .part
      }
      const size = statSync(o.part).size
      emit({ receivedBytes: size, totalBytes: size, phase: 'verifying', message: null })
      const got = await md5OfFile(o.part)
      if (got === o.md5) {
        await mkdir(dirname(o.dest), { recursive: true })
        await rename(o.part, o.dest)
        emit({ receivedBytes: size, totalBytes: size, phase: 'done', message: null })
        return
      }
      md5Failed = true
      problems.push(`${url}: md5 ${got} does not match the expected ${o.md5}`)
      await rm(o.part, { force: true })
      break
    }
  }
  // The same failure on every retry is said once, with its count.
  const counted = new Map<string, number>()
  for (const p of problems) counted.set(p, (counted.get(p) ?? 0) + 1)
  const said = [...counted].map(([p, n]) => (n > 1 ? `${p} (${n} tries)` : p))
  const message = `Could not download ${o.name}: ${said.join('; ')}`
  emit({ receivedBytes: 0, totalBytes: null, phase: 'error', message })
  throw new StudioError(md5Failed ? 'data_error' : 'unavailable', message)
}
