// What must hold before a run is queued: a network the dataset fits, and a dataset on this machine.
// Checked in the host, so a bad request fails at once instead of in a training process seconds later.
import { StudioError } from '../../shared/contract'
import type { TrainConfig } from '../../shared/schemas'
import { summarize } from '../../core/models/summary'
import type { DatasetStore } from './datasets'

export async function checkRunStart(datasets: DatasetStore, config: TrainConfig): Promise<{ classes: string[]; paramCount: number }> {
  if (config.spec.numClasses < 2) throw new StudioError('invalid_argument', 'config.spec.numClasses must be at least 2.')
  const summary = summarize(config.spec)
  const info = await datasets.info(config.dataset).catch(async (err: unknown) => {
    // A folder of IDX files (the CLI's `--dataset <folder>`) is not in the catalogue: load it to learn its classes.
    if (err instanceof StudioError && err.code === 'not_found') {
      const data = await datasets.load(config.dataset)
      return { classes: data.classes, status: 'ready' as const }
    }
    throw err
  })
  if (info.status !== 'ready')
    throw new StudioError('unavailable', `Dataset '${config.dataset}' is not on this machine yet (status '${info.status}'); download it first.`)
  if (info.classes.length !== config.spec.numClasses)
    throw new StudioError(
      'invalid_argument',
      `config.spec.numClasses is ${config.spec.numClasses} but dataset '${config.dataset}' has ${info.classes.length} classes.`
    )
  return { classes: info.classes, paramCount: summary.totalParams }
}
