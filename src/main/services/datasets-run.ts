// What a run's config needs from its dataset before it is queued: a preset made for MNIST fitted
// to the data's channels, size and classes; 'dataset' normalisation resolved to the numbers of the
// training split (stored with the run, so prediction and exports repeat them exactly); and no
// augmentation on a digit set (a mirrored 2 is not a 2, a shifted 1 may be a 7's stroke).
import { channelStats } from '../../core/data/normalise'
import { fitSpecToData } from '../../core/models/fit'
import { getPreset } from '../../core/models/presets'
import { ModelSpecError } from '../../core/models/spec'
import { StudioError } from '../../shared/contract'
import type { TrainConfig } from '../../shared/schemas'
import type { DatasetStore } from './datasets'

export async function prepareRunConfig(datasets: DatasetStore, config: TrainConfig): Promise<TrainConfig> {
  const wantsStats = config.normalize === 'dataset'
  const augments = config.augment.cropPadding > 0 || config.augment.flip
  const info = (await datasets.list()).find((d) => d.id === config.dataset)
  // A folder of IDX files named by path (the CLI) is gray 28x28 with its own classes: loaded only when needed.
  const needsData = wantsStats || !info
  const data = needsData ? await datasets.load(config.dataset) : null
  const channels = info ? (info.channels ?? 1) : (data!.train.channels ?? 1)
  const size = info ? info.imageSize : data!.train.height
  const numClasses = info ? info.classes.length : data!.classes.length
  const style = info ? info.style : data!.style
  if (augments && style === 'digits')
    throw new StudioError('invalid_argument', `Augmentation is off for digit sets ('${config.dataset}'): a mirrored or shifted digit can be another digit.`)
  let spec = config.spec
  const preset = getPreset(config.model)
  // A preset's network follows the data; a custom network is the person's: it is checked, not changed.
  if (preset && (spec.inputChannels !== channels || spec.numClasses !== numClasses || (spec.inputSize <= 64 && spec.inputSize !== size))) {
    try {
      spec = fitSpecToData(spec, { channels, size, numClasses })
    } catch (err) {
      if (err instanceof ModelSpecError) throw new StudioError('invalid_argument', err.message)
      throw err
    }
  } else if (spec.inputChannels !== channels) {
    throw new StudioError('invalid_argument', `The network takes ${spec.inputChannels}-channel images but dataset '${config.dataset}' has ${channels}-channel images.`)
  }
  const normalize = wantsStats ? channelStats(data!.train) : config.normalize
  if (normalize && normalize !== 'dataset' && (normalize.mean.length !== channels || normalize.std.length !== channels))
    throw new StudioError('invalid_argument', `normalize has ${normalize.mean.length} means for ${channels}-channel images.`)
  const report = info?.source === 'imported' ? datasets.importReport(config.dataset) : null
  const imagePrep = style === 'photos' ? { size, policy: report?.policy ?? 'stretch' } : null
  return { ...config, spec, normalize, imagePrep }
}
