// The preload of the desktop app's hidden GPU window (src/main/transports/electron-gpu-window.ts).
// It exposes nothing: it only hands the MessagePort main sends on GPU_WINDOW_PORT to the page
// (context isolation keeps the preload's world apart, so the port crosses with window.postMessage,
// as Electron's "MessagePorts in Electron" shows), once the page's script is listening.
import { ipcRenderer, type IpcRendererEvent } from 'electron'
import { GPU_WINDOW_PORT } from '../shared/browser-gpu'

const loaded = new Promise<void>((resolve) => window.addEventListener('load', () => resolve(), { once: true }))

ipcRenderer.on(GPU_WINDOW_PORT, (e: IpcRendererEvent) => {
  void loaded.then(() => window.postMessage(GPU_WINDOW_PORT, '*', e.ports))
})
