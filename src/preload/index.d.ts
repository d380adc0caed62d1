// What the preload puts on window: the renderer's API client uses it when present (Electron) and
// falls back to the WebSocket (web mode) when it is not.
import type { StudioApi } from '../shared/contract'
import type { DatasetInfo, ImageImportReport, RunRecord } from '../shared/domain'

declare global {
  interface Window {
    studio?: StudioApi
    /**
     * Electron only (see src/preload/index.ts): file actions whose paths main chooses in a native
     * dialog, since a page may never name a path (runs.export/runs.import/datasets.import are
     * host-only). Channels: src/shared/wire.ts.
     */
    studioShell?: {
      /** Opens the save dialog and exports the run there; resolves false if cancelled or refused. */
      exportRun(runId: number): Promise<boolean>
      /** Opens the open dialog for a run archive (.zip) and imports it; null if cancelled. Rejects with the import's error. */
      importRun(): Promise<RunRecord | null>
      /** Opens the folder dialog for the four IDX files and imports them; null if cancelled. Rejects with the import's error. */
      importDataset(): Promise<DatasetInfo | null>
      /** Opens the folder dialog for pictures (ImageFolder layout) and imports them with the page's
          choices; null if cancelled. Rejects with the import's error. */
      importImages(choice: { name: string; size?: number; channels?: 1 | 3 | 'auto'; policy?: 'stretch' | 'fit' | 'crop'; testSplit?: number }): Promise<{ info: DatasetInfo; report: ImageImportReport | null } | null>
      /** Opens the open dialog for a PyTorch checkpoint and imports it onto `model`, evaluated on `dataset`; null if cancelled. */
      importModel(choice: { model: string; dataset: string; name?: string }): Promise<RunRecord | null>
    }
  }
}

export {}
