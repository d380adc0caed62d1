// What the preload puts on window: the renderer's API client uses it when present (Electron) and
// falls back to the WebSocket (web mode) when it is not.
import type { StudioApi } from '../shared/contract'

declare global {
  interface Window {
    studio?: StudioApi
    /** Electron only: opens the save dialog and exports the run there; resolves false if refused. */
    studioShell?: { exportRun(runId: number): Promise<boolean> }
  }
}

export {}
