import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bufferCount, formatBuffers, formatSummary, summarize } from '../../../src/core/models/summary'
import { getPreset, presets } from '../../../src/core/models/presets'
import { buildModel } from '../../../src/core/models/build'

const fixtures = join(__dirname, '../../fixtures/models')

interface TorchSummary {
  rows: { name: string; outputShape: number[]; params: number; trainable: boolean }[]
  totalParams: number
  trainableParams: number
  nonTrainableParams: number
  inputSizeMb: number
  forwardBackwardMb: number
  paramsMb: number
  totalMb: number
  torchParameterCount: number
}

// Presets that share a network with another preset (lenet5-adam is lenet5 with other settings).
const fixtureOf: Record<string, string> = { 'lenet5-adam': 'lenet5' }

describe('summarize() against PyTorch (test/fixtures/models, made by make_torch_summaries.py)', () => {
  for (const preset of presets) {
    const fixtureId = fixtureOf[preset.id] ?? preset.id
    it(`${preset.id}: every row, the totals and the memory estimates equal torchsummary's`, () => {
      const torch = JSON.parse(readFileSync(join(fixtures, `${fixtureId}.summary.json`), 'utf8')) as TorchSummary
      const ours = summarize(preset.spec)
      expect(ours.rows.length).toBe(torch.rows.length)
      ours.rows.forEach((row, i) => {
        expect(row, `row ${i + 1}`).toEqual(torch.rows[i])
      })
      expect(ours.totalParams).toBe(torch.totalParams)
      expect(ours.totalParams).toBe(torch.torchParameterCount)
      expect(ours.trainableParams).toBe(torch.trainableParams)
      expect(ours.nonTrainableParams).toBe(torch.nonTrainableParams)
      expect(ours.inputSizeMb).toBeCloseTo(torch.inputSizeMb, 10)
      expect(ours.forwardBackwardMb).toBeCloseTo(torch.forwardBackwardMb, 10)
      expect(ours.paramsMb).toBeCloseTo(torch.paramsMb, 10)
      expect(ours.totalMb).toBeCloseTo(torch.totalMb, 10)
    })
    it(`${preset.id}: the printed table is byte for byte PyTorch's`, () => {
      const text = readFileSync(join(fixtures, `${fixtureId}.summary.txt`), 'utf8').trimEnd()
      expect(formatSummary(summarize(preset.spec))).toBe(text)
    })
  }

  it("names BatchNorm's running statistics apart: buffers in PyTorch, non-trainable weights in tfjs", () => {
    const modern = getPreset('lenet5-modern')!.spec
    const s = summarize(modern)
    expect(s.totalParams).toBe(62_158)
    // running_mean + running_var of BatchNorm2d(6), BatchNorm2d(16), BatchNorm1d(120), BatchNorm1d(84)
    expect(bufferCount(modern)).toBe(2 * (6 + 16 + 120 + 84))
    expect(formatBuffers(modern)).toBe('Non-trainable buffers: 452 (BatchNorm running mean and variance; not parameters, as in PyTorch)')
    // tfjs counts both: its model holds the statistics as non-trainable weights.
    const model = buildModel(modern, { init: 'xavier', seed: 1 })
    expect(model.countParams()).toBe(s.totalParams + bufferCount(modern))
    expect(model.countParams()).toBe(62_610)
    model.dispose()
    expect(bufferCount(getPreset('lenet5')!.spec)).toBe(0)
    expect(formatBuffers(getPreset('alexnet')!.spec)).toBeNull()
  })

  it('has the parameter counts the tutorials state', () => {
    expect(summarize(getPreset('lenet5')!.spec).totalParams).toBe(61_706)
    expect(summarize(getPreset('alexnet')!.spec).totalParams).toBe(46_764_746)
  })

  it('getPreset returns a copy the caller may edit', () => {
    const a = getPreset('lenet5')!
    a.spec.layers.pop()
    expect(getPreset('lenet5')!.spec.layers.length).toBe(12)
    expect(getPreset('nope')).toBeUndefined()
  })
})
