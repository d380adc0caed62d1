// The desktop app's Chromium worker: "this browser's GPU" runs train in a hidden, sandboxed window
// (its own renderer process) that runs the same worker code as a web-mode tab (src/worker/gpu-window.ts
// starting worker.js). Main hands it one end of a MessageChannelMain once its page has loaded; the
// port carries the web mode's messages (src/shared/browser-gpu.ts PortToHost / PortToWindow) and the
// worker's route requests, and BrowserWorkers.connectPort records its runs exactly as a tab's (one
// writer). Its process dying (render-process-gone) or the window closing ends its runs
// 'interrupted' with the reason, the finished epochs and best weights kept; the window then comes
// back (a few times) so later runs have a GPU again.
import { BrowserWindow, MessageChannelMain, type MessagePortMain } from 'electron'
import { GPU_WINDOW_PORT } from '../../shared/browser-gpu'
import type { BrowserWorkers, HostPort, WindowLink } from './browser-worker'

export interface GpuWindowOptions {
  workers: BrowserWorkers
  /** app://studio/gpu-window.html (the renderer build's page). */
  url: string
  /** The window's preload (out/preload/gpu-window.cjs): it only forwards the port. */
  preload: string
  /** Our origin: the port goes only to a page loaded from it. */
  isTrusted(url: string): boolean
}

export interface GpuWindow {
  /** Quit: the window goes for good (its runs were ended by services.close before). */
  close(): void
}

/** Electron's MessagePortMain as the host's HostPort: its 'message' events carry `{ data }`. */
export function fromMessagePortMain(port: MessagePortMain): HostPort {
  return {
    postMessage: (m) => port.postMessage(m),
    onMessage: (fn) => port.on('message', (e) => fn(e.data)),
    onClose: (fn) => port.once('close', fn)
  }
}

/** How often a window that died is brought back before "this browser's GPU" stays unavailable. */
const MAX_RESTARTS = 3

export function crashReason(reason: string): string {
  return `The desktop app's GPU window stopped (${reason}) while training this run; the finished epochs and the best weights are kept.`
}

export function startGpuWindow(opts: GpuWindowOptions): GpuWindow {
  let win: BrowserWindow | null = null
  let link: WindowLink | null = null
  let restarts = 0
  let quitting = false

  const end = (reason?: string) => {
    link?.close(reason)
    link = null
  }

  const comeBack = () => {
    if (quitting || restarts >= MAX_RESTARTS) return
    restarts++
    setTimeout(open, 1000)
  }

  function open(): void {
    const w = new BrowserWindow({
      show: false,
      width: 320,
      height: 240,
      title: 'Conv Studio GPU',
      webPreferences: {
        preload: opts.preload,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        webSecurity: true,
        // A hidden window's timers are throttled by default; training must run at full speed.
        backgroundThrottling: false,
        spellcheck: false
      }
    })
    win = w
    const wc = w.webContents
    wc.on('will-navigate', (e) => e.preventDefault())
    wc.on('will-redirect', (e) => e.preventDefault())
    wc.setWindowOpenHandler(() => ({ action: 'deny' }))
    wc.on('will-attach-webview', (e) => e.preventDefault())
    // Each load of our page gets a fresh channel (a reload drops the old port, and with it its runs).
    wc.on('did-finish-load', () => {
      end()
      if (!opts.isTrusted(wc.getURL())) return
      const { port1, port2 } = new MessageChannelMain()
      link = opts.workers.connectPort(fromMessagePortMain(port1))
      port1.start()
      wc.postMessage(GPU_WINDOW_PORT, null, [port2])
    })
    wc.on('render-process-gone', (_e, details) => {
      end(crashReason(details.reason))
      if (!w.isDestroyed()) w.destroy()
    })
    w.on('closed', () => {
      end()
      if (win === w) win = null
      comeBack()
    })
    void w.loadURL(opts.url).catch((err: unknown) => console.error('[gpu-window] could not load its page:', (err as Error).message))
  }

  open()
  return {
    close() {
      quitting = true
      end()
      if (win && !win.isDestroyed()) win.destroy()
      win = null
    }
  }
}
