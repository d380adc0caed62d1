import type { EpochRecord, RunCurves } from '../../../shared/domain'
import { csvCell } from '../stores/predict'

/** Per-class precision and recall from matrix[true][predicted]; null where undefined (no support). */
export function perClass(matrix: number[][]): { precision: (number | null)[]; recall: (number | null)[]; support: number[] } {
  const n = matrix.length
  const precision: (number | null)[] = []
  const recall: (number | null)[] = []
  const support: number[] = []
  for (let c = 0; c < n; c++) {
    const tp = matrix[c][c]
    let row = 0
    let col = 0
    for (let k = 0; k < n; k++) {
      row += matrix[c][k]
      col += matrix[k][c]
    }
    support.push(row)
    recall.push(row ? tp / row : null)
    precision.push(col ? tp / col : null)
  }
  return { precision, recall, support }
}

export function accuracy(matrix: number[][]): number | null {
  let right = 0
  let all = 0
  matrix.forEach((row, t) => row.forEach((v, p) => ((all += v), t === p && (right += v))))
  return all ? right / all : null
}

/** The metrics of a run as CSV: one block of epochs, then the batch-level steps. */
export function curvesToCsv(curves: Pick<RunCurves, 'epochs' | 'steps'>): string {
  const lines = ['kind,epoch,x,train_loss,train_acc,val_loss,val_acc,seconds,examples_per_sec']
  const e = (r: EpochRecord) => ['epoch', r.epoch, r.epoch, r.trainLoss, r.trainAcc, r.valLoss, r.valAcc, r.seconds, r.examplesPerSec]
  for (const r of curves.epochs) lines.push(e(r).map(csvCell).join(','))
  for (const s of curves.steps) lines.push(['step', Math.ceil(s.x), s.x, s.loss, s.acc, '', '', '', ''].map(csvCell).join(','))
  return lines.join('\n') + '\n'
}
