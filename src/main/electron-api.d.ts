// The slice of Electron's API that the shell (src/main/index.ts) and the preload use, for machines
// WITHOUT the electron package: npm skips it on Node < 22.12 (Electron's engines), and the shell
// must still typecheck there. It is a fallback only: tsconfig.node.json's `paths` maps 'electron'
// to node_modules/electron first and to this file only when that is absent, and excludes it from
// the include globs, so wherever the package is installed (CI installs it) the code is checked
// against Electron's real electron.d.ts and this file is not in the program at all.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Listener = (...args: any[]) => void

export interface WebContents {
  on(event: 'will-navigate' | 'will-redirect', listener: (event: { preventDefault(): void }, url: string) => void): this
  on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): this
  on(event: 'did-finish-load', listener: () => void): this
  on(event: 'render-process-gone', listener: (event: unknown, details: { reason: string; exitCode: number }) => void): this
  getURL(): string
  postMessage(channel: string, message: unknown, transfer?: MessagePortMain[]): void
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void
  send(channel: string, ...args: unknown[]): void
  isDestroyed(): boolean
  reload(): void
}

export interface BrowserWindowConstructorOptions {
  width?: number
  height?: number
  minWidth?: number
  minHeight?: number
  show?: boolean
  title?: string
  webPreferences?: {
    preload?: string
    contextIsolation?: boolean
    sandbox?: boolean
    nodeIntegration?: boolean
    nodeIntegrationInWorker?: boolean
    webSecurity?: boolean
    backgroundThrottling?: boolean
    spellcheck?: boolean
  }
}

export interface MessagePortMain {
  postMessage(message: unknown, transfer?: MessagePortMain[]): void
  start(): void
  close(): void
  on(event: 'message', listener: (e: { data: any; ports: MessagePortMain[] }) => void): this
  once(event: 'close', listener: () => void): this
}
export class MessageChannelMain {
  readonly port1: MessagePortMain
  readonly port2: MessagePortMain
}

export class BrowserWindow {
  constructor(options?: BrowserWindowConstructorOptions)
  static getAllWindows(): BrowserWindow[]
  readonly webContents: WebContents
  once(event: 'ready-to-show', listener: () => void): this
  on(event: 'closed', listener: () => void): this
  loadURL(url: string): Promise<void>
  loadFile(path: string): Promise<void>
  show(): void
  isMinimized(): boolean
  restore(): void
  focus(): void
  isDestroyed(): boolean
  destroy(): void
}

export interface App {
  readonly isPackaged: boolean
  readonly commandLine: { getSwitchValue(name: string): string }
  getPath(name: 'userData' | 'home' | 'temp' | 'logs'): string
  getVersion(): string
  requestSingleInstanceLock(): boolean
  quit(): void
  exit(code?: number): void
  relaunch(): void
  whenReady(): Promise<void>
  on(event: 'second-instance' | 'activate' | 'window-all-closed' | 'will-quit', listener: () => void): this
  on(event: 'before-quit', listener: (event: { preventDefault(): void }) => void): this
  on(event: 'web-contents-created', listener: (event: unknown, contents: WebContents) => void): this
}
export const app: App

export interface FileFilter {
  name: string
  extensions: string[]
}
export interface OpenDialogOptions {
  title?: string
  defaultPath?: string
  filters?: FileFilter[]
  properties?: ('openFile' | 'openDirectory' | 'multiSelections' | 'createDirectory')[]
}
export interface MessageBoxOptions {
  message: string
  type?: 'none' | 'info' | 'error' | 'question' | 'warning'
  buttons?: string[]
  defaultId?: number
  cancelId?: number
  detail?: string
}
export const dialog: {
  showOpenDialog(window: BrowserWindow, options: OpenDialogOptions): Promise<{ canceled: boolean; filePaths: string[] }>
  showSaveDialog(window: BrowserWindow, options: Omit<OpenDialogOptions, 'properties'>): Promise<{ canceled: boolean; filePath?: string }>
  showMessageBox(options: MessageBoxOptions): Promise<{ response: number }>
  showErrorBox(title: string, content: string): void
}

export interface IpcMainInvokeEvent {
  senderFrame: { url: string } | null
}
export const ipcMain: {
  handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: any[]) => Promise<unknown> | unknown): void
  removeHandler(channel: string): void
}

export interface MenuItemConstructorOptions {
  label?: string
  role?: 'appMenu' | 'editMenu' | 'viewMenu' | 'windowMenu' | 'help' | 'close' | 'quit' | 'about'
  type?: 'separator' | 'normal'
  accelerator?: string
  click?: () => void
  submenu?: MenuItemConstructorOptions[]
}
export class Menu {
  static buildFromTemplate(template: MenuItemConstructorOptions[]): Menu
  static setApplicationMenu(menu: Menu | null): void
}

export const session: {
  defaultSession: {
    webRequest: {
      onHeadersReceived(
        listener: (
          details: { responseHeaders?: Record<string, string[]> },
          callback: (response: { responseHeaders: Record<string, string[]> }) => void
        ) => void
      ): void
    }
    setPermissionRequestHandler(handler: (wc: WebContents, permission: string, callback: (granted: boolean) => void) => void): void
  }
}

export const shell: { openExternal(url: string): Promise<void>; openPath(path: string): Promise<string> }

export const net: { fetch(input: string | Request, init?: RequestInit): Promise<Response> }

export interface CustomScheme {
  scheme: string
  privileges?: { standard?: boolean; secure?: boolean; supportFetchAPI?: boolean; corsEnabled?: boolean; stream?: boolean }
}
export const protocol: {
  registerSchemesAsPrivileged(schemes: CustomScheme[]): void
  handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void
}

export interface UtilityProcess {
  readonly pid: number | undefined
  readonly stdout: NodeJS.ReadableStream | null
  readonly stderr: NodeJS.ReadableStream | null
  postMessage(message: unknown): void
  on(event: 'message', listener: Listener): this
  once(event: 'exit', listener: (code: number) => void): this
  kill(): boolean
}
export const utilityProcess: {
  fork(
    modulePath: string,
    args?: string[],
    options?: { serviceName?: string; stdio?: 'inherit' | 'pipe' | 'ignore'; allowLoadingUnsignedLibraries?: boolean }
  ): UtilityProcess
}

export interface IpcRendererEvent {
  sender: unknown
  ports: MessagePort[]
}
export const ipcRenderer: {
  on(channel: string, listener: (event: IpcRendererEvent, ...args: any[]) => void): void
  invoke(channel: string, ...args: unknown[]): Promise<unknown>
}
export const contextBridge: { exposeInMainWorld(key: string, api: unknown): void }

declare global {
  namespace NodeJS {
    interface Process {
      /** Electron: the app's resources folder (extraResources land here). */
      readonly resourcesPath: string
    }
  }
}
