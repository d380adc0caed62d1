// The imported model is written one weight at a time (AlexNet: no second and third copy of its
// 187 MB beside the model); the files must be exactly those model.save() gives.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildModel } from '../../../src/core/models/build'
import { modelToArtifacts } from '../../../src/core/models/io'
import { getPreset } from '../../../src/core/models/presets'
import { writeModelCheckpoint } from '../../../src/main/interop/evaluate'
import { checkpointProblem, writeCheckpoint, writeCheckpointStreamed } from '../../../src/main/storage/checkpoint'

const tmp = mkdtempSync(join(tmpdir(), 'interop-stream-'))
beforeAll(() => tf.ready())
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('writing a live model checkpoint weight by weight', () => {
  it('lenet5-modern (BatchNorm moving statistics included): model.json and weights.bin equal model.save()\'s, byte for byte', async () => {
    const model = buildModel(getPreset('lenet5-modern')!.spec, { init: 'default', seed: 5 })
    writeCheckpoint(join(tmp, 'saved'), await modelToArtifacts(model))
    await writeModelCheckpoint(join(tmp, 'streamed'), model)
    // Slices of 1000 values: the 48,000-value dense kernel goes out in 48 pieces.
    await writeModelCheckpoint(join(tmp, 'sliced'), model, 1000)
    model.dispose()
    for (const out of ['streamed', 'sliced']) {
      for (const f of ['model.json', 'weights.bin']) expect(readFileSync(join(tmp, out, f)).equals(readFileSync(join(tmp, 'saved', f))), `${out}/${f}`).toBe(true)
      expect(checkpointProblem(join(tmp, out))).toBeNull()
    }
    expect(tf.memory().numTensors).toBe(0)
  })

  it('bytes that do not add up to the specs are an error, not a checkpoint', async () => {
    async function* short() {
      yield new Uint8Array(4)
    }
    const head = { modelTopology: {}, weightSpecs: [{ name: 'dense/kernel', shape: [2, 2], dtype: 'float32' as const }] }
    await expect(writeCheckpointStreamed(join(tmp, 'short'), head, short())).rejects.toThrow(/4 bytes of weights were written, the specs declare 16/)
  })
})
