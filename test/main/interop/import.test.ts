// Importing PyTorch checkpoints (fixtures made by test/fixtures/interop/make_fixtures.py with torch
// 2.13): each reproduces PyTorch's logits on the fixture images, and every bad file is a clear error.
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, describe, expect, it } from 'vitest'
import { getPreset } from '../../../src/core/models/presets'
import { toInputTensor } from '../../../src/core/models/io'
import { importWeights, importProblem, openCheckpointFile } from '../../../src/main/interop/import'
import { planWeights, weightedLayers, torchToTfjs, tfjsToTorch } from '../../../src/main/interop/mapping'

const FIX = join(__dirname, '../../fixtures/interop')
const fixture = JSON.parse(readFileSync(join(FIX, 'logits.json'), 'utf8')) as { count: number; size: number; logits: Record<string, number[][]> }
const images = new Uint8Array(readFileSync(join(FIX, 'images.u8')))
const tmp = mkdtempSync(join(tmpdir(), 'interop-import-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

async function logitsOf(model: tf.LayersModel, preset: string): Promise<number[][]> {
  const x = toInputTensor(images, fixture.count, fixture.size, getPreset(preset)!.spec)
  const y = model.apply(x, { training: false }) as tf.Tensor2D
  const out = (await y.array()) as number[][]
  tf.dispose([x, y])
  return out
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))))
  return m
}

/** Test name → [file, preset, reference logits, expected naming style]. */
const cases: [string, string, string, RegExp][] = [
  ['lenet5-sequential.pth', 'lenet5', 'lenet5-sequential', /nn\.Sequential/],
  ['lenet5-sequential.safetensors', 'lenet5', 'lenet5-sequential', /nn\.Sequential/],
  ['lenet5-named.pth', 'lenet5', 'lenet5-named', /named modules.*conv1, conv2, f5/],
  ['lenet5-named.safetensors', 'lenet5', 'lenet5-named', /named modules.*conv1, conv2, f5/],
  ['lenet5-modern.pth', 'lenet5-modern', 'lenet5-modern', /nn\.Sequential/]
]

describe('importing PyTorch weights reproduces PyTorch', () => {
  for (const [file, preset, ref, style] of cases) {
    it(`${file} onto ${preset}: logits within 1e-4 of PyTorch's`, async () => {
      const { model, plan, format } = await importWeights(join(FIX, file), getPreset(preset)!.spec)
      const diff = maxAbsDiff(await logitsOf(model, preset), fixture.logits[ref])
      model.dispose()
      console.log(`[interop] ${file}: ${format}, ${plan.style}, max |logit diff| = ${diff.toExponential(2)}`)
      expect(plan.style).toMatch(style)
      expect(format).toBe(file.endsWith('.pth') ? 'PyTorch zip (torch.save)' : 'safetensors')
      expect(diff).toBeLessThan(1e-4)
    })
  }

  it('a nn.Sequential under a prefix (net.) is matched by index', async () => {
    const src = await openCheckpointFile(join(FIX, 'lenet5-sequential.safetensors'))
    const renamed = src.tensors.map((t) => ({ ...t, name: `net.${t.name}` }))
    expect(planWeights(getPreset('lenet5')!.spec, renamed).style).toBe("nn.Sequential keys under 'net.'")
    src.close()
  })

  it('the flatten permutation is what makes the logits match (without it they are far off)', async () => {
    const spec = getPreset('lenet5')!.spec
    const { model } = await importWeights(join(FIX, 'lenet5-sequential.pth'), spec)
    // Undo the permutation on the first linear layer only: treat it as if no Flatten preceded it.
    const layer = weightedLayers(spec).find((l) => l.flattenedFrom)!
    const kernelIndex = model.getWeights().findIndex((w) => w.shape.length === 2)
    const weights = model.getWeights()
    // A copy: the conversions rearrange their input in place, and data() may be the backend's own array.
    const torchLayout = tfjsToTorch(layer, 'weight', ((await weights[kernelIndex].data()) as Float32Array).slice())
    const unpermuted = torchToTfjs({ ...layer, flattenedFrom: null }, 'weight', torchLayout)
    model.setWeights(weights.map((w, i) => (i === kernelIndex ? tf.tensor(unpermuted, w.shape) : w)))
    expect(maxAbsDiff(await logitsOf(model, 'lenet5'), fixture.logits['lenet5-sequential'])).toBeGreaterThan(1e-2)
    model.dispose()
  })
})

describe('bad checkpoints are refused with a clear message', () => {
  const spec = getPreset('lenet5')!.spec
  const problem = async (path: string): Promise<string> => {
    try {
      ;(await importWeights(path, spec)).model.dispose()
    } catch (err) {
      const p = importProblem(err, path)
      if (p === null) throw err
      return p
    }
    throw new Error(`${path} was accepted`)
  }

  it('a pickle calling os.system is refused and never run', async () => {
    const marker = '/tmp/conv-studio-pwned'
    const msg = await problem(join(FIX, 'os-system.pth'))
    expect(msg).toMatch(/names posix\.system|names os\.system/)
    expect(msg).toMatch(/refused and nothing in the file was run/)
    expect(existsSync(marker)).toBe(false)
  })

  it('a truncated zip', async () => {
    const p = join(tmp, 'truncated.pth')
    copyFileSync(join(FIX, 'lenet5-sequential.pth'), p)
    truncateSync(p, 120_000)
    expect(await problem(p)).toMatch(/not a complete zip archive .*truncated/)
  })

  it('a truncated safetensors file', async () => {
    const p = join(tmp, 'truncated.safetensors')
    copyFileSync(join(FIX, 'lenet5-sequential.safetensors'), p)
    truncateSync(p, 120_000)
    expect(await problem(p)).toMatch(/declares bytes .* needs \d+ inside/)
  })

  it('a state_dict of another architecture names expected and found shapes, layer by layer', async () => {
    const msg = await problem(join(FIX, 'wrong-arch.pth'))
    expect(msg).toContain('does not fit LeNet-5')
    expect(msg).toContain("layer 1 (Conv2d) ← '0': weight expected [6, 1, 5, 5], found '0.weight' [4, 3, 5, 5]")
    expect(msg).toMatch(/layer 8 \(Linear\).*expects weight \[120, 400\]/)
  })

  it('a wrong dtype (int32 weights)', async () => {
    const bytes = readFileSync(join(FIX, 'lenet5-sequential.safetensors'))
    const len = Number(bytes.readBigUInt64LE(0))
    // Same byte size per value, so only the declared dtype is wrong.
    const header = bytes.subarray(8, 8 + len).toString().replace('"0.weight":{"dtype":"F32"', '"0.weight":{"dtype":"I32"')
    expect(header).toContain('"I32"')
    const p = join(tmp, 'int-weights.safetensors')
    writeFileSync(p, Buffer.concat([bytes.subarray(0, 8), Buffer.from(header), bytes.subarray(8 + len)]))
    expect(await problem(p)).toMatch(/'0\.weight' is int32; weights must be floating point/)
  })

  it('an unknown dtype (float8) is named', async () => {
    const bytes = readFileSync(join(FIX, 'lenet5-sequential.safetensors'))
    const len = Number(bytes.readBigUInt64LE(0))
    const header = bytes.subarray(8, 8 + len).toString().replace('"0.weight":{"dtype":"F32"', '"0.weight":{"dtype":"F8_E4M3"')
    const p = join(tmp, 'f8.safetensors')
    writeFileSync(p, Buffer.concat([Buffer.from(new BigUint64Array([BigInt(header.length)]).buffer), Buffer.from(header), bytes.subarray(8 + len)]))
    expect(await problem(p)).toMatch(/dtype "F8_E4M3", which is not a dtype Conv Studio reads/)
  })

  it('a 0-byte file', async () => {
    const p = join(tmp, 'empty.pth')
    writeFileSync(p, '')
    expect(await problem(p)).toMatch(/the file is empty \(0 bytes\)/)
  })

  it('a file that is not there', async () => {
    expect(await problem(join(tmp, 'nope.pth'))).toMatch(/nope\.pth: no such file/)
  })
})
