// Backend choice with the real loaders of this machine: whatever is (not) installed here is what
// the assertions see, so each test states what must hold either way.
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { BACKEND_ORDER, probeBackends, recommend, selectBackend } from '../../../src/main/backends'
import { nativePrecheck } from '../../../src/main/backends/native'
import { StudioError } from '../../../src/shared/contract'
import { selfCheck } from '../../../src/core/backends/selfcheck'
import { registerWasmKernels } from '../../../src/core/backends/wasm-kernels'

const tfjsNodeMissing = nativePrecheck('@tensorflow/tfjs-node')
const gpuPackageMissing = nativePrecheck('@tensorflow/tfjs-node-gpu')

describe('selectBackend', () => {
  it('cpu always works and becomes the active tfjs backend', async () => {
    const selected = await selectBackend('cpu')
    expect(selected.name).toBe('cpu')
    expect(tf.getBackend()).toBe('cpu')
    expect(selected.device).toMatch(/JavaScript/)
    expect(selected.report.reason).toMatch(/requested explicitly/)
  })

  it('explicit wasm selects wasm with the missing Conv2DBackpropFilter registered', async () => {
    const selected = await selectBackend('wasm')
    expect(selected.name).toBe('wasm')
    expect(tf.getBackend()).toBe('wasm')
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined()
    expect(selected.versions.kernelsAdded).toContain('Conv2DBackpropFilter')
    expect(selected.versions.simd).toBe('on')
  })

  it('the self-check catches the wasm gap when the kernel is missing', async () => {
    registerWasmKernels()
    await tf.setBackend('wasm')
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'wasm')
    if (!kernel) throw new Error('kernel not registered')
    tf.unregisterKernel('Conv2DBackpropFilter', 'wasm')
    try {
      expect(await selfCheck()).toMatch(/Conv2DBackpropFilter/)
    } finally {
      tf.registerKernel(kernel)
    }
    expect(await selfCheck()).toBeNull()
  })

  it('an explicit backend that cannot work is an error naming the reason, not a fallback', async () => {
    if (!gpuPackageMissing) {
      console.warn('tfjs-node-gpu has a built addon here; checking that it is refused only without a GPU')
    }
    const before = tf.getBackend()
    try {
      const selected = await selectBackend('tensorflow-gpu')
      // Only reachable on a machine where TensorFlow really sees a GPU.
      expect(selected.device).toBeTruthy()
    } catch (error) {
      expect(error).toBeInstanceOf(StudioError)
      expect((error as StudioError).code).toBe('unavailable')
      expect((error as StudioError).message).toMatch(/tensorflow-gpu.*not available:.*(tfjs-node-gpu|GPU)/)
      expect(tf.getBackend()).toBe(before)
    }
  })

  it('rejects an unknown backend name', async () => {
    await expect(selectBackend('tpu' as never)).rejects.toMatchObject({ code: 'invalid_argument' })
  })

  it.skipIf(tfjsNodeMissing !== null)(`explicit tensorflow runs native TensorFlow with oneDNN on${tfjsNodeMissing ? ` (skipped: ${tfjsNodeMissing})` : ''}`, async () => {
    const selected = await selectBackend('tensorflow')
    expect(selected.name).toBe('tensorflow')
    expect(tf.getBackend()).toBe('tensorflow')
    expect(selected.versions.libtensorflow).toMatch(/^\d+\.\d+/)
    expect(selected.versions.oneDNN).toBe(process.env.TF_ENABLE_ONEDNN_OPTS === '1' ? 'on' : 'off')
    expect(process.env.TF_CPP_MIN_LOG_LEVEL).toBeDefined()
  })

  it('auto takes the first working backend in order and says why each better one was skipped', async () => {
    const selected = await selectBackend('auto')
    const { candidates } = selected.report
    expect(candidates.map((c) => c.name)).toEqual(BACKEND_ORDER)
    const index = BACKEND_ORDER.indexOf(selected.name)
    for (const better of candidates.slice(0, index)) {
      expect(better.available && better.name !== 'webgpu').toBe(false)
      expect(better.reason).toBeTruthy()
    }
    expect(candidates[index].available).toBe(true)
    expect(tf.getBackend()).toBe(selected.name === 'tensorflow-gpu' ? 'tensorflow' : selected.name)
    const gpu = candidates[0]
    if (!gpu.available) {
      expect(gpu.reason).toMatch(/tfjs-node-gpu/)
      expect(selected.report.reason).toContain('tensorflow-gpu:')
    }
    if (tfjsNodeMissing === null && selected.name !== 'tensorflow-gpu') expect(selected.name).toBe('tensorflow')
  })
})

describe('probeBackends', () => {
  it('reports every backend with a reason for each unavailable one, and keeps the active backend', async () => {
    await tf.setBackend('cpu')
    const report = await probeBackends()
    expect(tf.getBackend()).toBe('cpu')
    expect(report.candidates.map((c) => c.name)).toEqual(BACKEND_ORDER)
    for (const c of report.candidates) if (!c.available) expect(c.reason, c.name).toBeTruthy()
    const wasm = report.candidates.find((c) => c.name === 'wasm')
    expect(wasm?.available).toBe(true)
    expect(report.candidates.find((c) => c.name === 'cpu')?.available).toBe(true)
    expect(report.candidates.find((c) => c.name === report.chosen)?.available).toBe(true)
    const gpu = report.candidates[0]
    if (gpuPackageMissing) expect(gpu.reason).toContain('@tensorflow/tfjs-node-gpu')
    expect(Array.isArray(report.gpus)).toBe(true)
  })
})

describe('recommend', () => {
  it('says so when the GPU is slower than the CPU at this batch size', () => {
    const text = recommend({ chosen: 'tensorflow-gpu', reason: '', candidates: [] }, [
      { backend: 'tensorflow-gpu', device: 'NVIDIA T4', examplesPerSec: 3000, error: null },
      { backend: 'tensorflow', device: 'CPU', examplesPerSec: 4100, error: null },
      { backend: 'wasm', device: 'CPU', examplesPerSec: null, error: 'not measured' }
    ])
    expect(text).toMatch(/--backend tensorflow\b/)
    expect(text).toMatch(/GPU \(NVIDIA T4\) is slower than the CPU/)
  })

  it('keeps the automatic choice when it is the fastest', () => {
    const text = recommend({ chosen: 'tensorflow', reason: '', candidates: [] }, [
      { backend: 'tensorflow', device: 'CPU', examplesPerSec: 4100, error: null },
      { backend: 'wasm', device: 'CPU', examplesPerSec: 1500, error: null }
    ])
    expect(text).toMatch(/^Use tensorflow \(the automatic choice\)/)
    expect(text).not.toMatch(/slower/)
  })
})
