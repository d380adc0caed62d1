// Inspection of a run trained on colour pictures, through the services door: a real imported
// folder of 3x32x32 drawings, a real short training run in a worker process, the model worker's
// inspection. A dataset example (a confusion cell's, a hardest one) and a dropped colour file must
// reach the network as the three planes of the picture, and come back as a colour image, not as
// the first third of the bytes read as gray (what a 1-channel reading of 3072 bytes would give).
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServices, type Services } from '../../../src/main/services'
import { DatasetStore } from '../../../src/main/services/datasets'
import { getPreset } from '../../../src/core/models/presets'
import type { DatasetArrays } from '../../../src/core/data/types'
import type { InspectResult, InspectTensor, RunRecord } from '../../../src/shared/domain'
import { encode, makeShapesFolder } from '../../helpers/shapes'
import { tempDir, tinyConfig } from '../../helpers/hosts'

const dir = tempDir('cs-colour-inspect-')
let services: Services
let run: RunRecord
let data: DatasetArrays

async function call<T>(method: string, args: object): Promise<T> {
  const reply = await services.handle(method, args)
  if (!reply.ok) throw new Error(`${method}: ${reply.error.code}: ${reply.error.message}`)
  return reply.value as T
}

function values(t: InspectTensor): Float32Array {
  const b = Buffer.from(t.values, 'base64')
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

beforeAll(async () => {
  services = await createServices({ dataDir: join(dir.path, 'data'), host: 'cli' })
  const folder = join(dir.path, 'pictures')
  const classes = { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'], 'green cross': ['cross', 'green'] }
  await makeShapesFolder(folder, { classes: classes as never, perClass: 10, side: 32, formats: ['png'] })
  await call('datasets.importImages', { path: folder, name: 'colour-shapes' })
  const preset = getPreset('lenet5-modern')!
  const done = new Promise<void>((resolve) =>
    services.events.subscribe((event, payload) => {
      const p = payload as { runId?: number; status?: string }
      if (event === 'training.status' && p.runId === run?.id && ['completed', 'failed', 'cancelled'].includes(p.status ?? '')) resolve()
    })
  )
  run = await call<RunRecord>('training.start', {
    config: tinyConfig({ model: preset.id, spec: preset.spec, dataset: 'colour-shapes', optimizer: 'adam', lr: 0.002, batchSize: 8, epochs: 1, trainLimit: null, init: 'default' })
  })
  await done
  run = await call<RunRecord>('runs.get', { runId: run.id })
  data = await new DatasetStore({ dataDir: join(dir.path, 'data') }).load('colour-shapes')
}, 180_000)
afterAll(async () => {
  await services.close()
  dir.remove()
})

describe('inspecting a colour run', () => {
  it('a dataset example goes in as its three colour planes and comes back as a colour image', async () => {
    expect(run.status).toBe('completed')
    const index = 2
    const r = await call<InspectResult>('inspect.example', { runId: run.id, weights: 'best', split: 'test', index })
    expect(r.input.shape).toEqual([3, 32, 32])
    const x = values(r.input)
    const px = data.test.images.subarray(index * 32 * 32 * 3, (index + 1) * 32 * 32 * 3)
    // [C, H, W] planes of the stored HWC bytes / 255 (no normalisation in this run).
    let worst = 0
    for (let c = 0; c < 3; c++) for (let i = 0; i < 32 * 32; i++) worst = Math.max(worst, Math.abs(x[c * 1024 + i] - px[i * 3 + c] / 255))
    expect(worst).toBeLessThan(1e-6)
    expect(r.image).toMatchObject({ width: 32, height: 32, channels: 3 })
    expect(Buffer.from(r.image.pixels, 'base64').equals(Buffer.from(px))).toBe(true)
    expect(r.gradcam?.upsampled.shape).toEqual([32, 32])
  })

  it('a dropped colour picture is made as the import made the set\'s, colour kept', async () => {
    // A flat orange 48x48 picture: resized to 32x32 it stays that colour in every pixel.
    const rgb = new Uint8Array(48 * 48 * 3)
    for (let i = 0; i < 48 * 48; i++) rgb.set([200, 120, 10], i * 3)
    const png = await encode(rgb, 48, 48, 'png')
    const r = await call<InspectResult>('inspect.image', { runId: run.id, weights: 'best', fileName: 'orange.png', data: Buffer.from(png).toString('base64') })
    expect(r.input.shape).toEqual([3, 32, 32])
    const x = values(r.input)
    for (const [c, v] of [200, 120, 10].entries()) {
      const plane = x.subarray(c * 1024, (c + 1) * 1024)
      expect(Math.min(...plane)).toBeCloseTo(v / 255, 5)
      expect(Math.max(...plane)).toBeCloseTo(v / 255, 5)
    }
    expect(r.image).toMatchObject({ width: 32, height: 32, channels: 3 })
  })
})
