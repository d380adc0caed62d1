// "Copy as PyTorch code" and the PyTorch export's model.py: the nn.Sequential that mirrors d2l's
// LeNet-5 layer for layer, with the shapes PyTorch needs worked out from the spec.
import { describe, expect, it } from 'vitest'
import { getPreset } from '../../../src/core/models/presets'
import { pytorchSequential } from '../../../src/core/models/torch-source'

describe('pytorchSequential', () => {
  it("writes d2l's LeNet-5 as its nn.Sequential, the indices the exported state_dict uses", () => {
    const spec = getPreset('lenet5')!.spec
    const code = pytorchSequential(spec)
    const layers = code.split('\n').filter((l) => l.trim().startsWith('nn.')).map((l) => l.trim())
    expect(layers).toEqual([
      'nn.Conv2d(1, 6, kernel_size=5, stride=1, padding=2),  # 0',
      'nn.Sigmoid(),  # 1',
      'nn.AvgPool2d(kernel_size=2, stride=2),  # 2',
      'nn.Conv2d(6, 16, kernel_size=5, stride=1, padding=0),  # 3',
      'nn.Sigmoid(),  # 4',
      'nn.AvgPool2d(kernel_size=2, stride=2),  # 5',
      'nn.Flatten(),  # 6',
      'nn.Linear(400, 120),  # 7',
      'nn.Sigmoid(),  # 8',
      'nn.Linear(120, 84),  # 9',
      'nn.Sigmoid(),  # 10',
      'nn.Linear(84, 10),  # 11'
    ])
    expect(code).toMatch(/^def build\(\):\n/)
    expect(code).toContain('return nn.Sequential(')
  })

  it('gives BatchNorm its channel count and keeps a hostile name from closing the docstring', () => {
    const spec = { ...getPreset('lenet5-modern')!.spec, name: 'x"""; import os' }
    const code = pytorchSequential(spec)
    expect(code).toContain('nn.BatchNorm2d(6)')
    expect(code).not.toContain('"""; import os')
  })
})
