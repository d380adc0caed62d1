// What a run's config needs from its dataset before it is queued: a preset made for MNIST fitted
// to the data's channels, size and classes; 'dataset' normalisation resolved to the numbers of the
// training split (stored with the run, so prediction and exports repeat them exactly); and no
// augmentation on a digit set (a mirrored 2 is not a 2, a shifted 1 may be a 7's stroke).
import { channelStats } from '../../core/data/normalise'
import { fitSpecToData } from '../../core/models/fit'
import { getPreset } from '../../core/models/presets'
import { ModelSpecError } from '../../core/models/spec'
import { StudioError } from '../../shared/contract'
import type { ModelSpec, TrainConfig } from '../../shared/schemas'
import type { DatasetStore } from './datasets'

export async function prepareRunConfig(datasets: DatasetStore, config: TrainConfig): Promise<TrainConfig> {
  const wantsStats = config.normalize === 'dataset'
  const augments = config.augment.cropPadding > 0 || config.augment.flip
  const info = (await datasets.list()).find((d) => d.id === config.dataset)
  // A folder of IDX files named by path (the CLI) is gray 28x28 with its own classes: loaded only when needed.
  const needsData = wantsStats || !info
  const data = needsData ? await datasets.load(config.dataset) : null
  const shape: DatasetShape = info
    ? { channels: info.channels ?? 1, size: info.imageSize, numClasses: info.classes.length }
    : { channels: data!.train.channels ?? 1, size: data!.train.height, numClasses: data!.classes.length }
  const channels = shape.channels
  const size = shape.size
  const style = info ? info.style : data!.style
  if (augments && style === 'digits')
    throw new StudioError('invalid_argument', `Augmentation is off for digit sets ('${config.dataset}'): a mirrored or shifted digit can be another digit.`)
  const spec = fitRunSpec(config.model, config.spec, shape, config.dataset)
  const normalize = wantsStats ? channelStats(data!.train) : config.normalize
  if (normalize && normalize !== 'dataset' && (normalize.mean.length !== channels || normalize.std.length !== channels))
    throw new StudioError('invalid_argument', `normalize has ${normalize.mean.length} means for ${channels}-channel images.`)
  const report = info?.source === 'imported' ? datasets.importReport(config.dataset) : null
  const imagePrep = style === 'photos' ? { size, policy: report?.policy ?? 'stretch' } : null
  return { ...config, spec, normalize, imagePrep }
}

interface DatasetShape {
  channels: 1 | 3
  size: number
  numClasses: number
}

/**
 * The network a run of `model` trains on data of this shape: a preset's network follows the data;
 * a custom network is the person's, checked, not changed. New run shows this one (models.fit), so
 * its layers, summary and parameter count are those of the run it starts.
 */
export function fitRunSpec(model: string, spec: ModelSpec, shape: DatasetShape, datasetId: string): ModelSpec {
  const preset = getPreset(model)
  if (preset && (spec.inputChannels !== shape.channels || spec.numClasses !== shape.numClasses || (spec.inputSize <= 64 && spec.inputSize !== shape.size))) {
    try {
      return fitSpecToData(spec, shape)
    } catch (err) {
      if (err instanceof ModelSpecError) throw new StudioError('invalid_argument', err.message)
      throw err
    }
  }
  if (spec.inputChannels !== shape.channels)
    throw new StudioError('invalid_argument', `The network takes ${spec.inputChannels}-channel images but dataset '${datasetId}' has ${shape.channels}-channel images.`)
  return spec
}

/** models.fit: the preset fitted to a listed dataset (a window names an id, never a folder). */
export async function fitToListedDataset(datasets: DatasetStore, model: string, spec: ModelSpec, datasetId: string): Promise<ModelSpec> {
  const info = (await datasets.list()).find((d) => d.id === datasetId)
  if (!info) throw new StudioError('not_found', `No dataset '${datasetId}' is listed.`)
  return fitRunSpec(model, spec, { channels: info.channels ?? 1, size: info.imageSize, numClasses: info.classes.length }, datasetId)
}
