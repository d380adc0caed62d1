import type { EpochRecord, RunCurves } from '../../../shared/domain'
import { csvCell } from '../stores/predict'

/** The metrics of a run as CSV: one block of epochs, then the batch-level steps. */
export function curvesToCsv(curves: Pick<RunCurves, 'epochs' | 'steps'>): string {
  const lines = ['kind,epoch,x,train_loss,train_acc,val_loss,val_acc,seconds,examples_per_sec']
  const e = (r: EpochRecord) => ['epoch', r.epoch, r.epoch, r.trainLoss, r.trainAcc, r.valLoss, r.valAcc, r.seconds, r.examplesPerSec]
  for (const r of curves.epochs) lines.push(e(r).map(csvCell).join(','))
  for (const s of curves.steps) lines.push(['step', Math.ceil(s.x), s.x, s.loss, s.acc, '', '', '', ''].map(csvCell).join(','))
  return lines.join('\n') + '\n'
}
