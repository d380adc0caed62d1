// A run store holding runs whose best weights are a seeded model (BatchNorm statistics included,
// so every exported tensor matters), and the app's own logits of such a run on raw pixels.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { buildModel } from '../../../src/core/models/build'
import { modelFromArtifacts, toInputTensor } from '../../../src/core/models/io'
import { getPreset } from '../../../src/core/models/presets'
import type { RunRecord } from '../../../src/shared/domain'
import { TrainConfigSchema, type ModelSpec, type TrainConfigInput } from '../../../src/shared/schemas'
import { writeModelCheckpoint } from '../../../src/main/interop/evaluate'
import { readCheckpoint } from '../../../src/main/storage/checkpoint'
import type { RunStore } from '../../../src/main/services/runs'

export const FIX = join(import.meta.dirname, '../../fixtures/interop')
export const fixture = JSON.parse(readFileSync(join(FIX, 'logits.json'), 'utf8')) as { count: number; size: number; logits: Record<string, number[][]> }
export const fixtureImages = new Uint8Array(readFileSync(join(FIX, 'images.u8')))

/** Seeded bytes: `count` pictures of size x size x channels, HWC as the datasets store them. */
export function seededImages(count: number, size: number, channels: number, seed = 11): Uint8Array {
  let s = seed
  return Uint8Array.from({ length: count * size * size * channels }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31), s >> 23))
}

/** A completed run of `preset` (spec edited by `spec`) whose best checkpoint is a seeded model with every weight random. */
export async function seededRun(store: RunStore, preset: string, o: { spec?: Partial<ModelSpec>; config?: Partial<TrainConfigInput>; seed?: number } = {}): Promise<RunRecord> {
  const spec = { ...getPreset(preset)!.spec, ...o.spec }
  const config = TrainConfigSchema.parse({ model: preset, spec, dataset: 'mnist', optimizer: 'sgd', lr: 0.1, batchSize: 32, epochs: 1, seed: 1, validation: { source: 'test' }, init: 'default', ...o.config })
  const run = store.create(config, { classes: Array.from({ length: spec.numClasses }, (_, i) => `class ${i}`), paramCount: 0 })
  const model = buildModel(spec, { init: 'default', seed: o.seed ?? 3 })
  // Random moving means and variances too: a fresh BatchNorm (0 and 1) would hide a swapped statistic.
  const random = model.weights.map((w, k) =>
    tf.tidy(() => {
      const r = tf.randomNormal(w.shape as number[], 0, 0.3, 'float32', (o.seed ?? 3) * 1000 + k)
      return w.originalName.endsWith('moving_variance') ? tf.add(tf.abs(r), 0.5) : r
    })
  )
  model.setWeights(random)
  tf.dispose(random)
  await writeModelCheckpoint(store.weightsDir(run.id, 'best'), model)
  model.dispose()
  return run
}

/** The app's logits of a run's best weights on raw bytes, prepared as training and prediction do (its normalisation included). */
export async function appLogits(store: RunStore, run: RunRecord, images: Uint8Array, count: number, size: number): Promise<number[][]> {
  const model = await modelFromArtifacts(readCheckpoint(store.weightsDir(run.id, 'best')))
  const x = toInputTensor(images, count, size, run.config.spec, run.config.normalize)
  const y = model.apply(x, { training: false }) as tf.Tensor2D
  const out = (await y.array()) as number[][]
  tf.dispose([x, y])
  model.dispose()
  return out
}

/** HWC bytes -> N x C x H x W float32 of pixel / 255: what the exported ONNX and PyTorch models take. */
export function nchwPixels(images: Uint8Array, count: number, size: number, channels: number): Float32Array {
  const out = new Float32Array(count * channels * size * size)
  for (let n = 0; n < count; n++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < channels; c++) out[((n * channels + c) * size + y) * size + x] = images[((n * size + y) * size + x) * channels + c] / 255
  return out
}

export const maxAbsDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))))
