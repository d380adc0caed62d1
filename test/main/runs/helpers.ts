// Shared by the run-store tests: real temp folders, a real config, real tfjs-format checkpoint folders.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TrainConfigSchema, type TrainConfig, type TrainConfigInput } from '../../../src/shared/schemas'
import type { EpochRecord } from '../../../src/shared/domain'

export const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']

export function tempDir(prefix = 'runstore-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export function config(over: Partial<TrainConfigInput> = {}): TrainConfig {
  return TrainConfigSchema.parse({
    model: 'lenet5',
    spec: {
      name: 'LeNet-5',
      inputSize: 28,
      inputChannels: 1,
      numClasses: 10,
      layers: [
        { type: 'conv2d', outChannels: 6, kernelSize: 5, padding: 2 },
        { type: 'sigmoid' },
        { type: 'avgPool2d', kernelSize: 2, stride: 2 },
        { type: 'flatten' },
        { type: 'linear', outFeatures: 10 }
      ]
    },
    dataset: 'mnist-sample',
    optimizer: 'sgd',
    lr: 0.9,
    batchSize: 256,
    epochs: 10,
    seed: 1,
    validation: { source: 'test' },
    init: 'xavier',
    ...over
  })
}

export function epochRecord(epoch: number, valAcc = 0.5 + epoch / 100): EpochRecord {
  return { epoch, trainLoss: 2 / epoch, trainAcc: valAcc - 0.01, valLoss: 2.1 / epoch, valAcc, seconds: 1.5, examplesPerSec: 4000 }
}

export function confusion(n = 10, diag = 9): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? diag : 1)))
}

/** A tfjs checkpoint folder: model.json declaring one float32 tensor of `floats` values, and weights.bin. */
export function writeCheckpoint(dir: string, floats = 16, fill = 1): string {
  mkdirSync(dir, { recursive: true })
  const model = {
    format: 'layers-model',
    modelTopology: { class_name: 'Sequential' },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'dense/kernel', shape: [floats], dtype: 'float32' }] }]
  }
  writeFileSync(join(dir, 'model.json'), JSON.stringify(model))
  writeFileSync(join(dir, 'weights.bin'), Buffer.from(new Float32Array(floats).fill(fill).buffer))
  return dir
}
