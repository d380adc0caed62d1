// Cancelling a picture import through the services door, as the Datasets view's Cancel button does:
// a real folder of drawn PNGs, the real store, the cancel sent while the pictures are being decoded
// (the first 'decoding' progress event). Nothing of it may be listed or left in the data folder.
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServices, type Services } from '../../../src/main/services'
import type { ImageImportProgress } from '../../../src/shared/domain'
import { makeShapesFolder } from '../../helpers/shapes'
import { tempDir } from '../../helpers/hosts'

const dir = tempDir('cs-cancel-import-')
let services: Services
let folder: string

beforeAll(async () => {
  services = await createServices({ dataDir: join(dir.path, 'data'), host: 'cli' })
  folder = join(dir.path, 'pictures')
  await makeShapesFolder(folder, { classes: { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'] } as never, perClass: 150, side: 32, formats: ['png'] })
}, 60_000)
afterAll(async () => {
  await services.close()
  dir.remove()
})

/** Everything under the data folder's datasets/, hidden temporary folders included. */
function datasetsDirEntries(): string[] {
  const d = join(dir.path, 'data', 'datasets')
  return existsSync(d) ? readdirSync(d) : []
}

describe('datasets.cancelImport', () => {
  it('cancelled mid-decode: the import fails as cancelled, no dataset is listed, no cache files are left', async () => {
    const before = datasetsDirEntries()
    const seen: (ImageImportProgress & { name: string })[] = []
    let cancelReply: unknown = null
    const off = services.events.subscribe((event, payload) => {
      if (event !== 'datasets.importProgress') return
      const p = payload as ImageImportProgress & { name: string }
      seen.push(p)
      if (p.phase === 'decoding' && cancelReply === null) cancelReply = services.handle('datasets.cancelImport', { name: 'to-cancel' })
    })
    const reply = await services.handle('datasets.importImages', { path: folder, name: 'to-cancel' })
    off()
    expect(await cancelReply).toEqual({ ok: true, value: { cancelled: true } })
    expect(reply.ok).toBe(false)
    if (!reply.ok) expect(reply.error.message).toBe('The import was cancelled; nothing was kept.')
    // It was stopped part way through decoding, and every window was told it stopped.
    expect(seen.some((p) => p.phase === 'decoding')).toBe(true)
    expect(seen.some((p) => p.phase === 'writing' || p.phase === 'done')).toBe(false)
    expect(seen.at(-1)).toMatchObject({ phase: 'stopped', name: 'to-cancel' })
    const list = await services.handle('datasets.list', {})
    expect(list.ok && (list.value as { id: string }[]).map((d) => d.id)).not.toContain('to-cancel')
    expect(datasetsDirEntries()).toEqual(before)
    // The name is free again: the same import, not cancelled, completes.
    const again = await services.handle('datasets.importImages', { path: folder, name: 'to-cancel' })
    expect(again.ok).toBe(true)
  }, 60_000)

  it('says so when no import of that name is running', async () => {
    expect(await services.handle('datasets.cancelImport', { name: 'nothing-here' })).toEqual({ ok: true, value: { cancelled: false } })
  })
})
