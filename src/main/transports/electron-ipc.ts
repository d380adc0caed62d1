// The contract over Electron IPC: one invoke channel for every contract method (services.handle
// checks the name against the contract and the arguments against its schema), and one channel on
// which every contract event is pushed to our window. Requests from any frame other than our own
// page are refused before they reach a service, and so are the host-only methods (window-calls.ts):
// paths are chosen by main's dialogs, never by the page. Channel names: src/shared/wire.ts.
import type { EventName, Events, Reply } from '../../shared/contract'
import { channels, type WireEvent } from '../../shared/wire'
import type { Services } from '../services'
import { windowCalls } from './window-calls'

export const INVOKE_CHANNEL = channels.invoke
export const EVENT_CHANNEL = channels.event

/** The slice of Electron's IpcMainInvokeEvent we rely on. */
export interface InvokeEventLike {
  senderFrame: { url: string } | null
}

/** The slice of Electron's ipcMain we use; tests pass a fake, as Electron cannot run here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void
  removeHandler(channel: string): void
}

export interface WebContentsLike {
  isDestroyed(): boolean
  send(channel: string, ...args: unknown[]): void
}

export interface IpcBindingOptions {
  /** True for the URL of our own page (file://.../index.html, or the dev server in development). */
  isTrustedUrl(url: string): boolean
  /** Where events go: our window's webContents, while it exists. */
  targets(): WebContentsLike[]
}

/** Registers the handler and event forwarding; returns a function that undoes both. */
export function bindIpc(ipcMain: IpcMainLike, services: Services, opts: IpcBindingOptions): () => void {
  const calls = windowCalls(services)
  ipcMain.handle(INVOKE_CHANNEL, async (event, method, args): Promise<Reply<unknown>> => {
    const url = event.senderFrame?.url ?? ''
    if (!opts.isTrustedUrl(url)) {
      console.error(`[ipc] refused a call from an untrusted frame: ${url.slice(0, 200)}`)
      return { ok: false, error: { code: 'unauthorized', message: 'Calls are accepted only from the Conv Studio window.' } }
    }
    return calls.handle(method, args)
  })
  const unsubscribe = services.events.subscribe(<E extends EventName>(event: E, payload: Events[E]) => {
    for (const wc of opts.targets()) {
      if (!wc.isDestroyed()) wc.send(EVENT_CHANNEL, { event, payload } as WireEvent)
    }
  })
  return () => {
    ipcMain.removeHandler(INVOKE_CHANNEL)
    unsubscribe()
  }
}

/** Our page's URL: the packaged file, or the electron-vite dev server's origin. */
export function trustedUrlChecker(rendererFile: string, devServerUrl?: string): (url: string) => boolean {
  const fileUrl = new URL(`file://${rendererFile.startsWith('/') ? '' : '/'}${rendererFile.replace(/\\/g, '/')}`).href
  const devOrigin = devServerUrl ? new URL(devServerUrl).origin : null
  return (url: string) => {
    if (!url) return false
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return false
    }
    if (parsed.protocol === 'file:') return `${parsed.origin === 'null' ? 'file://' : parsed.origin}${parsed.pathname}` === fileUrl
    return devOrigin !== null && parsed.origin === devOrigin
  }
}
