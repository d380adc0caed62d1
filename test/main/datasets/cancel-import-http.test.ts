// Web mode's picture upload when the page goes away during the import (its Cancel stopped the
// upload just as the last byte left, or the tab closed): a real server on 127.0.0.1, a real zip of
// drawn PNGs, the request aborted once the server is decoding. Nobody waits for that import any
// more, so it must keep nothing: no dataset listed, no cache files, no scratch copy of the upload.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import yazl from 'yazl'
import { startServer, type RunningServer } from '../../../src/main/server'
import { filesHttp } from '../../../src/shared/contract'
import type { ImageImportProgress } from '../../../src/shared/domain'
import { makeShapesFolder } from '../../helpers/shapes'
import { tempDir } from '../../helpers/hosts'

const dir = tempDir('cs-cancel-http-')
const dataDir = join(dir.path, 'data')
let server: RunningServer
let zip: Buffer

function zipFolder(root: string, files: string[]): Promise<Buffer> {
  const z = new yazl.ZipFile()
  for (const f of files) z.addBuffer(readFileSync(join(root, f)), relative(root, join(root, f)))
  z.end()
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    z.outputStream.on('data', (c: Buffer) => chunks.push(c))
    z.outputStream.on('end', () => resolve(Buffer.concat(chunks)))
    z.outputStream.on('error', reject)
  })
}

beforeAll(async () => {
  const folder = join(dir.path, 'pictures')
  const files = await makeShapesFolder(folder, { classes: { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'] } as never, perClass: 200, side: 32, formats: ['png'] })
  zip = await zipFolder(folder, files)
  const web = join(dir.path, 'web')
  mkdirSync(web, { recursive: true })
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>Conv Studio</title>')
  server = await startServer({ port: 0, dataDir, staticDir: web })
}, 60_000)
afterAll(async () => {
  await server?.close()
  dir.remove()
})

describe('a picture upload whose page went away', () => {
  it('is cancelled when the request closes during decoding: nothing listed, no cache files, no scratch copy', async () => {
    const datasets = join(dataDir, 'datasets')
    const before = existsSync(datasets) ? readdirSync(datasets) : []
    const ctl = new AbortController()
    const phases: string[] = []
    const ended = new Promise<void>((resolve) =>
      server.services.events.subscribe((event, payload) => {
        if (event !== 'datasets.importProgress') return
        const p = payload as ImageImportProgress & { name: string }
        phases.push(p.phase)
        if (p.phase === 'decoding') ctl.abort()
        if (p.phase === 'stopped' || p.phase === 'done') resolve()
      })
    )
    const url = `http://127.0.0.1:${server.port}${filesHttp.datasetImagesPath}?name=went-away`
    const sent = fetch(url, { method: 'POST', body: new Uint8Array(zip), signal: ctl.signal, headers: { 'x-conv-studio-token': server.token, Origin: `http://127.0.0.1:${server.port}`, 'Content-Type': 'application/zip' } })
    await expect(sent).rejects.toThrow(/abort/i)
    await ended
    expect(phases).not.toContain('done')
    expect(phases.at(-1)).toBe('stopped')
    const list = await server.services.handle('datasets.list', {})
    expect(list.ok && (list.value as { id: string }[]).map((d) => d.id)).not.toContain('went-away')
    expect(existsSync(datasets) ? readdirSync(datasets) : []).toEqual(before)
    const scratch = join(dataDir, 'web-transfers')
    await expect.poll(() => (existsSync(scratch) ? readdirSync(scratch) : [])).toEqual([])
  }, 60_000)
})
