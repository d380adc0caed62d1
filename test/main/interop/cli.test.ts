// The commands as a person types them: models import --json (the last line holds runId and
// testAcc), runs predictions --json, runs export --format ... --out, and their one-line errors.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { Command } from 'commander'
import { afterAll, describe, expect, it } from 'vitest'
import { register as registerModels } from '../../../src/main/cli/models'
import { register as registerRuns } from '../../../src/main/cli/runs'
import { register as registerInterop } from '../../../src/main/cli/interop'
import { register as registerTrain } from '../../../src/main/cli/train'
import { selectBackend } from '../../../src/main/backends'
import { splitIndices } from '../../../src/core/data/split'
import { modelFromArtifacts, toInputTensor } from '../../../src/core/models/io'
import { DatasetStore } from '../../../src/main/services/datasets'
import { RunStore } from '../../../src/main/services/runs'
import { readCheckpoint } from '../../../src/main/storage/checkpoint'
import { runCli } from '../../helpers/cli'

const FIX = join(__dirname, '../../fixtures/interop')
const DATASET = join(__dirname, '../../fixtures/data/tiny-raw')
const dir = mkdtempSync(join(tmpdir(), 'interop-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const data = join(dir, 'data')
const register = (p: Command) => {
  registerModels(p)
  registerRuns(p)
  registerInterop(p)
}

describe('conv-studio models import / runs predictions / runs export --format', () => {
  let runId = 0
  it('models import --json: the last line holds runId and testAcc', async () => {
    const r = await runCli(register, data, ['models', 'import', join(FIX, 'lenet5-sequential.pth'), '--model', 'lenet5', '--dataset', DATASET, '--name', 'from torch', '--json'])
    expect(r.code).toBe(0)
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    expect(last).toMatchObject({ runId: expect.any(Number), testAcc: expect.any(Number), run: { name: 'from torch', tags: ['imported'] } })
    runId = last.runId
  })

  it('runs predictions --json prints one class per test example', async () => {
    const r = await runCli(register, data, ['runs', 'predictions', String(runId), '--json'])
    expect(r.code).toBe(0)
    const classes = JSON.parse(r.stdout) as number[]
    expect(classes.length).toBeGreaterThan(0)
    expect(classes.every((c) => Number.isInteger(c) && c >= 0 && c < 10)).toBe(true)
  })

  it('runs export --format onnx --out writes model.onnx and metadata.json', async () => {
    const out = join(dir, 'onnx')
    const r = await runCli(register, data, ['runs', 'export', String(runId), '--format', 'onnx', '--out', out])
    expect(r).toMatchObject({ code: 0, stdout: `${out}\n` })
    expect(readdirSync(out).sort()).toEqual(['metadata.json', 'model.onnx'])
  })

  it('runs export without a path is a usage error', async () => {
    const r = await runCli(register, data, ['runs', 'export', String(runId), '--format', 'pytorch'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: Say where to write/)
  })

  it('models import of an unknown preset is a usage error and records nothing', async () => {
    const r = await runCli(register, data, ['models', 'import', join(FIX, 'lenet5-sequential.pth'), '--model', 'resnet', '--dataset', DATASET])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^error: Unknown model preset 'resnet'; known: lenet5/m)
    const list = await runCli(register, data, ['runs', 'list', '--json'])
    expect(JSON.parse(list.stdout).total).toBe(1)
  })

  it('models import of a file that is no checkpoint is one line on stderr, no stack', async () => {
    const r = await runCli(register, data, ['models', 'import', join(FIX, 'images.u8'), '--model', 'lenet5', '--dataset', DATASET])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(2) // the "Evaluating …" note, then the error
    expect(r.stderr).toMatch(/error: .*images\.u8: /)
    expect(existsSync('/tmp/conv-studio-pwned')).toBe(false)
  })
})

describe('conv-studio runs predictions --split val', () => {
  it('prints the best epoch\'s predicted class of every validation example in dataset order (ascending training-set index), as the checkpoint predicts them and as the epoch\'s accuracy counts them', async () => {
    const trainData = join(dir, 'train-data')
    const both = (p: Command) => {
      register(p)
      registerTrain(p)
    }
    const trained = await runCli(both, trainData, ['train', '--model', 'lenet5-modern', '--dataset', 'mnist-sample', '--epochs', '2', '--train-limit', '500', '--val-split', '0.2', '--seed', '3', '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    const runId = JSON.parse(trained.stdout.trim().split('\n').at(-1)!).runId as number
    const r = await runCli(both, trainData, ['runs', 'predictions', String(runId), '--split', 'val', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const printed = JSON.parse(r.stdout) as number[]

    // The backend the training worker picked, so the same weights give the same classes.
    await selectBackend('auto')
    const store = RunStore.open(trainData)
    try {
      const run = store.get(runId)
      const data = await new DatasetStore({ dataDir: trainData }).load('mnist-sample')
      const labels = data.train.labels.subarray(0, 500)
      const { val } = splitIndices(labels, 0.2, 3, true)
      expect(printed).toHaveLength(val.length)
      // The epoch's recorded accuracy counts these predictions against the labels in this order.
      const epoch = store.epochs(runId).find((e) => e.epoch === run.bestEpoch)!
      expect(printed.filter((p, i) => p === labels[val[i]]).length / val.length).toBeCloseTo(epoch.valAcc, 10)
      // The best checkpoint predicts the same class for each example, in the same order.
      const pixels = 28 * 28
      const images = new Uint8Array(val.length * pixels)
      val.forEach((idx, i) => images.set(data.train.images.subarray(idx * pixels, (idx + 1) * pixels), i * pixels))
      const model = await modelFromArtifacts(readCheckpoint(store.weightsDir(runId, 'best')))
      const x = toInputTensor(images, val.length, 28, run.config.spec, run.config.normalize)
      const y = tf.argMax(model.apply(x) as tf.Tensor, 1)
      const own = Array.from((await y.data()) as Int32Array)
      tf.dispose([x, y])
      model.dispose()
      expect(new Set(own).size).toBeGreaterThan(2)
      expect(printed).toEqual(own)
    } finally {
      store.close()
    }
  }, 180_000)
})
