// Reading a file someone named (a dropped image, an archive, an IDX file) without trusting the name:
// a FIFO blocks open() and read() forever, /dev/zero never ends, and stat() says 0 bytes for both.
// So: open non-blocking (a FIFO opens at once instead of waiting for a writer), fstat the descriptor
// we will read from (not the name, which can be swapped), refuse anything but a regular file, and
// never read more than the limit, whatever the size said.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { StudioError, type ErrorCode } from '../../shared/contract'

export type SafeReadProblem = 'missing' | 'not_file' | 'too_large' | 'unreadable'

const CODES: Record<SafeReadProblem, ErrorCode> = {
  missing: 'not_found',
  not_file: 'invalid_argument',
  too_large: 'too_large',
  unreadable: 'storage_error'
}

/** `reason` is the part after "<path>: ", so callers can fit it into their own sentence. */
export class SafeReadError extends StudioError {
  constructor(
    readonly problem: SafeReadProblem,
    readonly path: string,
    readonly reason: string
  ) {
    super(CODES[problem], `${path}: ${reason}`)
    this.name = 'SafeReadError'
  }
}

// Windows has no O_NONBLOCK (nor FIFOs in the file system); 0 leaves the flags as they are.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0)

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder'
  if (st.isFIFO()) return 'a named pipe (FIFO)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  return 'not a plain file'
}

export function megabytes(n: number): string {
  if (n < 1024 ** 2) return `${n.toLocaleString('en-US')} bytes`
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : `${(n / 1024 ** 2).toFixed(1)} MB`
}

function openError(path: string, err: unknown): SafeReadError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new SafeReadError('missing', path, 'no such file')
  if (code === 'EISDIR') return new SafeReadError('not_file', path, 'is a folder, not a file')
  return new SafeReadError('unreadable', path, `cannot be read (${code ?? (err as Error).message ?? String(err)})`)
}

function checkStats(path: string, st: Stats, limit: number): number {
  if (!st.isFile()) throw new SafeReadError('not_file', path, `is ${kindOf(st)}, not a regular file`)
  if (st.size > limit) throw new SafeReadError('too_large', path, `the file is ${megabytes(st.size)}; the limit is ${megabytes(limit)}`)
  return st.size
}

/** Opens `path` for reading if it is a regular file of at most `limit` bytes; the caller closes fd. */
export function openRegularFile(path: string, limit: number): { fd: number; size: number } {
  let fd: number
  try {
    fd = openSync(path, OPEN_FLAGS)
  } catch (err) {
    throw openError(path, err)
  }
  try {
    return { fd, size: checkStats(path, fstatSync(fd), limit) }
  } catch (err) {
    closeSync(fd)
    throw err instanceof SafeReadError ? err : openError(path, err)
  }
}

/** The whole file, at most `limit` bytes (a file that grows past the limit while read is refused). */
export function readRegularFile(path: string, limit: number): Buffer {
  const { fd, size } = openRegularFile(path, limit)
  try {
    const parts: Buffer[] = []
    let total = 0
    // One byte more than the limit tells "exactly at the limit" from "grew past it".
    for (let want = Math.min(size, limit) + 1; ; want = Math.min(1024 * 1024, limit + 1 - total)) {
      const buf = Buffer.allocUnsafe(Math.max(1, want))
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      parts.push(n === buf.length ? buf : buf.subarray(0, n))
      total += n
      if (total > limit) throw new SafeReadError('too_large', path, `the file is larger than ${megabytes(limit)}, the limit`)
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, total)
  } catch (err) {
    throw err instanceof SafeReadError ? err : openError(path, err)
  } finally {
    closeSync(fd)
  }
}

/** The async twin of readRegularFile, for code that must not block the event loop on big files. */
export async function readRegularFileAsync(path: string, limit: number): Promise<Buffer> {
  let fh: FileHandle
  try {
    fh = await open(path, OPEN_FLAGS)
  } catch (err) {
    throw openError(path, err)
  }
  try {
    const size = checkStats(path, await fh.stat(), limit)
    const parts: Buffer[] = []
    let total = 0
    for (let want = Math.min(size, limit) + 1; ; want = Math.min(8 * 1024 * 1024, limit + 1 - total)) {
      const buf = Buffer.allocUnsafe(Math.max(1, want))
      const { bytesRead } = await fh.read(buf, 0, buf.length, null)
      if (bytesRead === 0) break
      parts.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead))
      total += bytesRead
      if (total > limit) throw new SafeReadError('too_large', path, `the file is larger than ${megabytes(limit)}, the limit`)
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, total)
  } catch (err) {
    throw err instanceof SafeReadError ? err : openError(path, err)
  } finally {
    await fh.close()
  }
}

/** The first `n` bytes of a regular file (fewer if it is shorter). */
export function readFileHead(path: string, n: number): Buffer {
  const { fd } = openRegularFile(path, Number.MAX_SAFE_INTEGER)
  try {
    const buf = Buffer.alloc(n)
    return buf.subarray(0, readSync(fd, buf, 0, n, 0))
  } catch (err) {
    throw openError(path, err)
  } finally {
    closeSync(fd)
  }
}
