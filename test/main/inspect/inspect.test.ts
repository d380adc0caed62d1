// Inspection leaves the host: the model worker (a real child process) answers what the core
// computes in-process on the same tensor; the CLI prints the JSON and writes PNGs.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ModelWorker } from '../../../src/main/services/model-worker'
import { nodeSpawner } from '../../../src/main/services/training'
import { tensorValues } from '../../../src/main/services/inspect'
import { register } from '../../../src/main/cli/inspect'
import { modelFromArtifacts, toInputTensor } from '../../../src/core/models/io'
import { inspectImage } from '../../../src/core/inspect/inspect'
import { summarize } from '../../../src/core/models/summary'
import { readCheckpoint } from '../../../src/main/storage/checkpoint'
import { runCli } from '../../helpers/cli'
import { FIXTURES, setupRun, type ManifestEntry, type Setup } from '../predict/helpers'

const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))
const png = manifest.find((m) => m.format === 'png') as ManifestEntry
const pngPath = join(FIXTURES, 'images', png.file)

let s: Setup
let worker: ModelWorker
let out: string
beforeAll(() => {
  s = setupRun()
  worker = new ModelWorker({ spawn: nodeSpawner(), runs: s.store, styleOf: async () => 'digits' })
  out = mkdtempSync(join(tmpdir(), 'inspect-out-'))
})
afterAll(() => {
  worker.close()
  s.close()
  rmSync(out, { recursive: true, force: true })
})

describe('inspection in the model worker', () => {
  it("answers in a child process what the core computes in-process on the same input tensor", async () => {
    const r = await worker.inspectFile(s.runId, 'best', png.file, readFileSync(pngPath), null)
    expect(worker.pid).toBeGreaterThan(0)
    expect(worker.pid).not.toBe(process.pid)
    const spec = s.store.get(s.runId).config.spec
    expect(r.layers.map((l) => l.name)).toEqual(summarize(spec).rows.map((row) => row.name))
    expect(r.layers.map((l) => l.shape)).toEqual(summarize(spec).rows.map((row) => row.outputShape.slice(1)))
    expect(r.input.shape).toEqual([1, 28, 28])
    expect(r.predicted).toBe(png.label)
    expect(r.top[0].classIndex).toBe(png.label)
    expect(r.gradcam).toMatchObject({ layer: 'ReLU-7', classIndex: png.label, raw: { shape: [10, 10] }, upsampled: { shape: [28, 28] } })
    expect(r.saliency.shape).toEqual([28, 28])

    // The same input tensor through the core here: the worker added or lost nothing on the way.
    const input = tensorValues(r.input)
    await tf.setBackend('cpu')
    const model = await modelFromArtifacts(readCheckpoint(s.store.weightsDir(s.runId, 'best')))
    const bytes = Uint8Array.from(input, (v) => Math.round(v * 255))
    const x = toInputTensor(bytes, 1, 28, spec)
    expect(Math.max(...Array.from(x.dataSync(), (v, i) => Math.abs(v - input[i])))).toBeLessThan(1e-6)
    const local = inspectImage(model, spec, x)
    const camDiff = Math.max(...Array.from(local.gradcam!.raw.values, (v, i) => Math.abs(v - tensorValues(r.gradcam!.raw)[i])))
    expect(camDiff).toBeLessThan(1e-4)
    const last = local.layers[local.layers.length - 1].values
    const remoteLast = tensorValues(r.layers[r.layers.length - 1])
    expect(Math.max(...Array.from(last, (v, i) => Math.abs(v - remoteLast[i])))).toBeLessThan(1e-4)
    model.dispose()
    x.dispose()
    tf.disposeVariables()
  }, 60_000)

  it('explains a chosen class, and refuses a class the run does not have', async () => {
    const r = await worker.inspectFile(s.runId, 'best', png.file, readFileSync(pngPath), 3)
    expect(r.gradcam!.classIndex).toBe(3)
    expect(r.predicted).toBe(png.label)
    await expect(worker.inspectFile(s.runId, 'best', png.file, readFileSync(pngPath), 12)).rejects.toThrow(/has 10 classes; class 12 does not exist/)
    const pixels = new Uint8Array(28 * 28)
    await expect(worker.inspectPixels(s.runId, 'best', pixels, 27, null)).rejects.toThrow(/784 bytes are not one 27x27 image/)
  }, 60_000)

  it('answers warm through the worker again and again, and reports the time (bench/inspect.ts measures it; tests assert no timings)', async () => {
    const bytes = readFileSync(pngPath)
    await worker.inspectFile(s.runId, 'best', png.file, bytes, null)
    const times: number[] = []
    for (let i = 0; i < 15; i++) {
      const t = performance.now()
      await worker.inspectFile(s.runId, 'best', png.file, bytes, null)
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    console.log(`[inspect] LeNet-5 (modern) through the model worker, warm: median ${times[7].toFixed(1)} ms, min ${times[0].toFixed(1)} ms`)
    expect(times).toHaveLength(15)
  }, 60_000)
})

describe('conv-studio inspect', () => {
  it("--json prints one object with the issue's fields in PyTorch order", async () => {
    const r = await runCli(register, s.dir, ['inspect', '--run', String(s.runId), '--image', pngPath, '--json'])
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const j = JSON.parse(lines[0]) as {
      input: { shape: number[]; values: number[] }
      layers: { name: string; shape: number[]; values: number[] }[]
      predicted: number
      gradcam: { layer: string; raw: { shape: number[]; values: number[] }; upsampled: { shape: number[]; values: number[] } }
    }
    expect(j.input.shape).toEqual([1, 28, 28])
    expect(j.input.values).toHaveLength(784)
    expect(j.layers.slice(0, 3).map((l) => l.name)).toEqual(['Conv2d-1', 'BatchNorm2d-2', 'ReLU-3'])
    expect(j.layers[0].shape).toEqual([6, 28, 28])
    expect(j.layers[0].values).toHaveLength(6 * 28 * 28)
    expect(j.layers.find((l) => l.name === 'Flatten-9')?.shape).toEqual([400])
    expect(j.predicted).toBe(png.label)
    expect(j.gradcam.layer).toBe('ReLU-7')
    expect(j.gradcam.raw.shape).toEqual([10, 10])
    expect(j.gradcam.raw.values).toHaveLength(100)
    expect(j.gradcam.upsampled.shape).toEqual([28, 28])
  }, 60_000)

  it('--out writes the input, every layer, Grad-CAM and saliency as PNGs; --class picks the class', async () => {
    const dir = join(out, 'pngs')
    const r = await runCli(register, s.dir, ['inspect', '--run', String(s.runId), '--image', pngPath, '--class', '2', '--out', dir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Grad-CAM for class 2 on ReLU-7: 10x10, upsampled to 28x28/)
    const files = readdirSync(dir).sort()
    expect(files).toContain('input.png')
    expect(files).toContain('gradcam.png')
    expect(files).toContain('gradcam-raw.png')
    expect(files).toContain('saliency.png')
    expect(files.filter((f) => f.startsWith('layer-'))).toHaveLength(16)
    expect(readFileSync(join(dir, 'gradcam.png')).subarray(1, 4).toString()).toBe('PNG')
  }, 60_000)

  it('one clear line for a bad class, a missing file, a run that does not exist', async () => {
    const a = await runCli(register, s.dir, ['inspect', '--run', String(s.runId), '--image', pngPath, '--class', '10'])
    expect(a.code).toBe(2)
    expect(a.stderr).toMatch(/^error: Run \d+ has 10 classes; --class 10 does not exist\.\n$/)
    const b = await runCli(register, s.dir, ['inspect', '--run', String(s.runId), '--image', join(out, 'nope.png')])
    expect(b.code).toBe(1)
    expect(b.stderr.trim().split('\n')).toHaveLength(1)
    expect(b.stderr).toMatch(/nope\.png/)
    const c = await runCli(register, s.dir, ['inspect', '--run', '999', '--image', pngPath])
    expect(c.stderr).toMatch(/^error: There is no run 999\./)
    expect(existsSync(join(out, 'nope.png'))).toBe(false)
  }, 60_000)
})
