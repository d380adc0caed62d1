// The tfjs checkpoint format, written, read and checked by one module (storage/checkpoint.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { checkpointFilesProblem, checkpointProblem, readCheckpoint, writeCheckpoint } from '../../../src/main/storage/checkpoint'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'checkpoint-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const weights = new Float32Array([1, 2, 3, 4, 5, 6])
const specs = [
  { name: 'dense/kernel', shape: [2, 2], dtype: 'float32' as const },
  { name: 'dense/bias', shape: [2], dtype: 'float32' as const }
]
const artifacts = { modelTopology: { class_name: 'Sequential', config: {} }, weightSpecs: specs, weightData: weights.buffer, format: 'layers-model', generatedBy: 'test' }

function withModel(edit: (m: { weightsManifest: { paths: unknown[]; weights: Record<string, unknown>[] }[] }) => void): string {
  const m = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))
  edit(m)
  writeFileSync(join(dir, 'model.json'), JSON.stringify(m))
  return dir
}

describe('checkpoint format', () => {
  it('round-trips: what write puts down, check accepts and read gives back', () => {
    writeCheckpoint(dir, artifacts)
    expect(checkpointProblem(dir)).toBeNull()
    const back = readCheckpoint(dir)
    expect(back.weightSpecs).toEqual(specs)
    expect(back.modelTopology).toEqual(artifacts.modelTopology)
    expect(Array.from(new Float32Array(back.weightData as ArrayBuffer))).toEqual(Array.from(weights))
    // Several buffers (tfjs may hand weightData as a list) are concatenated in order.
    writeCheckpoint(dir, { ...artifacts, weightData: [weights.buffer.slice(0, 8), weights.buffer.slice(8)] })
    expect(Array.from(new Float32Array(readCheckpoint(dir).weightData as ArrayBuffer))).toEqual(Array.from(weights))
  })

  it('refuses weight files of the wrong size, read and check alike', () => {
    writeCheckpoint(dir, artifacts)
    writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(20))
    expect(checkpointProblem(dir)).toBe('weights are 20 bytes but model.json declares 24')
    expect(() => readCheckpoint(dir)).toThrow(/hold 20 bytes, model.json describes 24/)
    writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(28))
    expect(checkpointProblem(dir)).toBe('weights are 28 bytes but model.json declares 24')
    expect(() => readCheckpoint(dir)).toThrow('weights file weights.bin: the file is 28 bytes; the limit is 24 bytes')
  })

  it('has one dtype table: int32 4, bool 1, quantised uint8 1 byte; unknown and string dtypes refused', () => {
    writeCheckpoint(dir, artifacts)
    // 6 int32 = 24 bytes: still valid.
    withModel((m) => m.weightsManifest[0].weights.forEach((w) => (w.dtype = 'int32')))
    expect(checkpointProblem(dir)).toBeNull()
    withModel((m) => m.weightsManifest[0].weights.forEach((w) => (w.quantization = { dtype: 'uint8', scale: 1, min: 0 })))
    expect(checkpointProblem(dir)).toBe('weights are 24 bytes but model.json declares 6')
    withModel((m) => m.weightsManifest[0].weights.forEach((w) => delete w.quantization))
    for (const dtype of ['int16', 'string', 'float64']) {
      withModel((m) => (m.weightsManifest[0].weights[0].dtype = dtype))
      expect(checkpointProblem(dir)).toBe(`model.json has a weight of unknown dtype "${dtype}"`)
      expect(() => readCheckpoint(dir)).toThrow(`unknown dtype "${dtype}"`)
    }
  })

  it('refuses bad weights paths and a missing weights file', () => {
    writeCheckpoint(dir, artifacts)
    for (const p of ['../../etc/passwd', '/etc/passwd', 'sub/weights.bin', 'C:\\x.bin', 'model.json', 7]) {
      withModel((m) => (m.weightsManifest[0].paths = [p]))
      expect(checkpointProblem(dir)).toBe(`model.json names a bad weights path ${JSON.stringify(p)}`)
    }
    withModel((m) => (m.weightsManifest[0].paths = ['other.bin']))
    expect(checkpointProblem(dir)).toBe('weights file other.bin is missing')
    expect(() => readCheckpoint(dir)).toThrow(expect.objectContaining({ missing: true }))
    expect(checkpointFilesProblem(undefined, () => 0)).toBe('model.json is missing')
    writeFileSync(join(dir, 'model.json'), '{ nope')
    expect(checkpointProblem(dir)).toMatch(/^model.json is not valid JSON/)
  })
})
