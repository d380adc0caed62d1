import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { buildModel } from '../../../src/core/models/build'
import { toInputTensor } from '../../../src/core/models/io'
import { getPreset } from '../../../src/core/models/presets'
import { gradCamLayerIndex, inspectImage, type Values } from '../../../src/core/inspect/inspect'
import type { ModelSpec } from '../../../src/shared/schemas'

const fixtures = join(__dirname, '../../fixtures/inspect')

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]))
  return m
}

describe('inspectImage on a network worked out by hand', () => {
  // 8x8 input, one 7x7 kernel whose only non-zero tap is its centre (so conv(x)[i][j] = x[i+3][j+3]),
  // ReLU, Flatten (one channel: H,W,C order = C,H,W order), Linear(4 -> 2), no biases.
  const spec: ModelSpec = {
    name: 'tiny',
    inputSize: 8,
    inputChannels: 1,
    numClasses: 2,
    layers: [{ type: 'conv2d', outChannels: 1, kernelSize: 7, stride: 1, padding: 0 }, { type: 'relu' }, { type: 'flatten' }, { type: 'linear', outFeatures: 2 }]
  }
  const make = () => {
    const model = buildModel(spec, { init: 'default', seed: 1 })
    const k = new Float32Array(49)
    k[3 * 7 + 3] = 1
    // Dense kernel [in, out]: class 0 weights (3, 0, 2, 1), class 1 weights (0.5, 0.5, 0.5, 0.5).
    const dense = [3, 0.5, 0, 0.5, 2, 0.5, 1, 0.5]
    model.setWeights([tf.tensor4d(k, [7, 7, 1, 1]), tf.zeros([1]), tf.tensor2d(dense, [4, 2]), tf.zeros([2])])
    const x = new Float32Array(64)
    // The 2x2 window the conv sees: 1, 2 / -1, 3.
    x[3 * 8 + 3] = 1
    x[3 * 8 + 4] = 2
    x[4 * 8 + 3] = -1
    x[4 * 8 + 4] = 3
    return { model, x: tf.tensor4d(x, [1, 8, 8, 1]) }
  }

  it('layer outputs, logits, Grad-CAM (raw and upsampled) and saliency equal the hand computation', () => {
    const { model, x } = make()
    const r = inspectImage(model, spec, x)
    expect(r.layers.map((l) => [l.name, l.shape])).toEqual([
      ['Conv2d-1', [1, 2, 2]],
      ['ReLU-2', [1, 2, 2]],
      ['Flatten-3', [4]],
      ['Linear-4', [2]]
    ])
    expect(Array.from(r.layers[0].values)).toEqual([1, 2, -1, 3])
    expect(Array.from(r.layers[1].values)).toEqual([1, 2, 0, 3])
    // logits: 3*1 + 0*2 + 2*0 + 1*3 = 6 and 0.5 * (1 + 2 + 0 + 3) = 3.
    expect(Array.from(r.logits)).toEqual([6, 3])
    expect(r.predicted).toBe(0)
    // alpha = mean(3, 0, 2, 1) = 1.5 on ReLU-2; raw = relu(1.5 * A).
    expect(r.gradcam?.layer).toBe('ReLU-2')
    expect(Array.from(r.gradcam!.raw.values)).toEqual([1.5, 3, 0, 4.5])
    expect(r.gradcam!.upsampled.shape).toEqual([8, 8])
    const up = r.gradcam!.upsampled.values
    // Half-pixel centres: output (0,0) samples -0.375 (clamped to raw[0][0]); output (3,3) samples
    // (0.375, 0.375): rows 1.5 + .375*1.5 = 2.0625 and .375*4.5 = 1.6875, then 2.0625 - .375*.375 = 1.921875.
    expect(up[0]).toBeCloseTo(1.5, 6)
    expect(up[3 * 8 + 3]).toBeCloseTo(1.921875, 6)
    expect(up[7 * 8 + 7]).toBeCloseTo(4.5, 6)
    // d logit_0 / dx = W0 at the live positions (3,3)=3 and (4,4)=1; (3,4) has weight 0; (4,3) is dead under ReLU.
    const sal = Array.from(r.saliency.values)
    const expected = new Array(64).fill(0)
    expected[3 * 8 + 3] = 3
    expected[4 * 8 + 4] = 1
    expect(sal).toEqual(expected)
    model.dispose()
    x.dispose()
  })

  it('a chosen class: Grad-CAM and saliency explain that class', () => {
    const { model, x } = make()
    const r = inspectImage(model, spec, x, 1)
    expect(r.predicted).toBe(0)
    expect(r.gradcam!.classIndex).toBe(1)
    expect(Array.from(r.gradcam!.raw.values)).toEqual([0.5, 1, 0, 1.5])
    const sal = r.saliency.values
    expect([sal[27], sal[28], sal[35], sal[36]]).toEqual([0.5, 0.5, 0, 0.5])
    expect(() => inspectImage(model, spec, x, 2)).toThrow(/class 2 does not exist: the network has 2 classes/)
    model.dispose()
    x.dispose()
  })

  it('leaks no tensors', () => {
    const { model, x } = make()
    const before = tf.memory().numTensors
    inspectImage(model, spec, x)
    expect(tf.memory().numTensors).toBe(before)
    model.dispose()
    x.dispose()
  })
})

describe('gradCamLayerIndex', () => {
  it('the activation after the last conv, through BatchNorm, never past pooling', () => {
    expect(gradCamLayerIndex(getPreset('lenet5')!.spec)).toBe(4) // Sigmoid-5
    expect(gradCamLayerIndex(getPreset('lenet5-modern')!.spec)).toBe(6) // ReLU-7
    expect(gradCamLayerIndex(getPreset('alexnet')!.spec)).toBe(11) // ReLU-12, before MaxPool2d-13
    const noAct: ModelSpec = { ...getPreset('lenet5')!.spec, layers: [{ type: 'conv2d', outChannels: 2, kernelSize: 5, stride: 1, padding: 0 }, { type: 'maxPool2d', kernelSize: 2, stride: 2 }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }] }
    expect(gradCamLayerIndex(noAct)).toBe(0)
    const dense: ModelSpec = { ...noAct, layers: [{ type: 'flatten' }, { type: 'linear', outFeatures: 10 }] }
    expect(gradCamLayerIndex(dense)).toBeNull()
  })
})

interface Entry {
  shape: number[]
  offset: number
}
interface Manifest {
  weights: number[][]
  input: Entry
  layers: (Entry & { name: string })[]
  logits: Entry
  predicted: number
  gradcam: { layer: string; classIndex: number; raw: Entry; upsampled: Entry }
  saliency: Entry
  class3: { classIndex: number; raw: Entry; upsampled: Entry; saliency: Entry }
}

function f32(file: string): Float32Array {
  const b = readFileSync(join(fixtures, file))
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

/** Largest differences from PyTorch, printed once for the report. */
const figures: Record<string, number> = {}

describe('inspectImage equals PyTorch on the same weights (test/fixtures/inspect/make_fixture.py)', () => {
  for (const id of ['lenet5', 'lenet5-modern']) {
    it(`${id}: every layer's output to 1e-4, logits, Grad-CAM for the predicted class and class 3, saliency`, () => {
      const m = JSON.parse(readFileSync(join(fixtures, `${id}.json`), 'utf8')) as Manifest
      const out = f32(`${id}.out.f32`)
      const get = (e: Entry): Values => ({ shape: e.shape, values: out.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1)) })
      const spec = getPreset(id)!.spec
      const model = buildModel(spec, { init: 'default', seed: 1 })
      expect(model.getWeights().map((w) => w.shape)).toEqual(m.weights)
      const flat = f32(`${id}.weights.f32`)
      let o = 0
      model.setWeights(
        m.weights.map((shape) => {
          const n = shape.reduce((a, b) => a * b, 1)
          const t = tf.tensor(flat.subarray(o, o + n), shape)
          o += n
          return t
        })
      )
      expect(o).toBe(flat.length)
      const image = new Uint8Array(readFileSync(join(fixtures, 'input.u8')))
      const x = toInputTensor(image, 1, 28, spec)
      const r = inspectImage(model, spec, x)
      expect(r.input.shape).toEqual(m.input.shape)
      expect(maxAbs(r.input.values, get(m.input).values)).toBe(0)
      expect(r.layers.map((l) => l.name)).toEqual(m.layers.map((l) => l.name))
      let worst = 0
      r.layers.forEach((l, i) => {
        const ref = get(m.layers[i])
        expect(l.shape, l.name).toEqual(ref.shape)
        const d = maxAbs(l.values, ref.values)
        expect(d, l.name).toBeLessThan(1e-4)
        worst = Math.max(worst, d)
      })
      expect(r.predicted).toBe(m.predicted)
      expect(r.gradcam!.layer).toBe(m.gradcam.layer)
      const scale = (v: ArrayLike<number>) => Math.max(1e-6, ...Array.from(v, Math.abs))
      const camRaw = get(m.gradcam.raw).values
      // Grad-CAM must not be trivially zero, or the comparison proves nothing.
      expect(scale(camRaw)).toBeGreaterThan(1e-3)
      const dRaw = maxAbs(r.gradcam!.raw.values, camRaw)
      const dUp = maxAbs(r.gradcam!.upsampled.values, get(m.gradcam.upsampled).values)
      const dSal = maxAbs(r.saliency.values, get(m.saliency).values)
      expect(dRaw / scale(camRaw)).toBeLessThan(1e-4)
      expect(dUp / scale(camRaw)).toBeLessThan(1e-4)
      expect(dSal / scale(get(m.saliency).values)).toBeLessThan(1e-4)
      const r3 = inspectImage(model, spec, x, 3)
      const d3 = Math.max(
        maxAbs(r3.gradcam!.raw.values, get(m.class3.raw).values) / scale(get(m.class3.raw).values),
        maxAbs(r3.gradcam!.upsampled.values, get(m.class3.upsampled).values) / scale(get(m.class3.raw).values),
        maxAbs(r3.saliency.values, get(m.class3.saliency).values) / scale(get(m.class3.saliency).values)
      )
      expect(d3).toBeLessThan(1e-4)
      Object.assign(figures, { [`${id}.layers`]: worst, [`${id}.gradcamRaw`]: dRaw, [`${id}.gradcamUp`]: dUp, [`${id}.saliency`]: dSal, [`${id}.class3Rel`]: d3 })
      console.log(`[inspect vs PyTorch] ${id}: layers ${worst.toExponential(2)}, Grad-CAM raw ${dRaw.toExponential(2)} (max ${scale(camRaw).toFixed(4)}), upsampled ${dUp.toExponential(2)}, saliency ${dSal.toExponential(2)} (max ${scale(get(m.saliency).values).toExponential(2)})`)
      model.dispose()
      x.dispose()
    })
  }
})
