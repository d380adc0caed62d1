// Moving files in and out of the services: the one place that knows Electron does it with main's
// native dialogs (window.studioShell; main picks the path and imports) and web mode with HTTP
// downloads and uploads beside the socket. A window never names a path on the services' machine:
// runs.export, runs.import and datasets.import are host-only (src/shared/contract.ts).
import { filesHttp, type Reply } from '../../../shared/contract'
import type { DatasetInfo, RunExportLink, RunRecord } from '../../../shared/domain'
import { toStudioError } from './errors'
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

export interface DatasetFiles {
  readonly pickedBy: PickedBy
  /** Imports the four IDX files: those picked in the page (with an optional title), or (Electron) a folder chosen in the dialog. Null when cancelled. */
  importDataset(files?: File[], title?: string): Promise<DatasetInfo | null>
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
function post(path: string, body?: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(path, { method: 'POST', body, headers: { [filesHttp.tokenHeader]: pageToken(window.location, window.sessionStorage), ...headers } })
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

export function createDatasetFiles(): DatasetFiles {
  const shell = window.studioShell
  if (shell) return { pickedBy: 'dialog', importDataset: () => shell.importDataset() }
  return {
    pickedBy: 'file-input',
    async importDataset(files, title) {
      if (!files?.length) throw nothingPicked('the four IDX files')
      const form = new FormData()
      for (const f of files) form.append('files', f, f.name)
      if (title) form.append('title', title)
      return readReply<DatasetInfo>(await post(filesHttp.datasetImportPath, form))
    }
  }
}
