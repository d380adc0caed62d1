// A PyTorch checkpoint file -> a tfjs model of a spec, with its weights. The format is told by the
// bytes, not the name: a zip is torch.save's format, anything starting with a plausible
// safetensors header length is safetensors; torch's pre-1.6 raw pickle files are refused (they
// need the pickle machinery this reader leaves out on purpose).
import * as tf from '@tensorflow/tfjs'
import type { ModelSpec } from '../../shared/schemas'
import { buildModel } from '../../core/models/build'
import { readFileHead, SafeReadError } from '../storage/safe-read'
import { loadWeights, MappingError, planWeights, tfjsLayerName, type WeightedLayer, type WeightPlan } from './mapping'
import { openSafetensors } from './safetensors'
import { CheckpointFileError, type CheckpointSource } from './tensors'
import { openTorchZip } from './torch-zip'

export { CheckpointFileError } from './tensors'
export { MappingError } from './mapping'

/** Opens a .pth/.pt (torch zip) or .safetensors file; throws CheckpointFileError or SafeReadError. */
export async function openCheckpointFile(path: string): Promise<CheckpointSource> {
  const head = readFileHead(path, 8)
  if (head.length === 0) throw new CheckpointFileError('the file is empty (0 bytes)')
  if (head[0] === 0x50 && head[1] === 0x4b) return openTorchZip(path)
  if (head[0] === 0x80 && head[1] <= 5)
    throw new CheckpointFileError('it is a raw pickle (torch.save before PyTorch 1.6, or pickle.dump); save it again with a current torch.save, or as .safetensors')
  if (head.length === 8) return openSafetensors(path)
  throw new CheckpointFileError(`the file is ${head.length} bytes, which is neither a torch.save zip nor safetensors`)
}

export interface ImportedWeights {
  model: tf.LayersModel
  plan: WeightPlan
  format: string
}

/**
 * Reads `path`, checks every tensor against the spec (names, dtypes, shapes) before reading values,
 * then fills a freshly built model one weight at a time.
 */
export async function importWeights(path: string, spec: ModelSpec): Promise<ImportedWeights> {
  const source = await openCheckpointFile(path)
  try {
    const plan = planWeights(spec, source.tensors)
    const model = buildModel(spec, { init: 'zeros', seed: 0 })
    try {
      // Layer by layer: a model's getWeights() lists every trainable weight before any moving statistic.
      let pending: tf.Tensor[] = []
      let current: WeightedLayer | null = null
      const flush = () => {
        if (current) model.getLayer(tfjsLayerName(current)).setWeights(pending)
        tf.dispose(pending)
        pending = []
      }
      try {
        for await (const w of loadWeights(plan)) {
          if (w.layer !== current) flush()
          current = w.layer
          pending.push(tf.tensor(w.values, w.shape, 'float32'))
        }
        flush()
      } finally {
        tf.dispose(pending)
      }
      return { model, plan, format: source.format }
    } catch (err) {
      model.dispose()
      throw err
    }
  } finally {
    source.close()
  }
}

/** A problem with the file or its fit, as one sentence about `path`; null for anything else (a bug). */
export function importProblem(err: unknown, path: string): string | null {
  if (err instanceof CheckpointFileError || err instanceof MappingError) return `${path}: ${err.message}`
  if (err instanceof SafeReadError) return err.message
  return null
}
