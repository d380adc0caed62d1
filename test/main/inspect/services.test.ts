// The hardest examples, the flips between epochs and an example's inspection, through the services
// door, on a real short training run (LeNet-5 with ReLU on 480 images of the bundled MNIST sample,
// a validation split, worker processes for training and inspection). Each answer is checked against
// what can be worked out apart from the code under test: the dataset's labels, the recorded
// predictions, and the model worker's own probabilities for the same image.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServices, type Services } from '../../../src/main/services'
import { DatasetStore } from '../../../src/main/services/datasets'
import { splitIndices } from '../../../src/core/data/split'
import { getPreset } from '../../../src/core/models/presets'
import type { DatasetArrays } from '../../../src/core/data/types'
import type { EpochHistograms, ExampleFlips, FilterSnapshot, HardestExamples, InspectResult, RunRecord } from '../../../src/shared/domain'
import { tempDir, tinyConfig } from '../../helpers/hosts'

const dir = tempDir('inspect-services-')
let services: Services
let run: RunRecord
let data: DatasetArrays
const TRAIN = 480
const FRACTION = 0.25

async function call<T>(method: string, args: object): Promise<T> {
  const reply = await services.handle(method, args)
  if (!reply.ok) throw new Error(`${method}: ${reply.error.code}: ${reply.error.message}`)
  return reply.value as T
}

async function refused(method: string, args: object): Promise<string> {
  const reply = await services.handle(method, args)
  if (reply.ok) throw new Error(`${method} answered`)
  return reply.error.message
}

beforeAll(async () => {
  services = await createServices({ dataDir: join(dir.path, 'data'), host: 'cli' })
  const preset = getPreset('lenet5-modern')!
  const config = tinyConfig({
    model: preset.id,
    spec: preset.spec,
    optimizer: 'adam',
    lr: 0.002,
    batchSize: 32,
    epochs: 3,
    seed: 3,
    trainLimit: TRAIN,
    validation: { source: 'split', fraction: FRACTION, stratified: true }
  })
  const done = new Promise<void>((resolve) =>
    services.events.subscribe((event, payload) => {
      const p = payload as { runId?: number; status?: string }
      if (event === 'training.status' && p.runId === run?.id && ['completed', 'failed', 'cancelled'].includes(p.status ?? '')) resolve()
    })
  )
  run = await call<RunRecord>('training.start', { config })
  await done
  run = await call<RunRecord>('runs.get', { runId: run.id })
  data = await new DatasetStore({ dataDir: join(dir.path, 'data') }).load('mnist-sample')
}, 240_000)

afterAll(async () => {
  await services?.close()
  dir.remove()
})

describe('inspection services on a trained run', () => {
  it('trained and kept histograms and filters for every epoch', async () => {
    expect(run.status).toBe('completed')
    const hist = await call<EpochHistograms[]>('runs.histograms', { runId: run.id })
    expect(hist.map((h) => h.epoch)).toEqual([1, 2, 3])
    expect(new Set(hist[0].histograms.map((h) => h.kind))).toEqual(new Set(['weight', 'gradient']))
    const filters = await call<FilterSnapshot[]>('runs.filters', { runId: run.id })
    expect(filters.map((f) => [f.epoch, f.layer, f.shape])).toEqual([1, 2, 3].map((e) => [e, 'Conv2d-1', [6, 1, 5, 5]]))
  })

  it('runs.hardest lists every test mistake most confident first, and the least confident correct ones, filterable by class', async () => {
    const predictions = await call<number[]>('runs.predictions', { runId: run.id, split: 'test' })
    const wrongCount = predictions.filter((p, i) => p !== data.test.labels[i]).length
    expect(wrongCount).toBeGreaterThan(0)
    const all = await call<HardestExamples>('runs.hardest', { runId: run.id, limit: 500 })
    expect(all.confidentMistakes).toHaveLength(Math.min(500, wrongCount))
    for (const list of [all.confidentMistakes, all.leastConfidentCorrect]) {
      const p = list.map((e) => e.trueProbability!)
      expect(p).toEqual([...p].sort((a, b) => a - b))
      for (const e of list) {
        expect(e.split).toBe('test')
        expect(e.trueClass).toBe(data.test.labels[e.index])
        expect(e.predictedClass).toBe(predictions[e.index])
        expect(Buffer.from(e.pixels, 'base64').equals(Buffer.from(data.test.images.subarray(e.index * 784, (e.index + 1) * 784)))).toBe(true)
      }
    }
    expect(all.confidentMistakes.every((e) => e.predictedClass !== e.trueClass)).toBe(true)
    expect(all.leastConfidentCorrect.every((e) => e.predictedClass === e.trueClass)).toBe(true)
    // A correct prediction gives its class at least a tenth; the mistakes' list starts far below that.
    expect(all.leastConfidentCorrect[0].trueProbability!).toBeGreaterThanOrEqual(0.1)
    expect(all.confidentMistakes[0].trueProbability!).toBeLessThan(all.leastConfidentCorrect[0].trueProbability!)

    const k = all.confidentMistakes[0].trueClass
    const only = await call<HardestExamples>('runs.hardest', { runId: run.id, trueClass: k, limit: 5 })
    expect(only.confidentMistakes.length).toBeGreaterThan(0)
    expect(only.confidentMistakes.length).toBeLessThanOrEqual(5)
    expect([...only.confidentMistakes, ...only.leastConfidentCorrect].every((e) => e.trueClass === k)).toBe(true)
    expect(only.confidentMistakes[0]).toEqual(all.confidentMistakes[0])
    expect(await refused('runs.hardest', { runId: run.id, trueClass: 10 })).toMatch(/class 10 does not exist|10 classes/)
  })

  it('the probabilities it ranks by are what the model worker gives the same test image (inspect.example, best weights)', async () => {
    const { confidentMistakes, leastConfidentCorrect } = await call<HardestExamples>('runs.hardest', { runId: run.id, limit: 2 })
    for (const e of [...confidentMistakes, ...leastConfidentCorrect]) {
      const r = await call<InspectResult>('inspect.example', { runId: run.id, weights: 'best', split: 'test', index: e.index })
      expect(r.predicted).toBe(e.predictedClass)
      expect(r.input.shape).toEqual([1, 28, 28])
      expect(r.layers.at(-1)!.shape).toEqual([10])
      expect(r.gradcam!.classIndex).toBe(e.predictedClass)
      const pixels = Buffer.from(r.image.pixels, 'base64')
      expect(Buffer.compare(pixels, Buffer.from(data.test.images.subarray(e.index * 784, (e.index + 1) * 784)))).toBe(0)
      // The top list holds the five likeliest; when the true class is among them its probability matches.
      const top = r.top.find((t) => t.classIndex === e.trueClass)
      if (top) expect(top.probability).toBeCloseTo(e.trueProbability!, 4)
      // Grad-CAM for the true class instead of the predicted one.
      const forTrue = await call<InspectResult>('inspect.example', { runId: run.id, weights: 'best', split: 'test', index: e.index, classIndex: e.trueClass })
      expect(forTrue.gradcam!.classIndex).toBe(e.trueClass)
    }
    expect(await refused('inspect.example', { runId: run.id, weights: 'best', split: 'test', index: 2000 })).toMatch(/has 2000 examples; example 2000 does not exist/)
  }, 60_000)

  it('runs.flips lists the validation examples that went right to wrong and back between two epochs', async () => {
    const limit = TRAIN
    const val = splitIndices(data.train.labels.subarray(0, TRAIN), FRACTION, run.config.seed, true).val
    const before = await call<number[]>('runs.predictions', { runId: run.id, split: 'val', epoch: 1 })
    const after = await call<number[]>('runs.predictions', { runId: run.id, split: 'val', epoch: 3 })
    const expected = { rightToWrong: [] as number[], wrongToRight: [] as number[] }
    val.forEach((index, i) => {
      const label = data.train.labels[index]
      if (before[i] === label && after[i] !== label) expected.rightToWrong.push(index)
      if (before[i] !== label && after[i] === label) expected.wrongToRight.push(index)
    })
    expect(expected.rightToWrong.length + expected.wrongToRight.length).toBeGreaterThan(0)
    const f = await call<ExampleFlips>('runs.flips', { runId: run.id, from: 1, to: 3, limit })
    expect(f.rightToWrong.map((e) => e.index)).toEqual(expected.rightToWrong)
    expect(f.wrongToRight.map((e) => e.index)).toEqual(expected.wrongToRight)
    for (const e of [...f.rightToWrong, ...f.wrongToRight]) {
      expect(e.split).toBe('train')
      expect(e.trueClass).toBe(data.train.labels[e.index])
      expect(e.trueProbability).toBeGreaterThanOrEqual(0)
      expect(Buffer.from(e.pixels, 'base64').equals(Buffer.from(data.train.images.subarray(e.index * 784, (e.index + 1) * 784)))).toBe(true)
    }
    expect(f.wrongToRight.every((e) => e.predictedClass === e.trueClass)).toBe(true)
    expect(f.rightToWrong.every((e) => e.predictedClass !== e.trueClass)).toBe(true)
    // The same epoch twice flips nothing.
    const none = await call<ExampleFlips>('runs.flips', { runId: run.id, from: 2, to: 2 })
    expect([none.rightToWrong, none.wrongToRight]).toEqual([[], []])
  })
})
