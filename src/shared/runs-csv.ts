// All runs x epochs as one CSV for pandas (pd.read_csv): one row per run and epoch, the run's
// config fields beside; built by the services for runs.exportCsv, tested in the renderer's suite.
import type { EpochRecord } from './domain'

/** Runs × epochs as one CSV for pandas: one row per run and epoch, the run's config fields beside. */
export function runsEpochsCsv(rows: { run: { id: number; name: string; status: string; model: string; dataset: string; config: Record<string, unknown>; sweepId: number | null; testAcc: number | null }; epochs: EpochRecord[] }[]): string {
  const cfgKeys = ['optimizer', 'lr', 'momentum', 'weightDecay', 'batchSize', 'epochs', 'seed', 'init', 'trainLimit']
  const head = ['run_id', 'name', 'status', 'sweep_id', 'model', 'dataset', ...cfgKeys, 'test_acc', 'epoch', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'seconds']
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return ''
    const s = String(v)
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
  }
  const lines = [head.join(',')]
  for (const { run, epochs } of rows) {
    const fixed = [run.id, run.name, run.status, run.sweepId, run.model, run.dataset, ...cfgKeys.map((k) => run.config[k]), run.testAcc]
    for (const e of epochs) lines.push([...fixed, e.epoch, e.trainLoss, e.trainAcc, e.valLoss, e.valAcc, e.seconds].map(cell).join(','))
  }
  return lines.join('\n') + '\n'
}
