// Exported ONNX models run in onnxruntime-node (a dev dependency, CPU provider) and give the app's
// logits to 1e-4 on raw pixel / 255 input: LeNet-5 as d2l trains it, and a colour BatchNorm run
// trained with per-channel normalisation, which the graph applies itself (Sub and Div at its
// input). The tfjs export, in stock tf.loadLayersModel, takes the same input (its first layer
// normalises). Every format's metadata.json carries the normalisation numbers.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunRecord } from '../../../src/shared/domain'
import { selectBackend } from '../../../src/main/backends'
import { exportWeights } from '../../../src/main/interop/export'
import { importWeights } from '../../../src/main/interop/import'
import { toInputTensor } from '../../../src/core/models/io'
import { RunStore } from '../../../src/main/services/runs'
import { appLogits, fixture, fixtureImages, maxAbsDiff, nchwPixels, seededImages, seededRun } from './helpers'

const torch = spawnSync('python3', ['-c', 'import torch, safetensors'], { stdio: 'ignore' }).status === 0
const NORMALIZE = { mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26] }

let dir: string
let store: RunStore
beforeAll(async () => {
  // The backend the app evaluates and predicts with.
  await selectBackend('auto')
  dir = mkdtempSync(join(tmpdir(), 'interop-onnx-'))
  store = RunStore.open(join(dir, 'data'))
})
afterAll(() => {
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

async function onnxLogits(path: string, x: Float32Array, dims: number[]): Promise<number[][]> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] })
  expect(session.inputNames).toEqual(['image'])
  const out = (await session.run({ image: new ort.Tensor('float32', x, dims) }))[session.outputNames[0]]
  await session.release()
  const k = out.dims[1]
  const v = out.data as Float32Array
  return Array.from({ length: out.dims[0] }, (_, i) => Array.from(v.subarray(i * k, (i + 1) * k)))
}

const cases = [
  { title: 'LeNet-5 (sigmoid, average pooling), gray 28 x 28, no normalisation', preset: 'lenet5', spec: {}, config: {}, count: fixture.count, size: 28, images: fixtureImages },
  {
    title: 'LeNet-5 (modern: BatchNorm, max pooling), colour 32 x 32, per-channel mean/std',
    preset: 'lenet5-modern',
    spec: { inputChannels: 3 as const, inputSize: 32 },
    config: { dataset: 'own-photos', normalize: NORMALIZE, imagePrep: { size: 32, policy: 'fit' as const } },
    count: 6,
    size: 32,
    images: seededImages(6, 32, 3)
  }
]

describe('model.onnx in onnxruntime-node gives the app\'s logits', () => {
  for (const c of cases) {
    describe(c.title, () => {
      let run: RunRecord
      let app: number[][]
      const channels = c.spec.inputChannels ?? 1
      beforeAll(async () => {
        run = await seededRun(store, c.preset, { spec: c.spec, config: c.config })
        app = await appLogits(store, run, c.images, c.count, c.size)
      })

      it('onnx: raw pixel / 255 in N x C x H x W, logits within 1e-4, the same classes', async () => {
        const out = join(dir, `${run.id}-onnx`)
        await exportWeights(store, run.id, 'onnx', out, 'photos')
        const got = await onnxLogits(join(out, 'model.onnx'), nchwPixels(c.images, c.count, c.size, channels), [c.count, channels, c.size, c.size])
        const diff = maxAbsDiff(got, app)
        console.log(`[interop] ${run.model} (${channels} ch${run.config.normalize ? ', normalised' : ''}) onnx in onnxruntime-node: max |logit diff| = ${diff.toExponential(2)}`)
        expect(diff).toBeLessThan(1e-4)
        const argmax = (rows: number[][]) => rows.map((r) => r.indexOf(Math.max(...r)))
        expect(argmax(got)).toEqual(argmax(app))
        // Not vacuous: the logits differ between images.
        expect(new Set(argmax(app).map(String)).size + new Set(app.map((r) => r[0].toFixed(4))).size).toBeGreaterThan(2)
      })

      it('tfjs: stock tf.loadLayersModel on raw pixel / 255 (NHWC) gives the app\'s logits to 1e-5, its first layer applying the normalisation', async () => {
        const tf = await import('@tensorflow/tfjs')
        const out = join(dir, `${run.id}-tfjs`)
        await exportWeights(store, run.id, 'tfjs', out, 'photos')
        const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'))
        const w = readFileSync(join(out, 'weights.bin'))
        const model = await tf.loadLayersModel(
          tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) })
        )
        expect(model.layers[1].name === 'input_normalisation').toBe(Boolean(run.config.normalize))
        const x = toInputTensor(c.images, c.count, c.size, run.config.spec, null)
        const y = model.predict(x) as import('@tensorflow/tfjs').Tensor2D
        const diff = maxAbsDiff((await y.array()) as number[][], app)
        tf.dispose([x, y])
        model.dispose()
        console.log(`[interop] ${run.model} (${channels} ch${run.config.normalize ? ', normalised' : ''}) tfjs in stock tf.loadLayersModel: max |logit diff| = ${diff.toExponential(2)}`)
        expect(diff).toBeLessThan(1e-5)
      })

      it('metadata.json of onnx, pytorch and tfjs: input, size, channels and the normalisation numbers', async () => {
        for (const format of ['onnx', 'pytorch', 'tfjs'] as const) {
          const out = join(dir, `${run.id}-meta-${format}`)
          await exportWeights(store, run.id, format, out, 'photos')
          const meta = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8'))
          expect(meta.preprocessing, format).toMatchObject({ size: c.size, channels, scale: 'pixel / 255', mean: run.config.normalize ? NORMALIZE.mean : null, std: run.config.normalize ? NORMALIZE.std : null })
          if (run.config.imagePrep) expect(meta.preprocessing.resizePolicy).toBe('fit')
          if (run.config.normalize) expect(meta.preprocessing.normalisation).toMatch(/inside/)
          expect(meta.input.range, format).toEqual([0, 1])
        }
      })

      it('pytorch: model.safetensors loads back through our importer with nn.Sequential keys and gives the app\'s logits', async () => {
        const out = join(dir, `${run.id}-pytorch`)
        await exportWeights(store, run.id, 'pytorch', out, 'photos')
        const back = await importWeights(join(out, 'model.safetensors'), run.config.spec)
        expect(back.plan.style).toBe('nn.Sequential keys')
        const x = toInputTensor(c.images, c.count, c.size, run.config.spec, run.config.normalize)
        const y = back.model.apply(x) as import('@tensorflow/tfjs').Tensor2D
        const diff = maxAbsDiff((await y.array()) as number[][], app)
        x.dispose()
        y.dispose()
        back.model.dispose()
        expect(diff).toBeLessThan(1e-5)
      })

      it.skipIf(!torch)('pytorch: model.py\'s load() in PyTorch takes raw pixel / 255 and gives the app\'s logits to 1e-4 (needs python3 with torch)', () => {
        const out = join(dir, `${run.id}-pytorch`)
        writeFileSync(join(out, 'x.f32'), Buffer.from(nchwPixels(c.images, c.count, c.size, channels).buffer))
        const py = `import sys, json, numpy as np, torch; sys.path.insert(0, ${JSON.stringify(out)}); from model import load
x = torch.from_numpy(np.fromfile(${JSON.stringify(join(out, 'x.f32'))}, dtype=np.float32).reshape(${c.count}, ${channels}, ${c.size}, ${c.size}))
with torch.no_grad(): print(json.dumps(load()(x).tolist()))`
        const got = JSON.parse(execFileSync('python3', ['-c', py], { encoding: 'utf8' })) as number[][]
        const diff = maxAbsDiff(got, app)
        console.log(`[interop] ${run.model} model.py in PyTorch: max |logit diff| = ${diff.toExponential(2)}`)
        expect(diff).toBeLessThan(1e-4)
      })
    })
  }
})

describe('a run whose normalisation was never resolved to numbers', () => {
  it("is not exported in any format (the export could not apply what the run applied), with one clear sentence", async () => {
    const run = await seededRun(store, 'lenet5', { config: { normalize: 'dataset' } })
    for (const format of ['onnx', 'pytorch', 'tfjs'] as const)
      await expect(exportWeights(store, run.id, format, join(dir, `unresolved-${format}`), 'digits')).rejects.toThrow(/normalisation was never resolved to numbers/)
  })
})
