import { describe, expect, it } from 'vitest'
import { ModelSpecError, inferLayers, validateSpec } from '../../../src/core/models/spec'
import { getPreset } from '../../../src/core/models/presets'
import type { LayerSpec, ModelSpec } from '../../../src/shared/schemas'

const base = (layers: LayerSpec[], inputSize = 28): ModelSpec => ({ name: 't', inputSize, inputChannels: 1, numClasses: 10, layers })

function errorOf(spec: ModelSpec): ModelSpecError {
  try {
    validateSpec(spec)
  } catch (e) {
    if (e instanceof ModelSpecError) return e
    throw e
  }
  throw new Error('validateSpec accepted a bad spec')
}

describe('validateSpec', () => {
  it('accepts every preset', () => {
    for (const id of ['lenet5', 'lenet5-leaky', 'lenet5-modern', 'alexnet']) expect(() => validateSpec(getPreset(id)!.spec)).not.toThrow()
  })

  it('infers PyTorch shapes layer by layer (AlexNet 224 -> 54 -> 26 -> ... -> 5)', () => {
    const shapes = inferLayers(getPreset('alexnet')!.spec).map((l) => l.outputShape)
    expect(shapes[0]).toEqual([96, 54, 54])
    expect(shapes[2]).toEqual([96, 26, 26])
    expect(shapes[12]).toEqual([256, 5, 5])
    expect(shapes[13]).toEqual([6400])
  })

  it('names the layer when a kernel is larger than its input', () => {
    const e = errorOf(base([{ type: 'conv2d', outChannels: 4, kernelSize: 9, stride: 1, padding: 0 }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }], 8))
    expect(e.layerIndex).toBe(0)
    expect(e.message).toMatch(/layer 1 \(Conv2d\).*kernel 9x9 is larger than its padded input 8x8/)
  })

  it('rejects a Linear before Flatten', () => {
    const e = errorOf(base([{ type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 0 }, { type: 'linear', outFeatures: 10 }]))
    expect(e.layerIndex).toBe(1)
    expect(e.message).toMatch(/layer 2 \(Linear\).*Flatten/)
  })

  it('rejects a pooling window larger than the map, a conv after flatten, BatchNorm1d on a map, a wrong class count', () => {
    const pool = errorOf(base([{ type: 'conv2d', outChannels: 2, kernelSize: 7, stride: 1, padding: 0 }, { type: 'maxPool2d', kernelSize: 3, stride: 1 }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }], 8))
    expect(pool.message).toMatch(/layer 2 \(MaxPool2d\): pooling window 3x3 is larger than its input 2x2/)
    const convAfter = errorOf(base([{ type: 'flatten' }, { type: 'conv2d', outChannels: 2, kernelSize: 3, stride: 1, padding: 0 }]))
    expect(convAfter.layerIndex).toBe(1)
    expect(errorOf(base([{ type: 'batchNorm1d' }, { type: 'flatten' }, { type: 'linear', outFeatures: 10 }])).layerIndex).toBe(0)
    const classes = errorOf(base([{ type: 'flatten' }, { type: 'linear', outFeatures: 7 }]))
    expect(classes.message).toMatch(/ends with 7 outputs but numClasses is 10/)
  })

  it('reports schema problems with the field path', () => {
    const bad = base([{ type: 'conv2d', outChannels: 0, kernelSize: 3, stride: 1, padding: 0 }])
    const e = errorOf(bad)
    expect(e.message).toMatch(/layers\.0\.outChannels/)
    expect(e.layerIndex).toBe(0)
  })
})
