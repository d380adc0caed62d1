// The layout conversions rearrange a weight in place (no second copy of AlexNet's 105 MB dense
// kernel): each equals the plain copying formula, element for element, and the two directions undo
// each other.
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../src/shared/schemas'
import { tfjsToTorch, torchToTfjs, weightedLayers } from '../../../src/main/interop/mapping'

// A small network with every case: a conv (OIHW <-> HWIO), a BatchNorm1d and a linear right after a
// Flatten of [C, H, W] (their features permuted), and a plain linear.
const spec: ModelSpec = {
  name: 'layouts',
  inputSize: 9,
  inputChannels: 3,
  numClasses: 5,
  layers: [
    { type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 0 },
    { type: 'flatten' },
    { type: 'batchNorm1d' },
    { type: 'linear', outFeatures: 7 },
    { type: 'linear', outFeatures: 5 }
  ]
} as ModelSpec

/** torch -> tfjs as a copy, written out plainly (the reference). */
function reference(layer: ReturnType<typeof weightedLayers>[number], src: Float32Array): Float32Array {
  const out = new Float32Array(src.length)
  const s = layer.torchShapes.weight!
  const feature = (j: number) => {
    if (!layer.flattenedFrom) return j
    const [c, h, w] = layer.flattenedFrom
    const ch = j % c
    return ch * h * w + (j - ch) / c
  }
  if (layer.kind === 'conv') {
    const [o, i, kh, kw] = s
    for (let oo = 0; oo < o; oo++) for (let ii = 0; ii < i; ii++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + ii) * o + oo] = src[((oo * i + ii) * kh + y) * kw + x]
  } else if (layer.kind === 'linear') {
    const [o, n] = s
    for (let j = 0; j < n; j++) for (let oo = 0; oo < o; oo++) out[j * o + oo] = src[oo * n + feature(j)]
  } else for (let j = 0; j < src.length; j++) out[j] = src[feature(j)]
  return out
}

describe('weight layouts, converted in place', () => {
  const layers = weightedLayers(spec)
  it('the spec has the cases: a conv, a flattened BatchNorm1d, a flattened linear, a plain linear', () => {
    expect(layers.map((l) => `${l.kind}${l.flattenedFrom ? ' flattened' : ''}`)).toEqual(['conv', 'bn flattened', 'linear flattened', 'linear'])
  })
  for (const layer of layers) {
    it(`${layer.info.className} ${layer.flattenedFrom ? '(after Flatten)' : ''}: torch -> tfjs equals the copying formula; tfjs -> torch undoes it`, () => {
      const n = layer.torchShapes.weight!.reduce((a, b) => a * b, 1)
      const torch = Float32Array.from({ length: n }, (_, k) => k * 1.5 + 0.25)
      const want = reference(layer, torch)
      const inPlace = torch.slice()
      const tfjs = torchToTfjs(layer, 'weight', inPlace)
      expect(tfjs).toBe(inPlace)
      expect(Array.from(tfjs)).toEqual(Array.from(want))
      expect(Array.from(tfjs)).not.toEqual(Array.from(torch))
      expect(Array.from(tfjsToTorch(layer, 'weight', tfjs))).toEqual(Array.from(torch))
    })
  }
})
