// The WebGPU path, numerically: forward and gradients of every layer type against the cpu backend.
// Runs wherever Dawn finds an adapter; on a machine without a GPU that is Mesa's llvmpipe through
// Dawn's OpenGL backend (Debian: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri), in compatibility
// mode. Where no adapter exists the tests are skipped with the reason.
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { releaseBackends, selectBackend, type SelectedBackend } from '../../../src/main/backends'
import { layerCases, relativeError, runPass } from '../../core/backends/parity'

let selected: SelectedBackend | null = null
let unavailable = ''

beforeAll(async () => {
  try {
    selected = await selectBackend('webgpu')
  } catch (error) {
    unavailable = error instanceof Error ? error.message : String(error)
    console.warn(`WebGPU tests skipped: ${unavailable}`)
  }
}, 120_000)

afterAll(() => releaseBackends())

describe('webgpu backend (Dawn)', () => {
  it('passes the self-check and names its adapter', (ctx) => {
    if (!selected) return ctx.skip()
    expect(selected.name).toBe('webgpu')
    expect(selected.device).toBeTruthy()
    expect(selected.versions.adapter).toBeTruthy()
  })

  for (const c of layerCases) {
    it(`layer '${c.name}': forward and gradients equal cpu`, async (ctx) => {
      if (!selected) return ctx.skip()
      const ref = await runPass('cpu', c)
      const got = await runPass('webgpu', c)
      expect(got.outputShape).toEqual(ref.outputShape)
      expect(relativeError(got.output, ref.output)).toBeLessThan(1e-3)
      got.grads.forEach((g, i) => expect(relativeError(g.values, ref.grads[i].values), g.name).toBeLessThan(1e-3))
    }, 120_000)
  }

  it('auto never picks a software adapter', async (ctx) => {
    if (!selected || !/software/.test(selected.device ?? '')) return ctx.skip()
    const auto = await selectBackend('auto')
    expect(auto.name).not.toBe('webgpu')
    const webgpu = auto.report.candidates.find((c) => c.name === 'webgpu')
    if (auto.report.candidates.indexOf(webgpu!) < auto.report.candidates.findIndex((c) => c.name === auto.name)) {
      expect(webgpu?.reason).toMatch(/software adapter/)
    }
    await tf.setBackend('cpu')
  })
})
