// The IPC binding with the contract. Electron cannot run on this machine, so ipcMain and webContents
// are small fakes here (and only here); the services behind them are real.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createServices, type Services } from '../../../src/main/services'
import { bindIpc, EVENT_CHANNEL, INVOKE_CHANNEL, trustedUrlChecker, type InvokeEventLike, type IpcMainLike } from '../../../src/main/transports/electron-ipc'
import { hostOnlyMethods } from '../../../src/shared/contract'
import { channels } from '../../../src/shared/wire'
import type { Reply } from '../../../src/shared/contract'
import { tempDir, tinyConfig } from '../../helpers/hosts'

class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>>()
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`)
    this.handlers.set(channel, listener)
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel)
  }
  invoke(url: string, ...args: unknown[]): Promise<Reply<unknown>> {
    const h = this.handlers.get(INVOKE_CHANNEL)
    if (!h) throw new Error('no handler')
    return h({ senderFrame: { url } }, ...args) as Promise<Reply<unknown>>
  }
}

const page = '/opt/Conv Studio/resources/app.asar/out/renderer/index.html'
const pageUrl = new URL(`file://${page}`).href
const dir = tempDir()
let services: Services
const ipc = new FakeIpcMain()
const sent: { channel: string; msg: { event: string; payload: Record<string, unknown> } }[] = []
let unbind: () => void

beforeAll(async () => {
  services = await createServices({ dataDir: dir.path, host: 'electron', version: '9.8.7' })
  unbind = bindIpc(ipc, services, {
    isTrustedUrl: trustedUrlChecker(page),
    targets: () => [{ isDestroyed: () => false, send: (channel: string, msg: unknown) => sent.push({ channel, msg: msg as (typeof sent)[number]['msg'] }) }]
  })
})

afterAll(async () => {
  await services.close()
  dir.remove()
})

it('answers contract methods from our own page and validates their arguments', async () => {
  // The version is the one the host passes (Electron: app.getVersion()), not a package.json a bundle lacks.
  expect(await ipc.invoke(pageUrl, 'app.info', {})).toMatchObject({ ok: true, value: { host: 'electron', dataDir: dir.path, version: '9.8.7' } })
  const presets = await ipc.invoke(pageUrl, 'models.presets', {})
  expect(presets.ok && (presets.value as { id: string }[]).map((p) => p.id)).toContain('lenet5')
  expect(await ipc.invoke(pageUrl, 'runs.get', { runId: 'one' })).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
  expect(await ipc.invoke(pageUrl, 'fs.readFile', { path: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
  expect(await ipc.invoke(pageUrl, 42)).toMatchObject({ ok: false, error: { code: 'invalid_argument' } })
})

it('refuses calls from any other frame', async () => {
  for (const url of ['https://evil.example/', 'file:///tmp/index.html', `${pageUrl}/../other.html`, '', 'about:blank']) {
    expect(await ipc.invoke(url, 'app.info', {})).toMatchObject({ ok: false, error: { code: 'unauthorized' } })
  }
  const dev = trustedUrlChecker(page, 'http://localhost:5173')
  expect(dev('http://localhost:5173/#/runs')).toBe(true)
  expect(dev('http://localhost:5174/')).toBe(false)
})

it('uses the channel names of the shared wire', () => {
  expect([INVOKE_CHANNEL, EVENT_CHANNEL]).toEqual([channels.invoke, channels.event])
  expect(ipc.handlers.has('studio:invoke')).toBe(true)
})

it('refuses the host-only methods from our own page: the page never names a path (D3)', async () => {
  expect(hostOnlyMethods).toEqual(expect.arrayContaining(['datasets.import', 'runs.export', 'runs.import']))
  const target = join(dir.path, 'written-by-the-page.zip')
  const calls: [string, unknown][] = [
    ['runs.export', { runId: 1, path: target }],
    ['runs.import', { path: '/etc/passwd' }],
    ['datasets.import', { path: '/root' }]
  ]
  for (const [method, args] of calls) expect(await ipc.invoke(pageUrl, method, args)).toMatchObject({ ok: false, error: { code: 'unauthorized' } })
  expect(existsSync(target)).toBe(false)
  // Main itself (after a dialog) still may.
  expect(await services.handle('datasets.import', { path: '/nonexistent-folder' })).toMatchObject({ ok: false, error: { code: 'data_error' } })
})

it('refuses a folder path or an unknown name as the dataset of training.start from the page', async () => {
  for (const dataset of ['/root', '../x', 'C:\\Windows', '~/data']) {
    const reply = await ipc.invoke(pageUrl, 'training.start', { config: tinyConfig({ dataset }) })
    expect(reply).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: expect.stringMatching(/not a folder path/) } })
  }
  expect(await ipc.invoke(pageUrl, 'training.start', { config: tinyConfig({ dataset: 'tmp' }) })).toMatchObject({ ok: false, error: { code: 'not_found' } })
  expect(services.runs.list({ limit: 10, offset: 0 }).total).toBe(0)
})

it('forwards contract events to the window', async () => {
  const started = await ipc.invoke(pageUrl, 'training.start', { config: tinyConfig() })
  expect(started.ok).toBe(true)
  const runId = (started as { ok: true; value: { id: number } }).value.id
  const cancelled = await ipc.invoke(pageUrl, 'training.cancel', { runId })
  expect(cancelled).toMatchObject({ ok: true, value: { runId, status: 'cancelled' } })
  const statuses = sent.filter((s) => s.channel === EVENT_CHANNEL && s.msg.event === 'training.status').map((s) => s.msg.payload.status)
  expect(statuses[0]).toBe('queued')
  expect(statuses[statuses.length - 1]).toBe('cancelled')
})

it('unbinds cleanly', () => {
  unbind()
  expect(ipc.handlers.size).toBe(0)
})
