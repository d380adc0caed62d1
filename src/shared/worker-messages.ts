// What every training worker reports about a run, declared once: the Node worker
// (src/main/training-process.ts, over fork IPC or utilityProcess) and the Chromium worker
// (src/worker, relayed by its page) send these shapes, and the host records them alike. JSON-safe:
// typed arrays travel as base64. Built from the trainer's results by core/training/report.ts.
import type { FilterSnapshot, LayerHistogram } from './domain'

export interface TestResultMessage {
  loss: number
  acc: number
  confusion: number[][]
  precision: (number | null)[]
  recall: (number | null)[]
  /** base64 of one byte per test example. */
  predictions: string
  labels: string
  /** base64 float32, one per test example: its probability of its true class (issue 18). */
  trueProbabilities?: string
}

/** What an epoch keeps for the inspection views (issue 18); absent from workers that do not record it. */
export interface EpochInspectionMessage {
  histograms: LayerHistogram[]
  filters: FilterSnapshot | null
  /** base64 float32, one per validation example, in `predictions` order. */
  trueProbabilities: string
}
