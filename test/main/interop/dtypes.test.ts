// Half, bfloat16 and double precision state_dicts (.pth and .safetensors, made by
// make_fixtures.py --dtypes from lenet5-sequential) are converted to float32 on import; integer
// tensors in weight slots are refused by name.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { selectBackend } from '../../../src/main/backends'
import { getPreset } from '../../../src/core/models/presets'
import { toInputTensor } from '../../../src/core/models/io'
import { importProblem, importWeights } from '../../../src/main/interop/import'
import { FIX, fixture, fixtureImages, maxAbsDiff } from './helpers'

const ref = JSON.parse(readFileSync(join(FIX, 'logits-dtypes.json'), 'utf8')) as Record<string, { inDtype: number[][]; float32: number[][] }>
const spec = getPreset('lenet5')!.spec
beforeAll(() => selectBackend('auto'))

async function importedLogits(file: string): Promise<{ logits: number[][]; format: string }> {
  const { model, format } = await importWeights(join(FIX, file), spec)
  const x = toInputTensor(fixtureImages, fixture.count, fixture.size, spec)
  const y = model.apply(x, { training: false }) as tf.Tensor2D
  const logits = (await y.array()) as number[][]
  tf.dispose([x, y])
  model.dispose()
  return { logits, format }
}

describe('half and double precision state_dicts are read as float32', () => {
  // Every stored value converts to float32 exactly, so the app matches PyTorch evaluating the same
  // values in float32 to float32 rounding (1e-5). Against PyTorch evaluating in the file's own dtype
  // the gap is PyTorch's rounding, not ours: it rounds every activation to 11 (float16) or 8
  // (bfloat16) significant bits, a unit roundoff of 4.9e-4 and 3.9e-3 of each value, so the bound
  // there is relative to the largest logit: 1e-3 (float16), 1e-2 (bfloat16); float64 against
  // float32 arithmetic: 1e-4.
  for (const [dtype, bound] of [['float16', 1e-3], ['bfloat16', 1e-2], ['float64', 1e-4]] as const) {
    for (const ext of ['pth', 'safetensors']) {
      it(`lenet5-${dtype}.${ext}: logits to 1e-5 of PyTorch's on the same values in float32, and to ${bound} of PyTorch computing in ${dtype}`, async () => {
        const { logits, format } = await importedLogits(`lenet5-${dtype}.${ext}`)
        expect(format).toBe(ext === 'pth' ? 'PyTorch zip (torch.save)' : 'safetensors')
        const exact = maxAbsDiff(logits, ref[dtype].float32)
        const scale = Math.max(1, ...ref[dtype].inDtype.flat().map(Math.abs))
        const own = maxAbsDiff(logits, ref[dtype].inDtype)
        console.log(`[interop] lenet5-${dtype}.${ext}: max |diff| vs PyTorch float32 on the same values ${exact.toExponential(2)}, vs PyTorch in ${dtype} ${own.toExponential(2)} (largest logit ${scale.toFixed(2)}), vs the float32 original ${maxAbsDiff(logits, fixture.logits['lenet5-sequential']).toExponential(2)}`)
        expect(exact).toBeLessThan(1e-5)
        expect(own / scale).toBeLessThan(bound)
      })
    }
  }

  it('an int64 tensor in a weight slot is refused, naming the tensor and its dtype', async () => {
    const file = join(FIX, 'lenet5-int-weight.safetensors')
    const err = await importWeights(file, spec).catch((e: unknown) => e)
    expect(importProblem(err, file)).toMatch(/lenet5-int-weight\.safetensors: .*'0\.weight' is int64; weights must be floating point \(float32, float64, float16 or bfloat16\)/)
  })
})
