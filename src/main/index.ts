// Electron main: a thin shell around the shared services. One window, an app menu, a single-instance
// lock, native dialogs for import/export; every call from the page goes through services.handle,
// which validates it. The window is locked down: sandbox, context isolation, no Node, a strict CSP,
// no navigation, no new windows, IPC only from our own page.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell, utilityProcess, type MenuItemConstructorOptions } from 'electron'
import { createServices, type Services } from './services'
import type { ChildHandle, FromChild, Spawner } from './training-protocol'
import { bindIpc, trustedUrlChecker } from './transports/electron-ipc'

// The bundle is ESM (package.json "type": "module"): no __dirname, so derive it.
const here = dirname(fileURLToPath(import.meta.url))
const rendererFile = join(here, '../renderer/index.html')
const devServerUrl = process.env.ELECTRON_RENDERER_URL
const isTrusted = trustedUrlChecker(rendererFile, devServerUrl)

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

/** Training processes as Electron utility processes (the packaged app has no tsx and no `node`). */
const utilitySpawner: Spawner = () => {
  const child = utilityProcess.fork(join(here, 'training-process.js'), [], { serviceName: 'Conv Studio training', stdio: 'inherit' })
  let exited = false
  const handle: ChildHandle = {
    get pid() {
      return child.pid
    },
    send: (msg) => child.postMessage(msg),
    onMessage: (fn) => child.on('message', (m: unknown) => fn(m as FromChild)),
    onExit: (fn) =>
      child.once('exit', (code: number) => {
        if (exited) return
        exited = true
        // utilityProcess reports no signal; a killed child shows as a non-zero code.
        fn(code, null)
      }),
    kill: () => {
      child.kill()
    }
  }
  return handle
}

let mainWindow: BrowserWindow | null = null
let services: Services | null = null

async function invoke(method: string, args: unknown): Promise<unknown> {
  if (!services) throw new Error('services not started')
  const reply = await services.handle(method, args)
  if (!reply.ok) throw new Error(reply.error.message)
  return reply.value
}

async function importDataset(): Promise<void> {
  if (!mainWindow) return
  const r = await dialog.showOpenDialog(mainWindow, { title: 'Import a dataset (a folder holding the four IDX files)', properties: ['openDirectory'] })
  if (r.canceled || r.filePaths.length === 0) return
  try {
    await invoke('datasets.import', { path: r.filePaths[0] })
  } catch (err) {
    dialog.showErrorBox('Import failed', (err as Error).message)
  }
}

/** Export asks main for the path here, not the page: a page must never choose where files go. */
async function exportRun(runId: number): Promise<void> {
  if (!mainWindow) return
  const r = await dialog.showSaveDialog(mainWindow, { title: `Export run ${runId}`, defaultPath: `conv-studio-run-${runId}.zip` })
  if (r.canceled || !r.filePath) return
  try {
    await invoke('runs.export', { runId, path: r.filePath })
  } catch (err) {
    dialog.showErrorBox('Export failed', (err as Error).message)
  }
}

function buildMenu(): void {
  const isMac = process.platform === 'darwin'
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Import Dataset Folder…', accelerator: 'CmdOrCtrl+I', click: () => void importDataset() },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' }
      ]
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [{ label: 'Conv Studio on GitHub', click: () => void shell.openExternal('https://github.com/') }]
    }
  ]
  Menu.setApplicationMenu(Menu.buildFromTemplate(template))
}

function createWindow(): void {
  mainWindow = new BrowserWindow({
    width: 1280,
    height: 840,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Conv Studio',
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false
    }
  })
  mainWindow.once('ready-to-show', () => mainWindow?.show())
  mainWindow.on('closed', () => (mainWindow = null))
  const wc = mainWindow.webContents
  // Dropped files are read by the page (File API) and sent as bytes; navigation to them is refused.
  wc.on('will-navigate', (e, url) => {
    if (!isTrusted(url)) e.preventDefault()
  })
  wc.on('will-redirect', (e, url) => {
    if (!isTrusted(url)) e.preventDefault()
  })
  wc.setWindowOpenHandler(() => ({ action: 'deny' }))
  wc.on('will-attach-webview', (e) => e.preventDefault())
  if (devServerUrl) void mainWindow.loadURL(devServerUrl)
  else void mainWindow.loadFile(rendererFile)
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  app.on('second-instance', () => {
    if (!mainWindow) return
    if (mainWindow.isMinimized()) mainWindow.restore()
    mainWindow.focus()
  })
  app.on('web-contents-created', (_e, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })
  await app.whenReady()
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } })
  })
  // No permission (camera, notifications, ...) is ever needed.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))

  services = await createServices({ dataDir: app.getPath('userData'), host: 'electron', spawn: utilitySpawner })
  bindIpc(ipcMain, services, {
    isTrustedUrl: isTrusted,
    targets: () => (mainWindow ? [mainWindow.webContents] : [])
  })
  // The page asks for the save dialog; main picks the path (see exportRun).
  ipcMain.handle('studio:export-run', async (event, runId: unknown) => {
    if (!isTrusted(event.senderFrame?.url ?? '')) return false
    if (typeof runId !== 'number' || !Number.isInteger(runId) || runId < 1) return false
    await exportRun(runId)
    return true
  })
  buildMenu()
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
}

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
app.on('will-quit', () => {
  void services?.close()
})

start().catch((err: unknown) => {
  dialog.showErrorBox('Conv Studio could not start', err instanceof Error ? err.message : String(err))
  app.quit()
})
