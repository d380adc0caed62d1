// Presets fitted to the data's channels, size and classes: the summaries equal PyTorch's for the
// same networks written by hand in torch (test/fixtures/models/make_torch_summaries.py, FITTED).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildModel } from '../../../src/core/models/build'
import { fitSpecToData } from '../../../src/core/models/fit'
import { getPreset, presets } from '../../../src/core/models/presets'
import { formatSummary, summarize } from '../../../src/core/models/summary'

const fixtures = join(__dirname, '../../fixtures/models')
const cases: [preset: string, fixture: string, shape: { channels: 1 | 3; size: number; numClasses: number }][] = [
  ['lenet5', 'lenet5.3x32x32-c10', { channels: 3, size: 32, numClasses: 10 }],
  ['lenet5-adam', 'lenet5.3x32x32-c10', { channels: 3, size: 32, numClasses: 10 }],
  ['lenet5-leaky', 'lenet5-leaky.3x32x32-c10', { channels: 3, size: 32, numClasses: 10 }],
  ['lenet5-modern', 'lenet5-modern.3x32x32-c10', { channels: 3, size: 32, numClasses: 10 }],
  ['lenet5-modern', 'lenet5-modern.3x48x48-c5', { channels: 3, size: 48, numClasses: 5 }],
  // AlexNet keeps 224x224: the 32x32 images are resized on the fly.
  ['alexnet', 'alexnet.3x224x224-c10', { channels: 3, size: 32, numClasses: 10 }]
]

describe('fitSpecToData', () => {
  for (const [id, fixture, shape] of cases) {
    it(`${id} on ${shape.channels}x${shape.size}x${shape.size}, ${shape.numClasses} classes: torchsummary's table byte for byte`, () => {
      const spec = fitSpecToData(getPreset(id)!.spec, shape)
      const torch = JSON.parse(readFileSync(join(fixtures, `${fixture}.summary.json`), 'utf8')) as { totalParams: number; torchParameterCount: number }
      expect(formatSummary(summarize(spec))).toBe(readFileSync(join(fixtures, `${fixture}.summary.txt`), 'utf8').trimEnd())
      expect(summarize(spec).totalParams).toBe(torch.torchParameterCount)
    })
  }

  it('every preset builds in tfjs for colour 32x32 with 3 classes, with the parameters the spec counts', () => {
    for (const p of presets) {
      const spec = fitSpecToData(p.spec, { channels: 3, size: 32, numClasses: 3 })
      const model = buildModel(spec, { init: 'xavier', seed: 1 })
      expect(model.inputs[0].shape).toEqual([null, spec.inputSize, spec.inputSize, 3])
      expect(model.outputs[0].shape).toEqual([null, 3])
      model.dispose()
    }
  })

  it('LeNet-5 on 3x32x32 is the CIFAR-10 tutorial network: 400 features after flatten', () => {
    const spec = fitSpecToData(getPreset('lenet5')!.spec, { channels: 3, size: 32, numClasses: 10 })
    expect(summarize(spec).rows.find((r) => r.name.startsWith('Flatten'))!.outputShape).toEqual([-1, 400])
    expect(summarize(spec).totalParams).toBe(62_006)
  })

  it('gray data keeps the MNIST network as it is; too small a picture says which layer does not fit', () => {
    const lenet = getPreset('lenet5')!.spec
    expect(fitSpecToData(lenet, { channels: 1, size: 28, numClasses: 10 })).toEqual(lenet)
    expect(() => fitSpecToData(lenet, { channels: 3, size: 8, numClasses: 10 })).toThrow(/LeNet-5 does not fit 3x8x8 images: layer 4 \(Conv2d\)/)
  })
})
