// The bridge between the sandboxed renderer and the services: window.studio implements StudioApi
// over two IPC channels. Only these two functions cross; the renderer never sees ipcRenderer.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron'
import type { EventName, Events, MethodArgs, MethodName, MethodResult, Reply, StudioApi } from '../shared/contract'

// Must equal INVOKE_CHANNEL / EVENT_CHANNEL in src/main/transports/electron-ipc.ts (the preload may
// not import main code).
const INVOKE_CHANNEL = 'studio:invoke'
const EVENT_CHANNEL = 'studio:event'

type Handler = (payload: unknown) => void
const handlers = new Map<EventName, Set<Handler>>()

ipcRenderer.on(EVENT_CHANNEL, (_e: IpcRendererEvent, msg: { event: EventName; payload: unknown }) => {
  const set = handlers.get(msg?.event)
  if (!set) return
  for (const h of set) h(msg.payload)
})

const api: StudioApi = {
  async invoke<M extends MethodName>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>> {
    const reply = (await ipcRenderer.invoke(INVOKE_CHANNEL, method, args)) as Reply<MethodResult<M>>
    if (reply.ok) return reply.value
    // A plain object, not an Error: contextBridge would keep only an Error's message, and the
    // renderer needs the code too (see renderer/src/api/errors.ts).
    throw { code: reply.error.code, message: reply.error.message }
  },
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    let set = handlers.get(event)
    if (!set) handlers.set(event, (set = new Set()))
    const h = handler as Handler
    set.add(h)
    return () => {
      set.delete(h)
    }
  }
}

contextBridge.exposeInMainWorld('studio', api)

// Electron-only extras: the native save dialog for exporting a run (main chooses the path), and the
// path of a file the person picked, which a sandboxed page cannot see itself.
contextBridge.exposeInMainWorld('studioShell', {
  exportRun: (runId: number): Promise<boolean> => ipcRenderer.invoke('studio:export-run', runId) as Promise<boolean>,
  pathForFile: (file: File): string => webUtils.getPathForFile(file)
})
