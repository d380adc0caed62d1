// A real run store in a temp folder holding one run whose best weights are the committed LeNet-5
// (modern) trained on MNIST, as the predictor finds runs in the app.
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getPreset } from '../../../src/core/models/presets'
import { RunStore } from '../../../src/main/services/runs'
import { TrainConfigSchema } from '../../../src/shared/schemas'

export const FIXTURES = join(import.meta.dirname, '../../fixtures/predict')
export const CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']

export interface Setup {
  store: RunStore
  runId: number
  dir: string
  close(): void
}

export function setupRun(): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'predict-'))
  const store = RunStore.open(dir)
  const preset = getPreset('lenet5-modern')
  if (!preset) throw new Error('preset lenet5-modern is missing')
  const config = TrainConfigSchema.parse({
    model: 'lenet5-modern',
    spec: preset.spec,
    dataset: 'mnist',
    optimizer: 'adam',
    lr: 0.001,
    batchSize: 64,
    epochs: 8,
    seed: 1,
    validation: { source: 'test' },
    init: 'default'
  })
  const run = store.create(config, { classes: CLASSES, paramCount: 0 })
  cpSync(join(FIXTURES, 'model'), store.weightsDir(run.id, 'best'), { recursive: true })
  return {
    store,
    runId: run.id,
    dir,
    close() {
      store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface ManifestEntry {
  file: string
  format: string
  label: number
  index: number
  raw: string
}
