// Moving a run archive in and out: the one place that knows Electron does it with a save dialog and
// a file's path, and web mode with an HTTP download and upload beside the socket.
import { runFilesHttp, type Reply } from '../../../shared/contract'
import type { RunExportLink, RunRecord } from '../../../shared/domain'
import { toStudioError } from './errors'
import type { StudioClient } from './types'

export interface RunFiles {
  /** Saves the run's archive where the person chooses. */
  exportRun(runId: number): Promise<void>
  /** Imports an archive the person picked; resolves to the new run. */
  importRun(file: File): Promise<RunRecord>
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

export function createRunFiles(client: StudioClient): RunFiles {
  const shell = window.studioShell
  if (shell)
    return {
      exportRun: async (runId) => void (await shell.exportRun(runId)),
      importRun: (file) => client.invoke('runs.import', { path: shell.pathForFile(file) })
    }
  return {
    async exportRun(runId) {
      const link = await readReply<RunExportLink>(await fetch(runFilesHttp.exportPath(runId), { method: 'POST' }))
      const a = document.createElement('a')
      a.href = link.url
      a.download = link.fileName
      document.body.append(a)
      a.click()
      a.remove()
    },
    async importRun(file) {
      return readReply<RunRecord>(await fetch(runFilesHttp.importPath, { method: 'POST', body: file, headers: { 'Content-Type': 'application/zip' } }))
    }
  }
}
