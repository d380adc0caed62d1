// Tiny, separable synthetic datasets for trainer tests: class c lights up its own band of rows, plus
// deterministic noise, so a small network learns them in a few steps.
import type { DatasetArrays, ImageSet } from '../../../src/core/data/types'
import type { ModelSpec } from '../../../src/shared/schemas'

/** `classes` distinct classes, one band of rows each. */
export function bandSet(count: number, size: number, classes: number, offset = 0): ImageSet {
  const images = new Uint8Array(count * size * size)
  const labels = new Uint8Array(count)
  const band = Math.max(1, Math.floor(size / classes))
  for (let i = 0; i < count; i++) {
    const c = (i * 7 + offset) % classes
    labels[i] = c
    for (let r = 0; r < size; r++) {
      for (let col = 0; col < size; col++) {
        const noise = ((i + offset) * 131 + r * 17 + col * 29) % 61
        const on = Math.floor(r / band) === c
        images[i * size * size + r * size + col] = on ? 190 + noise : noise
      }
    }
  }
  return { images, labels, count, height: size, width: size }
}

/** `used` (default: all) of `classes` classes occur, so a 10-class network can get an easy problem. */
export function bandData(trainCount: number, testCount: number, size: number, classes: number, used = classes): DatasetArrays {
  return {
    id: 'bands',
    title: 'bands',
    classes: Array.from({ length: classes }, (_, i) => `band ${i}`),
    style: 'objects',
    train: bandSet(trainCount, size, used),
    test: bandSet(testCount, size, used, 3)
  }
}

/** conv 4@3x3 pad 1, ReLU, max-pool 2, flatten, linear: 8x8 -> 3 classes. */
export const tinySpec: ModelSpec = {
  name: 'tiny',
  inputSize: 8,
  inputChannels: 1,
  numClasses: 3,
  layers: [
    { type: 'conv2d', outChannels: 4, kernelSize: 3, stride: 1, padding: 1 },
    { type: 'relu' },
    { type: 'maxPool2d', kernelSize: 2, stride: 2 },
    { type: 'flatten' },
    { type: 'linear', outFeatures: 3 }
  ]
}
