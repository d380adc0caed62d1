// The New run form's expected time per epoch (src/shared/estimate.ts), from the presets' own specs.
import { describe, expect, it } from 'vitest'
import { getPreset } from '../../src/core/models/presets'
import { estimateEpochs, formatDuration, forwardMacs, trainingFlops } from '../../src/shared/estimate'

const lenet = getPreset('lenet5')!.spec
const alexnet = getPreset('alexnet')!.spec

describe('expected time per epoch', () => {
  it('counts LeNet-5 and AlexNet multiply-adds as the layer arithmetic gives them', () => {
    // conv1 28·28·6·25 + conv2 10·10·16·6·25 + 400·120 + 120·84 + 84·10
    expect(forwardMacs(lenet)).toBe(117_600 + 240_000 + 48_000 + 10_080 + 840)
    // d2l's AlexNet at 224x224, one channel: about 0.94 G multiply-adds.
    expect(forwardMacs(alexnet) / 1e9).toBeGreaterThan(0.9)
    expect(forwardMacs(alexnet) / 1e9).toBeLessThan(1.0)
  })

  it('AlexNet on the 2-core CPU (LeNet-5 measured at 16k examples/s) is about 19 minutes per 60k epoch, and says hours for 10 epochs', () => {
    const [e] = estimateEpochs(alexnet, trainingFlops(lenet), 60_000, [{ backend: 'tensorflow', label: 'tensorflow', lenetExamplesPerSec: 16_000 }])
    expect(e.secondsPerEpoch / 60).toBeGreaterThan(15)
    expect(e.secondsPerEpoch / 60).toBeLessThan(24)
    expect(formatDuration(e.secondsPerEpoch * 10)).toMatch(/^\d+(\.\d)? h$/)
  })

  it('ranks backends fastest first and ignores unmeasured ones', () => {
    const list = estimateEpochs(lenet, trainingFlops(lenet), 60_000, [
      { backend: 'wasm', label: 'wasm', lenetExamplesPerSec: 4_394 },
      { backend: 'tensorflow', label: 'tensorflow', lenetExamplesPerSec: 16_000 },
      { backend: 'cpu', label: 'cpu', lenetExamplesPerSec: 0 }
    ])
    expect(list.map((e) => e.backend)).toEqual(['tensorflow', 'wasm'])
    // LeNet-5 itself is the measurement: no scaling.
    expect(list[0].secondsPerEpoch).toBeCloseTo(60_000 / 16_000, 6)
  })

  it('formats durations a person reads at a glance', () => {
    expect([formatDuration(0.2), formatDuration(40), formatDuration(19 * 60), formatDuration(3.2 * 3600)]).toEqual(['1 s', '40 s', '19 min', '3.2 h'])
  })
})
