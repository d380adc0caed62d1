// Moving files in and out of the services: the one place that knows Electron does it with main's
// native dialogs (window.studioShell; main picks the path and imports) and web mode with HTTP
// downloads and uploads beside the socket. A window never names a path on the services' machine:
// runs.export, runs.import and datasets.import are host-only (src/shared/contract.ts).
import { filesHttp, type Reply } from '../../../shared/contract'
import type { DatasetInfo, ImageImportReport, RunExportLink, RunRecord } from '../../../shared/domain'
import { toStudioError } from './errors'
import { storedZip } from './zip-store'
import { pageToken } from './ws-client'

/** How a person picks what to import: the native dialog (Electron), or the page's own file input (web mode). */
export type PickedBy = 'dialog' | 'file-input'

export interface RunFiles {
  readonly pickedBy: PickedBy
  /** Saves the run's archive where the person chooses. */
  exportRun(runId: number): Promise<void>
  /** Imports an archive: the one picked in the page's file input, or (Electron) one chosen in the dialog. Null when the dialog was cancelled. */
  importRun(file?: File): Promise<RunRecord | null>
}

export interface ImageImportChoice {
  name: string
  size?: number
  channels?: 1 | 3 | 'auto'
  policy?: 'stretch' | 'fit' | 'crop'
  testSplit?: number
}

export interface DatasetFiles {
  readonly pickedBy: PickedBy
  /** Imports pictures: a folder picked in the page (zipped here, stored: pictures are compressed
      already) or a .zip, uploaded over HTTP (web mode); in the desktop app main's folder dialog picks them (`files` unused). */
  importImages(files: File[], choice: ImageImportChoice, signal?: AbortSignal): Promise<{ info: DatasetInfo; report: ImageImportReport | null }>
  /** Imports the four IDX files: those picked in the page (with an optional title), or (Electron) a folder chosen in the dialog. Null when cancelled. */
  importDataset(files?: File[], title?: string): Promise<DatasetInfo | null>
}

export interface ModelImportChoice {
  /** The preset the weights belong to ('lenet5', ...). */
  model: string
  /** The dataset they are evaluated on (its test set). */
  dataset: string
  name?: string
}

export interface ModelFiles {
  readonly pickedBy: PickedBy
  /** Imports PyTorch weights (.pth/.pt/.safetensors): the file picked in the page, or (Electron) one
      chosen in main's dialog. Resolves to the recorded 'imported' run; null when the dialog was cancelled. */
  importModel(file: File | undefined, choice: ModelImportChoice): Promise<RunRecord | null>
}

async function readReply<T>(res: Response): Promise<T> {
  let reply: Reply<T>
  try {
    reply = (await res.json()) as Reply<T>
  } catch {
    throw toStudioError({ code: 'internal', message: `The server answered ${res.status} ${res.statusText} without a reason.` })
  }
  if (!reply.ok) throw toStudioError(reply.error)
  return reply.value
}

/** A POST to the server the page came from, with the access token (never a cookie). */
function post(path: string, body?: BodyInit, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(path, { method: 'POST', body, signal, headers: { [filesHttp.tokenHeader]: pageToken(window.location, window.sessionStorage), ...headers } })
}

function nothingPicked(what: string): Error {
  return toStudioError({ code: 'invalid_argument', message: `Choose ${what} first.` })
}

export function createRunFiles(): RunFiles {
  const shell = window.studioShell
  if (shell)
    return {
      pickedBy: 'dialog',
      exportRun: async (runId) => void (await shell.exportRun(runId)),
      importRun: () => shell.importRun()
    }
  return {
    pickedBy: 'file-input',
    async exportRun(runId) {
      const link = await readReply<RunExportLink>(await post(filesHttp.exportPath(runId)))
      // The one-time address carries its own key: a plain link can fetch it.
      const a = document.createElement('a')
      a.href = link.url
      a.download = link.fileName
      document.body.append(a)
      a.click()
      a.remove()
    },
    async importRun(file) {
      if (!file) throw nothingPicked('a run archive (.zip)')
      return readReply<RunRecord>(await post(filesHttp.importPath, file, { 'Content-Type': 'application/zip' }))
    }
  }
}

export function createModelFiles(): ModelFiles {
  const shell = window.studioShell
  if (shell) return { pickedBy: 'dialog', importModel: (_file, choice) => shell.importModel(choice) }
  return {
    pickedBy: 'file-input',
    async importModel(file, c) {
      if (!file) throw nothingPicked('a PyTorch weights file (.pth, .pt or .safetensors)')
      // The file's own name, for the run's notes (the server's copy is a scratch file).
      const q = new URLSearchParams({ model: c.model, dataset: c.dataset, fileName: file.name })
      if (c.name) q.set('name', c.name)
      return readReply<RunRecord>(await post(`${filesHttp.modelImportPath}?${q}`, file, { 'Content-Type': 'application/octet-stream' }))
    }
  }
}

/** One .zip as is, or the files of a picked folder zipped under their relative paths. */
async function asZip(files: File[]): Promise<Blob> {
  if (files.length === 1 && /\.zip$/i.test(files[0].name) && !files[0].webkitRelativePath) return files[0]
  // The plain zip format counts entries in 16 bits; past that, zip the folder on the machine (zip64).
  if (files.length > 65_535) throw toStudioError({ code: 'too_large', message: `The folder holds ${files.length} files; a page can send at most 65,535. Zip it first and pick the .zip.` })
  const entries: { name: string; data: Uint8Array }[] = []
  for (const f of files) entries.push({ name: f.webkitRelativePath || f.name, data: new Uint8Array(await f.arrayBuffer()) })
  return storedZip(entries)
}

/** `signal` stops the upload (datasets.cancelImport stops the import once the server has the pictures). */
async function uploadImages(files: File[], c: ImageImportChoice, signal?: AbortSignal): Promise<{ info: DatasetInfo; report: ImageImportReport | null }> {
  if (!files.length) throw nothingPicked('a folder of pictures or a .zip')
  const q = new URLSearchParams({ name: c.name })
  if (c.size) q.set('size', String(c.size))
  if (c.channels) q.set('channels', String(c.channels))
  if (c.policy) q.set('policy', c.policy)
  if (c.testSplit) q.set('testSplit', String(c.testSplit))
  return readReply(await post(`${filesHttp.datasetImagesPath}?${q}`, await asZip(files), { 'Content-Type': 'application/zip' }, signal))
}

export function createDatasetFiles(): DatasetFiles {
  const shell = window.studioShell
  if (shell)
    return {
      pickedBy: 'dialog',
      importDataset: () => shell.importDataset(),
      // Main's folder dialog picks the pictures (the desktop app has no HTTP route); the page sends only its choices.
      importImages: async (_files, choice) => {
        const r = await shell.importImages(choice)
        if (!r) throw toStudioError({ code: 'invalid_argument', message: 'No folder was chosen.' })
        return r
      }
    }
  return {
    pickedBy: 'file-input',
    importImages: uploadImages,
    async importDataset(files, title) {
      if (!files?.length) throw nothingPicked('the four IDX files')
      const form = new FormData()
      for (const f of files) form.append('files', f, f.name)
      if (title) form.append('title', title)
      return readReply<DatasetInfo>(await post(filesHttp.datasetImportPath, form))
    }
  }
}
