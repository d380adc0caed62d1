// AlexNet (46,764,746 parameters, 187 MB of float32) through the PyTorch export and back through
// our own importer: the same logits. Slow by nature (a 187 MB model built, written, exported, read
// and run twice on 224 x 224 inputs): 7 s alone with the native tfjs backend (33 s beside other
// work on two cores), 12 s with wasm, so it needs no native build. Only on the pure-JavaScript
// 'cpu' backend (the last fallback, far slower at 224 x 224 convolutions) is it skipped, and its
// name says why.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, describe, expect, it } from 'vitest'
import { toInputTensor } from '../../../src/core/models/io'
import { selectBackend } from '../../../src/main/backends'
import { exportWeights } from '../../../src/main/interop/export'
import { importWeights } from '../../../src/main/interop/import'
import { RunStore } from '../../../src/main/services/runs'
import { appLogits, fixture, fixtureImages, maxAbsDiff, seededRun } from './helpers'

const backend = (await selectBackend('auto')).name
const dir = mkdtempSync(join(tmpdir(), 'interop-alexnet-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const COUNT = 4

describe('AlexNet round trip', () => {
  it.skipIf(backend === 'cpu')(`AlexNet (slow: 10-40 s; skipped on the pure-JS cpu backend, here ${backend}): exported as model.safetensors (187 MB) and imported back by our importer gives the same logits`, async () => {
    const store = RunStore.open(join(dir, 'data'))
    try {
      const run = await seededRun(store, 'alexnet', { seed: 9 })
      const app = await appLogits(store, run, fixtureImages, COUNT, fixture.size)
      const out = join(dir, 'pytorch')
      await exportWeights(store, run.id, 'pytorch', out, 'digits')
      expect(statSync(join(out, 'model.safetensors')).size).toBeGreaterThan(46_764_746 * 4)
      const back = await importWeights(join(out, 'model.safetensors'), run.config.spec)
      expect(back.plan.style).toBe('nn.Sequential keys')
      const x = toInputTensor(fixtureImages, COUNT, fixture.size, run.config.spec)
      const y = back.model.apply(x, { training: false }) as tf.Tensor2D
      const logits = (await y.array()) as number[][]
      tf.dispose([x, y])
      back.model.dispose()
      const diff = maxAbsDiff(logits, app)
      console.log(`[interop] AlexNet pytorch export re-imported (${backend}): max |logit diff| = ${diff.toExponential(2)}`)
      expect(diff).toBeLessThan(1e-6)
      expect(tf.memory().numTensors).toBeLessThan(50)
    } finally {
      store.close()
    }
  }, 300_000)
})
