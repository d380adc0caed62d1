// What New run shows for a colour dataset comes from models.fit then models.summary: through the
// services door, on a real imported folder of 3x32x32 pictures (three classes). The fitted preset
// must be the network training.start trains (3 input channels, 32 px, 3 classes, LeNet's first
// padding gone), and its summary PyTorch's for those shapes, not the 1x28x28 network for MNIST.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServices, type Services } from '../../../src/main/services'
import { getPreset } from '../../../src/core/models/presets'
import type { ModelSummary } from '../../../src/shared/domain'
import type { ModelSpec } from '../../../src/shared/schemas'
import { makeShapesFolder } from '../../helpers/shapes'
import { tempDir } from '../../helpers/hosts'

const dir = tempDir('cs-newrun-fit-')
let services: Services

async function call<T>(method: string, args: object): Promise<T> {
  const reply = await services.handle(method, args)
  if (!reply.ok) throw new Error(`${method}: ${reply.error.code}: ${reply.error.message}`)
  return reply.value as T
}

beforeAll(async () => {
  services = await createServices({ dataDir: join(dir.path, 'data'), host: 'cli' })
  const folder = join(dir.path, 'pictures')
  const classes = { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'], 'green cross': ['cross', 'green'] }
  await makeShapesFolder(folder, { classes: classes as never, perClass: 6, side: 32, formats: ['png'] })
  await call('datasets.importImages', { path: folder, name: 'colour-shapes' })
}, 60_000)
afterAll(async () => {
  await services.close()
  dir.remove()
})

describe('models.fit (New run on a 3x32x32 dataset)', () => {
  it('fits lenet5-modern to 3x32x32 and 3 classes, and the summary is PyTorch\'s for it', async () => {
    const preset = getPreset('lenet5-modern')!
    const spec = await call<ModelSpec>('models.fit', { model: preset.id, spec: preset.spec, datasetId: 'colour-shapes' })
    expect(spec).toMatchObject({ inputChannels: 3, inputSize: 32, numClasses: 3 })
    expect(spec.layers[0]).toMatchObject({ type: 'conv2d', padding: 0 })
    const s = await call<ModelSummary>('models.summary', { spec })
    // PyTorch's count for these shapes, worked out by hand: conv 3->6 5x5 (450 + 6), BN 6 (12),
    // conv 6->16 5x5 (2,400 + 16), BN 16 (32), 16*5*5 = 400 -> 120 (48,000 + 120), BN 120 (240),
    // 120 -> 84 (10,080 + 84), BN 84 (168), 84 -> 3 (252 + 3).
    expect(s.totalParams).toBe(456 + 12 + 2416 + 32 + 48120 + 240 + 10164 + 168 + 255)
    expect(s.rows[0]).toMatchObject({ name: 'Conv2d-1', outputShape: [-1, 6, 28, 28], params: 456 })
    expect(s.rows.at(-1)).toMatchObject({ outputShape: [-1, 3] })
    // torchsummary's input size for one 3x32x32 float image, in MB.
    expect(s.inputSizeMb).toBeCloseTo((3 * 32 * 32 * 4) / 1024 ** 2, 4)
  })

  it('gives the catalogue\'s network back for MNIST, checks a custom one, and names no folder', async () => {
    const preset = getPreset('lenet5-modern')!
    expect(await call<ModelSpec>('models.fit', { model: preset.id, spec: preset.spec, datasetId: 'mnist-sample' })).toEqual(preset.spec)
    // A custom 1-channel network on colour pictures is refused with the reason, not rewritten.
    const custom = await services.handle('models.fit', { model: 'custom', spec: preset.spec, datasetId: 'colour-shapes' })
    expect(custom.ok).toBe(false)
    if (!custom.ok) expect(custom.error.message).toBe("The network takes 1-channel images but dataset 'colour-shapes' has 3-channel images.")
    // A window may only name a listed dataset: a folder path is not read.
    const path = await services.handle('models.fit', { model: preset.id, spec: preset.spec, datasetId: join(dir.path, 'pictures') })
    expect(path.ok).toBe(false)
    if (!path.ok) expect(path.error.code).toBe('not_found')
  })
})
