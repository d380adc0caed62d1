// The slice of Electron's API that the shell (src/main/index.ts) and the preload use.
// Why declared here: `electron` is an optional dependency whose install step downloads the runtime;
// where that download fails, npm drops the package and its bundled electron.d.ts with it, and the
// shell must still typecheck on that machine (CI included). An ambient module declaration takes
// precedence over node_modules, so every machine checks against this same declaration.
declare module 'electron' {
  type Listener = (...args: any[]) => void // eslint-disable-line @typescript-eslint/no-explicit-any

  interface WebContents {
    on(event: 'will-navigate' | 'will-redirect', listener: (event: { preventDefault(): void }, url: string) => void): this
    on(event: 'will-attach-webview', listener: (event: { preventDefault(): void }) => void): this
    setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void
    send(channel: string, ...args: unknown[]): void
    isDestroyed(): boolean
  }

  interface BrowserWindowConstructorOptions {
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
      webSecurity?: boolean
      spellcheck?: boolean
    }
  }

  class BrowserWindow {
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
  }

  interface App {
    getPath(name: 'userData' | 'home' | 'temp'): string
    requestSingleInstanceLock(): boolean
    quit(): void
    whenReady(): Promise<void>
    on(event: 'second-instance' | 'activate' | 'window-all-closed' | 'will-quit', listener: () => void): this
    on(event: 'web-contents-created', listener: (event: unknown, contents: WebContents) => void): this
  }
  const app: App

  interface OpenDialogOptions {
    title?: string
    defaultPath?: string
    filters?: { name: string; extensions: string[] }[]
    properties?: ('openFile' | 'openDirectory' | 'multiSelections')[]
  }
  const dialog: {
    showOpenDialog(window: BrowserWindow, options: OpenDialogOptions): Promise<{ canceled: boolean; filePaths: string[] }>
    showSaveDialog(window: BrowserWindow, options: Omit<OpenDialogOptions, 'properties'>): Promise<{ canceled: boolean; filePath?: string }>
    showErrorBox(title: string, content: string): void
  }

  interface IpcMainInvokeEvent {
    senderFrame: { url: string } | null
  }
  const ipcMain: {
    handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: any[]) => Promise<unknown>): void // eslint-disable-line @typescript-eslint/no-explicit-any
    removeHandler(channel: string): void
  }

  interface MenuItemConstructorOptions {
    label?: string
    role?: 'appMenu' | 'editMenu' | 'viewMenu' | 'windowMenu' | 'help' | 'close' | 'quit'
    type?: 'separator' | 'normal'
    accelerator?: string
    click?: () => void
    submenu?: MenuItemConstructorOptions[]
  }
  class Menu {
    static buildFromTemplate(template: MenuItemConstructorOptions[]): Menu
    static setApplicationMenu(menu: Menu | null): void
  }

  const session: {
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

  const shell: { openExternal(url: string): Promise<void> }

  interface UtilityProcess {
    readonly pid: number | undefined
    postMessage(message: unknown): void
    on(event: 'message', listener: Listener): this
    once(event: 'exit', listener: (code: number) => void): this
    kill(): boolean
  }
  const utilityProcess: {
    fork(modulePath: string, args?: string[], options?: { serviceName?: string; stdio?: 'inherit' | 'pipe' | 'ignore' }): UtilityProcess
  }

  interface IpcRendererEvent {
    sender: unknown
  }
  const ipcRenderer: {
    on(channel: string, listener: (event: IpcRendererEvent, ...args: any[]) => void): void // eslint-disable-line @typescript-eslint/no-explicit-any
    invoke(channel: string, ...args: unknown[]): Promise<unknown>
  }
  const contextBridge: { exposeInMainWorld(key: string, api: unknown): void }
  const webUtils: { getPathForFile(file: File): string }
}
