// models import through the services door with real worker processes, then runs.predictions and
// runs.export in every weight format, each checked against an independent reader: our importer
// (safetensors), stock tfjs (the tfjs folder), onnxruntime-node (ONNX, a dev dependency).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getPreset } from '../../../src/core/models/presets'
import { toInputTensor } from '../../../src/core/models/io'
import type { RunRecord } from '../../../src/shared/domain'
import { createServices, type Services } from '../../../src/main/services'
import { DatasetStore } from '../../../src/main/services/datasets'
import { importWeights } from '../../../src/main/interop/import'
import { isHostOnly } from '../../../src/shared/contract'

const FIX = join(__dirname, '../../fixtures/interop')
const DATASET = join(__dirname, '../../fixtures/data/tiny-raw')
const fixture = JSON.parse(readFileSync(join(FIX, 'logits.json'), 'utf8')) as { count: number; size: number; logits: Record<string, number[][]> }
const images = new Uint8Array(readFileSync(join(FIX, 'images.u8')))

let dir: string
let services: Services
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'interop-services-'))
  services = await createServices({ dataDir: join(dir, 'data'), host: 'cli' })
})
afterAll(async () => {
  await services.close()
  rmSync(dir, { recursive: true, force: true })
})

async function call<T>(method: string, args: object): Promise<T> {
  const reply = await services.handle(method, args)
  if (!reply.ok) throw new Error(`${method}: ${reply.error.code}: ${reply.error.message}`)
  return reply.value as T
}

async function appLogits(model: tf.LayersModel, preset: string): Promise<{ x: Float32Array; logits: number[][] }> {
  const x = toInputTensor(images, fixture.count, fixture.size, getPreset(preset)!.spec)
  const y = model.apply(x, { training: false }) as tf.Tensor2D
  const out = { x: (await x.data()) as Float32Array, logits: (await y.array()) as number[][] }
  tf.dispose([x, y])
  return out
}

const maxAbsDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))))

describe('models import records an imported run', () => {
  let run: RunRecord
  it('lenet5-modern.pth on a dataset folder: tag, test metrics, every test prediction as the app computes them', async () => {
    run = await call<RunRecord>('models.import', { path: join(FIX, 'lenet5-modern.pth'), model: 'lenet5-modern', dataset: DATASET })
    expect(run.status).toBe('completed')
    expect(run.tags).toEqual(['imported'])
    expect(run.notes).toContain('nn.Sequential keys')
    const predictions = await call<number[]>('runs.predictions', { runId: run.id, split: 'test' })
    const data = await new DatasetStore({ dataDir: join(dir, 'data') }).load(DATASET)
    expect(predictions).toHaveLength(data.test.count)
    // The same weights in this process give the same classes.
    const { model } = await importWeights(join(FIX, 'lenet5-modern.pth'), getPreset('lenet5-modern')!.spec)
    const x = toInputTensor(data.test.images, data.test.count, data.test.width, getPreset('lenet5-modern')!.spec)
    const own = Array.from((await tf.argMax(model.apply(x) as tf.Tensor, 1).data()) as Int32Array)
    model.dispose()
    x.dispose()
    expect(predictions).toEqual(own)
    const right = predictions.filter((p, i) => p === data.test.labels[i]).length
    expect(run.testAcc).toBeCloseTo(right / data.test.count, 10)
    const confusion = await call<{ matrix: number[][] }>('runs.confusion', { runId: run.id, epoch: 'test' })
    expect(confusion.matrix.flat().reduce((a, b) => a + b, 0)).toBe(data.test.count)
  })

  it('runs.predictions --split val on an imported run says there are no epochs', async () => {
    const reply = await services.handle('runs.predictions', { runId: run.id, split: 'val' })
    expect(reply).toMatchObject({ ok: false, error: { code: 'not_found', message: expect.stringMatching(/no validation epochs \(it was imported/) } })
  })

  it('models.import is host-only; runs.predictions is not', () => {
    expect(isHostOnly('models.import')).toBe(true)
    expect(isHostOnly('runs.predictions')).toBe(false)
  })

  for (const [file, why] of [
    ['os-system.pth', /names posix\.system.*nothing in the file was run/],
    ['wrong-arch.pth', /does not fit LeNet-5.*weight expected \[6, 1, 5, 5\], found '0\.weight' \[4, 3, 5, 5\]/]
  ] as const) {
    it(`${file}: a clear error from the worker and nothing recorded`, async () => {
      const before = (await call<{ total: number }>('runs.list', {})).total
      const reply = await services.handle('models.import', { path: join(FIX, file), model: 'lenet5', dataset: DATASET })
      expect(reply).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: expect.stringMatching(why) } })
      expect((await call<{ total: number }>('runs.list', {})).total).toBe(before)
      expect(existsSync('/tmp/conv-studio-pwned')).toBe(false)
    })
  }

  it('a 0-byte file: a clear error and nothing recorded', async () => {
    const empty = join(dir, 'empty.pth')
    writeFileSync(empty, '')
    const before = (await call<{ total: number }>('runs.list', {})).total
    const reply = await services.handle('models.import', { path: empty, model: 'lenet5', dataset: DATASET })
    expect(reply).toMatchObject({ ok: false, error: { code: 'invalid_argument', message: expect.stringMatching(/empty\.pth: the file is empty \(0 bytes\)/) } })
    expect((await call<{ total: number }>('runs.list', {})).total).toBe(before)
  })
})

describe('runs.export --format pytorch|onnx|tfjs gives the app\'s logits', () => {
  for (const [file, preset, ref] of [
    ['lenet5-named.safetensors', 'lenet5', 'lenet5-named'],
    ['lenet5-modern.pth', 'lenet5-modern', 'lenet5-modern']
  ] as const) {
    describe(`${preset} (imported from ${file})`, () => {
      let run: RunRecord
      let app: { x: Float32Array; logits: number[][] }
      beforeAll(async () => {
        run = await call<RunRecord>('models.import', { path: join(FIX, file), model: preset, dataset: DATASET })
        const { model } = await importWeights(join(FIX, file), getPreset(preset)!.spec)
        app = await appLogits(model, preset)
        model.dispose()
        // The app's logits are PyTorch's: the chain below compares exports against both.
        expect(maxAbsDiff(app.logits, fixture.logits[ref])).toBeLessThan(1e-4)
      })

      it('pytorch: model.safetensors with nn.Sequential keys loads back through our importer; model.py and metadata.json', async () => {
        const out = join(dir, `${preset}-pytorch`)
        await call('runs.export', { runId: run.id, path: out, format: 'pytorch' })
        const header = readFileSync(join(out, 'model.safetensors'))
        const keys = Object.keys(JSON.parse(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString())).filter((k) => k !== '__metadata__')
        if (preset === 'lenet5') expect(keys).toEqual(['0.weight', '0.bias', '3.weight', '3.bias', '7.weight', '7.bias', '9.weight', '9.bias', '11.weight', '11.bias'])
        else expect(keys).toContain('1.num_batches_tracked')
        const back = await importWeights(join(out, 'model.safetensors'), getPreset(preset)!.spec)
        expect(back.plan.style).toBe('nn.Sequential keys')
        const diff = maxAbsDiff((await appLogits(back.model, preset)).logits, app.logits)
        back.model.dispose()
        console.log(`[interop] ${preset} pytorch export re-imported: max |logit diff| = ${diff.toExponential(2)}`)
        expect(diff).toBeLessThan(1e-6)
        expect(readFileSync(join(out, 'model.py'), 'utf8')).toContain('nn.Sequential(')
        const meta = JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8'))
        expect(meta).toMatchObject({ format: 'pytorch', classes: run.classes, input: { layout: 'NCHW', shape: [1, 1, 28, 28], range: [0, 1] } })
      })

      it('tfjs: stock tf.loadLayersModel opens the folder and gives the same logits', async () => {
        const out = join(dir, `${preset}-tfjs`)
        await call('runs.export', { runId: run.id, path: out, format: 'tfjs' })
        const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'))
        expect(JSON.stringify(json)).not.toContain('SeededDropout')
        const w = readFileSync(join(out, 'weights.bin'))
        const model = await tf.loadLayersModel(
          tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) })
        )
        const diff = maxAbsDiff((await appLogits(model, preset)).logits, app.logits)
        model.dispose()
        expect(diff).toBeLessThan(1e-6)
        expect(JSON.parse(readFileSync(join(out, 'metadata.json'), 'utf8')).input).toMatchObject({ layout: 'NHWC', shape: [1, 28, 28, 1] })
      })

      it('onnx: model.onnx in onnxruntime-node gives the app\'s logits to 1e-4', async () => {
        const out = join(dir, `${preset}-onnx`)
        await call('runs.export', { runId: run.id, path: out, format: 'onnx' })
        const session = await ort.InferenceSession.create(join(out, 'model.onnx'), { executionProviders: ['cpu'] })
        // 1 channel: NHWC and NCHW bytes are the same.
        const y = (await session.run({ image: new ort.Tensor('float32', app.x, [fixture.count, 1, 28, 28]) }))[session.outputNames[0]]
        await session.release()
        expect(y.dims).toEqual([fixture.count, 10])
        const v = y.data as Float32Array
        const got = app.logits.map((_, i) => Array.from(v.subarray(i * 10, (i + 1) * 10)))
        const diff = maxAbsDiff(got, app.logits)
        console.log(`[interop] ${preset} onnx in onnxruntime-node: max |logit diff| = ${diff.toExponential(2)}`)
        expect(diff).toBeLessThan(1e-4)
      })
    })
  }
})
