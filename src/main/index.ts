// Electron main: a thin shell around the shared services. One window, an app menu, a single-instance
// lock, native dialogs for import/export; every call from the page goes through the window
// transport, which validates it. The window is locked down: sandbox, context isolation, no Node, a
// strict CSP on a privileged app:// origin, no navigation, no new windows, IPC only from our page.
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  net,
  protocol,
  session,
  shell,
  utilityProcess,
  type IpcMainInvokeEvent,
  type MenuItemConstructorOptions
} from 'electron'
import log from 'electron-log/main'
import { StudioError, type Reply } from '../shared/contract'
import type { DatasetInfo, RunRecord } from '../shared/domain'
import { channels } from '../shared/wire'
import { APP_CSP, APP_HOST, APP_ORIGIN, mimeType, rendererFileFor } from './app-scheme'
import { SQLITE_BINDING_ENV } from './native-binding'
import { dataPaths, defaultDataDir, readSettings, writeSettings } from './paths'
import { createServices, type Services } from './services'
import type { ChildHandle, FromChild, Spawner } from './training-protocol'
import { bindIpc } from './transports/electron-ipc'
import { startGpuWindow, type GpuWindow } from './transports/electron-gpu-window'

// The bundle is ESM (package.json "type": "module"): no __dirname, so derive it.
const here = dirname(fileURLToPath(import.meta.url))
const rendererDir = resolve(here, '../renderer')

// A packaged app has no terminal: everything main and its training processes print goes to
// <logs>/main.log as well (electron-log: rotation, one file per process type, the de facto
// Electron logger). console.* is routed through it so the services' messages land there too.
log.transports.file.resolvePathFn = () => join(app.getPath('logs'), 'main.log')
Object.assign(console, log.functions)
log.errorHandler.startCatching({ showDialog: false })

// The page is served from app://studio/ rather than file://: a file:// page has no response headers
// (so no header CSP) and a null origin. Registered before ready, as protocol.registerSchemesAsPrivileged requires.
protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }])

/** electron-vite's dev server, only in development and only on this machine (never a packaged app's env). */
function devServer(): URL | null {
  const raw = app.isPackaged ? undefined : process.env.ELECTRON_RENDERER_URL
  if (!raw) return null
  try {
    const url = new URL(raw)
    if (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) return url
  } catch {
    // fall through
  }
  console.error(`[main] ignoring ELECTRON_RENDERER_URL=${raw.slice(0, 100)}: only http://localhost is allowed`)
  return null
}
const devUrl = devServer()

/** Our page: the app:// origin, or the dev server's origin in development. */
function isTrusted(url: string): boolean {
  try {
    const u = new URL(url)
    if (u.protocol === 'app:' && u.host === APP_HOST) return true
    return devUrl !== null && u.origin === devUrl.origin
  } catch {
    return false
  }
}


/** app://studio/<path> → out/renderer/<path>, with the strict CSP as a real response header. */
async function serveRenderer(request: Request): Promise<Response> {
  const file = request.method === 'GET' ? rendererFileFor(rendererDir, request.url) : null
  if (!file) return new Response('Not found', { status: 404 })
  const res = await net.fetch(pathToFileURL(file).toString())
  return new Response(res.body, {
    status: res.status,
    headers: { 'Content-Type': mimeType(file), 'Content-Security-Policy': APP_CSP, 'X-Content-Type-Options': 'nosniff' }
  })
}

/** Training and model-worker processes as Electron utility processes (the packaged app has no tsx and no `node`). */
const utilitySpawner: Spawner = () => {
  const child = utilityProcess.fork(join(here, 'training-process.js'), [], {
    serviceName: 'Conv Studio training',
    // Piped, not inherited: a packaged app's stdout goes nowhere, so the lines go to the log file.
    stdio: 'pipe',
    // macOS hardened runtime: libtensorflow and other unsigned native libraries may load here
    // (the helper is signed with disable-library-validation; see resources/entitlements.mac.plist).
    allowLoadingUnsignedLibraries: true
  })
  const forward = (level: 'info' | 'warn') => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) log[level](`[training ${child.pid ?? '?'}] ${line}`)
  }
  child.stdout?.on('data', forward('info'))
  child.stderr?.on('data', forward('warn'))
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
/** The hidden window whose Chromium WebGPU trains "this browser's GPU" runs. */
let gpuWindow: GpuWindow | null = null
let services: Services | null = null
let dataDir = ''

/** A host call: main, not the page, chose the path, so it goes to services.handle directly. */
async function host<T>(method: string, args: unknown): Promise<T> {
  if (!services) throw new StudioError('internal', 'Conv Studio is still starting.')
  const reply = await services.handle(method, args)
  if (!reply.ok) throw new StudioError(reply.error.code, reply.error.message)
  return reply.value as T
}

function asReply<T>(work: () => Promise<T>): Promise<Reply<T>> {
  return work().then(
    (value) => ({ ok: true, value }) as Reply<T>,
    (err: unknown) =>
      ({
        ok: false,
        error: err instanceof StudioError ? err.toValue() : { code: 'internal', message: err instanceof Error ? err.message : String(err) }
      }) as Reply<T>
  )
}

async function exportRun(runId: number): Promise<boolean> {
  if (!mainWindow) return false
  const r = await dialog.showSaveDialog(mainWindow, {
    title: `Export run ${runId}`,
    defaultPath: `conv-studio-run-${runId}.zip`,
    filters: [{ name: 'Conv Studio run', extensions: ['zip'] }]
  })
  if (r.canceled || !r.filePath) return false
  // A name typed without .zip would make the exporter treat it as a folder (that is for the CLI).
  const path = /\.zip$/i.test(r.filePath) ? r.filePath : `${r.filePath}.zip`
  await host('runs.export', { runId, path })
  return true
}

async function importRun(): Promise<RunRecord | null> {
  if (!mainWindow) return null
  const r = await dialog.showOpenDialog(mainWindow, {
    title: 'Import a run archive',
    properties: ['openFile'],
    filters: [{ name: 'Conv Studio run', extensions: ['zip'] }]
  })
  if (r.canceled || r.filePaths.length === 0) return null
  return host<RunRecord>('runs.import', { path: r.filePaths[0] })
}

async function importDataset(): Promise<DatasetInfo | null> {
  if (!mainWindow) return null
  const r = await dialog.showOpenDialog(mainWindow, { title: 'Import a dataset (a folder holding the four IDX files)', properties: ['openDirectory'] })
  if (r.canceled || r.filePaths.length === 0) return null
  return host<DatasetInfo>('datasets.import', { path: r.filePaths[0] })
}

/** A folder of pictures chosen in the dialog, imported with the page's choices (the services check them). */
async function importImages(choice: unknown): Promise<unknown> {
  if (!mainWindow) return null
  const r = await dialog.showOpenDialog(mainWindow, { title: 'Import a folder of pictures (<class>/<picture>, or train/ and test/)', properties: ['openDirectory'] })
  if (r.canceled || r.filePaths.length === 0) return null
  const c = choice && typeof choice === 'object' ? (choice as Record<string, unknown>) : {}
  // Only the choices: a page's object cannot smuggle a path in (path is set here, after the spread).
  const { name, size, channels, policy, testSplit } = c
  return host('datasets.importImages', { name, size, channels, policy, testSplit, path: r.filePaths[0] })
}

/** A PyTorch checkpoint chosen in the dialog, imported onto the page's preset and evaluated on its dataset. */
async function importModel(choice: unknown): Promise<RunRecord | null> {
  if (!mainWindow) return null
  const r = await dialog.showOpenDialog(mainWindow, {
    title: 'Import PyTorch weights (a state_dict saved with torch.save, or .safetensors)',
    properties: ['openFile'],
    filters: [{ name: 'PyTorch weights', extensions: ['pth', 'pt', 'safetensors'] }]
  })
  if (r.canceled || r.filePaths.length === 0) return null
  const c = choice && typeof choice === 'object' ? (choice as Record<string, unknown>) : {}
  // Only the choices: the path is main's (set after the spread).
  const { model, dataset, name } = c
  return host<RunRecord>('models.import', { model, dataset, name, path: r.filePaths[0] })
}

/** The menu's import: the same dialog as the page's button; a failure is a dialog, not a stack. */
async function importDatasetFromMenu(): Promise<void> {
  try {
    // The services announce the new dataset (datasets.changed); the Datasets view refreshes itself.
    await importDataset()
  } catch (err) {
    dialog.showErrorBox('Import failed', err instanceof Error ? err.message : String(err))
  }
}

/** File → Change Data Folder…: stored in the settings file every host reads, then a restart. */
async function changeDataFolder(): Promise<void> {
  if (!mainWindow) return
  const r = await dialog.showOpenDialog(mainWindow, {
    title: 'Choose the data folder (runs, datasets, checkpoints)',
    defaultPath: dataDir,
    properties: ['openDirectory', 'createDirectory']
  })
  if (r.canceled || r.filePaths.length === 0 || r.filePaths[0] === dataDir) return
  writeSettings({ ...readSettings(), dataDir: r.filePaths[0] })
  app.relaunch()
  app.quit()
}

function buildMenu(): void {
  const isMac = process.platform === 'darwin'
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Import Dataset Folder…', accelerator: 'CmdOrCtrl+I', click: () => void importDatasetFromMenu() },
        { label: 'Change Data Folder…', click: () => void changeDataFolder() },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' }
      ]
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    {
      role: 'help',
      submenu: [
        { label: 'Open Data Folder', click: () => void shell.openPath(dataDir) },
        { label: 'Open Logs Folder', click: () => void shell.openPath(app.getPath('logs')) },
        ...(isMac ? [] : [{ type: 'separator' as const }, { role: 'about' as const }])
      ]
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
  mainWindow.on('closed', () => {
    mainWindow = null
    // The hidden GPU window is a window too, so 'window-all-closed' never comes: closing ours is the cue.
    if (process.platform !== 'darwin') app.quit()
  })
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
  void mainWindow.loadURL(devUrl ? devUrl.href : `${APP_ORIGIN}/index.html`)
}

/**
 * The data folder: --data-dir=<dir>, else the one every host shares (paths.ts). A desktop install
 * from before that change kept its runs in userData: keep using it while the shared one is empty.
 */
function chooseDataDir(): string {
  const fromSwitch = app.commandLine.getSwitchValue('data-dir')
  if (fromSwitch) return resolve(fromSwitch)
  const shared = defaultDataDir()
  const legacy = app.getPath('userData')
  if (!existsSync(dataPaths(shared).database) && existsSync(dataPaths(legacy).database)) return legacy
  return shared
}

/** The shell channels: the page asks, main shows the dialog and picks the path. */
function handleShell(channel: string, work: (event: IpcMainInvokeEvent, ...args: unknown[]) => Promise<unknown>): void {
  ipcMain.handle(channel, (event, ...args) => {
    if (!isTrusted(event.senderFrame?.url ?? ''))
      return { ok: false, error: { code: 'unauthorized', message: 'Calls are accepted only from the Conv Studio window.' } }
    return asReply(() => work(event, ...args))
  })
}

async function start(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  app.on('second-instance', () => {
    // On macOS the app stays open with no window; a second launch should show one.
    if (!mainWindow) return createWindow()
    if (mainWindow.isMinimized()) mainWindow.restore()
    mainWindow.focus()
  })
  app.on('web-contents-created', (_e, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }))
  })
  await app.whenReady()
  protocol.handle('app', serveRenderer)
  // The dev server's responses get the same policy (app:// sets it in serveRenderer).
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP] } })
  })
  // No permission (camera, notifications, ...) is ever needed.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))

  // The packaged app ships better-sqlite3's Electron build as an extra resource (electron-builder.yml);
  // `npm start` sets the variable to its cached build (scripts/start.js).
  if (app.isPackaged && !process.env[SQLITE_BINDING_ENV])
    process.env[SQLITE_BINDING_ENV] = join(process.resourcesPath, 'native', 'better_sqlite3.node')

  dataDir = chooseDataDir()
  console.info(`[main] Conv Studio ${app.getVersion()} (Electron ${process.versions.electron}); data folder ${dataDir}`)
  services = await createServices({
    dataDir,
    host: 'electron',
    spawn: utilitySpawner,
    version: app.getVersion(),
    // electron-builder.yml's extraResources (scripts/bundle-datasets.ts); development reads the npm packages.
    shippedDatasetsDir: app.isPackaged ? join(process.resourcesPath, 'datasets') : undefined
  })
  bindIpc(ipcMain, services, { isTrustedUrl: isTrusted, targets: () => (mainWindow ? [mainWindow.webContents] : []) })
  handleShell(channels.exportRun, async (_e, runId) => {
    if (typeof runId !== 'number' || !Number.isInteger(runId) || runId < 1) return false
    return exportRun(runId)
  })
  handleShell(channels.importRun, () => importRun())
  handleShell(channels.importDataset, () => importDataset())
  handleShell(channels.importImages, (_e, choice) => importImages(choice))
  handleShell(channels.importModel, (_e, choice) => importModel(choice))
  buildMenu()
  createWindow()
  // Trains "this browser's GPU" runs, as a web-mode tab does; its page registers the adapter, which
  // the Device view and New run then show.
  gpuWindow = startGpuWindow({
    workers: services.browserWorkers,
    url: `${APP_ORIGIN}/gpu-window.html`,
    preload: join(here, '../preload/gpu-window.cjs'),
    isTrusted: (url) => {
      try {
        const u = new URL(url)
        return u.protocol === 'app:' && u.host === APP_HOST && u.pathname === '/gpu-window.html'
      } catch {
        return false
      }
    }
  })
  app.on('activate', () => {
    if (!mainWindow) createWindow()
  })
}

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})

// Quit waits for services.close() (runs still training end as 'interrupted', the database is
// closed cleanly) and first asks when a run is training. Electron's pattern: preventDefault in
// before-quit, do the async work, then app.exit().
let quitting = false
app.on('before-quit', (e) => {
  const running = services
  if (quitting || !running) return
  e.preventDefault()
  void (async () => {
    const active = running.training.activeRuns().length
    if (active > 0) {
      const choice = await dialog.showMessageBox({
        type: 'warning',
        buttons: ['Quit', 'Keep training'],
        defaultId: 1,
        cancelId: 1,
        message: active === 1 ? 'A run is training.' : `${active} runs are training.`,
        detail: 'Quitting stops them; they are kept as interrupted with the epochs finished so far.'
      })
      if (choice.response !== 0) return
    }
    quitting = true
    try {
      await running.close()
      gpuWindow?.close()
    } catch (err) {
      console.error('[main] closing the services failed:', err)
    }
    app.exit(0)
  })()
})

start().catch((err: unknown) => {
  console.error('[main] could not start:', err)
  dialog.showErrorBox('Conv Studio could not start', err instanceof Error ? err.message : String(err))
  app.exit(1)
})
