// GPU and CUDA detection on this machine's real dynamic loader.
import { describe, expect, it } from 'vitest'
import { CUDA_LIBS_FOR_TFJS4, diagnoseCuda, explainCuda, listNvidiaGpus } from '../../../src/main/backends/gpus'

describe('CUDA libraries for tfjs-node-gpu 4.x', () => {
  it.skipIf(process.platform !== 'linux')('sorts every library it needs into found or missing, and explains what is missing', () => {
    const d = diagnoseCuda()
    expect([...d.found, ...d.missing].sort()).toEqual([...CUDA_LIBS_FOR_TFJS4].sort())
    expect(d.explanation === null).toBe(d.missing.length === 0)
    // Consistency with the driver: no libcuda.so.1 means no NVIDIA driver, and the sentence says so.
    if (d.missing.includes('libcuda.so.1')) expect(d.explanation).toMatch(/NVIDIA driver/)
  })

  it('explains a version mismatch with the fix', () => {
    const text = explainCuda(['libcudart.so.11.0', 'libcudnn.so.8'], ['libcudart.so.12', 'libcudnn.so.9'])
    expect(text).toMatch(/CUDA 11\.2 \+ cuDNN 8\.1/)
    expect(text).toContain('libcudart.so.11.0, libcudnn.so.8 could not be loaded')
    expect(text).toContain('found libcudart.so.12, libcudnn.so.9')
    expect(text).toMatch(/LD_LIBRARY_PATH/)
    expect(explainCuda([], [])).toBeNull()
  })

  it('lists NVIDIA GPUs only when the driver reports them', () => {
    const gpus = listNvidiaGpus()
    for (const g of gpus) expect(g.name.length).toBeGreaterThan(0)
    const hasDriver = diagnoseCuda().found.includes('libcuda.so.1')
    if (!hasDriver && process.platform === 'linux') expect(gpus).toEqual([])
  })
})
