// The safe reader (review D5): FIFOs and devices are refused at once, never read; nothing past the
// limit is read, whatever stat said.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readFileHead, readRegularFile, readRegularFileAsync, SafeReadError } from '../../../src/main/storage/safe-read'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'safe-read-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

function problemOf(fn: () => unknown): { problem: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (err instanceof SafeReadError) return { problem: err.problem, message: err.message }
    throw err
  }
  throw new Error('no error')
}

describe('readRegularFile', () => {
  it('reads a regular file, also one exactly at the limit', async () => {
    writeFileSync(join(dir, 'a'), 'hello')
    expect(readRegularFile(join(dir, 'a'), 5).toString()).toBe('hello')
    expect((await readRegularFileAsync(join(dir, 'a'), 5)).toString()).toBe('hello')
    writeFileSync(join(dir, 'empty'), '')
    expect(readRegularFile(join(dir, 'empty'), 5).length).toBe(0)
    expect(readFileHead(join(dir, 'a'), 2).toString()).toBe('he')
  })

  it('refuses a FIFO at once instead of waiting for a writer', { timeout: 3000 }, async () => {
    const fifo = join(dir, 'fifo')
    execFileSync('mkfifo', [fifo])
    expect(problemOf(() => readRegularFile(fifo, 1024))).toEqual({ problem: 'not_file', message: `${fifo}: is a named pipe (FIFO), not a regular file` })
    await expect(readRegularFileAsync(fifo, 1024)).rejects.toMatchObject({ problem: 'not_file' })
    expect(problemOf(() => readFileHead(fifo, 2)).problem).toBe('not_file')
  })

  it('refuses /dev/zero, also behind a symlink with an innocent name', { timeout: 3000 }, async () => {
    expect(problemOf(() => readRegularFile('/dev/zero', 1024)).message).toBe('/dev/zero: is a character device, not a regular file')
    symlinkSync('/dev/zero', join(dir, 'digit.png'))
    expect(problemOf(() => readRegularFile(join(dir, 'digit.png'), 1024)).problem).toBe('not_file')
    await expect(readRegularFileAsync(join(dir, 'digit.png'), 1024)).rejects.toMatchObject({ problem: 'not_file' })
  })

  it('says what a folder, a missing file and a file over the limit are', () => {
    expect(problemOf(() => readRegularFile(dir, 10)).message).toMatch(/is a (folder, not a file|folder, not a regular file)/)
    expect(problemOf(() => readRegularFile(join(dir, 'nope'), 10))).toEqual({ problem: 'missing', message: `${join(dir, 'nope')}: no such file` })
    writeFileSync(join(dir, 'big'), Buffer.alloc(3 * 1024 * 1024))
    expect(problemOf(() => readRegularFile(join(dir, 'big'), 2 * 1024 * 1024))).toEqual({ problem: 'too_large', message: `${join(dir, 'big')}: the file is 3.0 MB; the limit is 2.0 MB` })
  })
})
