// Every failure crosses the boundary as one sentence with a code; a system error (what fs throws on
// a full disk) is the environment, not a bug, so it gets no stack trace in the log either.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { toErrorReply } from '../../../src/main/services'
import { StudioError } from '../../../src/shared/contract'

afterEach(() => vi.restoreAllMocks())

describe('toErrorReply', () => {
  it('turns a real file-system error into a storage_error sentence and logs no stack', () => {
    const dir = mkdtempSync(join(tmpdir(), 'errs-'))
    writeFileSync(join(dir, 'file'), 'x')
    let thrown: unknown
    try {
      // ENOTDIR: a folder under a file, as real as ENOSPC and reproducible anywhere.
      writeFileSync(join(dir, 'file', 'inside'), 'y')
    } catch (err) {
      thrown = err
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const reply = toErrorReply(thrown, 'training.start')
    expect(reply).toMatchObject({ ok: false, error: { code: 'storage_error' } })
    expect(!reply.ok && reply.error.message).toMatch(/^Could not complete training\.start: ENOTDIR/)
    expect(logged).not.toHaveBeenCalled()
  })

  it('keeps a StudioError as it is and logs a bug with its stack but answers one line', () => {
    expect(toErrorReply(new StudioError('not_found', 'There is no run 9.'), 'runs.get')).toEqual({ ok: false, error: { code: 'not_found', message: 'There is no run 9.' } })
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const reply = toErrorReply(new TypeError('x is undefined\n    at somewhere'), 'runs.get')
    expect(reply).toEqual({ ok: false, error: { code: 'internal', message: 'runs.get failed: x is undefined' } })
    expect(logged).toHaveBeenCalledOnce()
  })
})
