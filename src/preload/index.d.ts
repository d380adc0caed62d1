// What the preload puts on window: the renderer's API client uses it when present (Electron) and
// falls back to the WebSocket (web mode) when it is not.
import type { StudioApi } from '../shared/contract'

declare global {
  interface Window {
    studio?: StudioApi
    /** Electron only (see src/preload/index.ts). */
    studioShell?: {
      /** Opens the save dialog and exports the run there; resolves false if refused. */
      exportRun(runId: number): Promise<boolean>
      /** Where a picked file is on disk ('' for one that is not a file on disk). */
      pathForFile(file: File): string
    }
  }
}

export {}
