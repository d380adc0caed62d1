// The bridge between the sandboxed renderer and the services: window.studio implements StudioApi
// over two IPC channels. Only these two functions cross; the renderer never sees ipcRenderer.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import type { MethodArgs, MethodName, MethodResult, Reply, StudioApi } from '../shared/contract'
import type { DatasetInfo, RunRecord } from '../shared/domain'
import { channels, createEventHub, type WireEvent } from '../shared/wire'

// Shared with main (src/main/transports/electron-ipc.ts) through src/shared/wire.ts.
const INVOKE_CHANNEL = channels.invoke
const EVENT_CHANNEL = channels.event

const events = createEventHub()

ipcRenderer.on(EVENT_CHANNEL, (_e: IpcRendererEvent, msg: WireEvent) => {
  if (msg && typeof msg.event === 'string') events.emit(msg.event, msg.payload)
})

const api: StudioApi = {
  async invoke<M extends MethodName>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>> {
    const reply = (await ipcRenderer.invoke(INVOKE_CHANNEL, method, args)) as Reply<MethodResult<M>>
    if (reply.ok) return reply.value
    // A plain object, not an Error: contextBridge would keep only an Error's message, and the
    // renderer needs the code too (see renderer/src/api/errors.ts).
    throw { code: reply.error.code, message: reply.error.message }
  },
  on: (event, handler) => events.on(event, handler)
}

contextBridge.exposeInMainWorld('studio', api)

// Electron-only extras: file actions whose paths main picks in a native dialog (a page never names
// a path). Main answers with a Reply; a failure becomes the same plain {code, message} as invoke's.
async function shellCall<T>(channel: string, ...args: unknown[]): Promise<T> {
  const reply = (await ipcRenderer.invoke(channel, ...args)) as Reply<T>
  if (reply.ok) return reply.value
  throw { code: reply.error.code, message: reply.error.message }
}

contextBridge.exposeInMainWorld('studioShell', {
  exportRun: (runId: number): Promise<boolean> => shellCall<boolean>(channels.exportRun, runId),
  importRun: (): Promise<RunRecord | null> => shellCall<RunRecord | null>(channels.importRun),
  importDataset: (): Promise<DatasetInfo | null> => shellCall<DatasetInfo | null>(channels.importDataset),
  // The page's choices only (name, size, channels, policy, split); main picks the folder.
  importImages: (choice: unknown): Promise<unknown> => shellCall<unknown>(channels.importImages, choice),
  importModel: (choice: unknown): Promise<unknown> => shellCall<unknown>(channels.importModel, choice)
})
