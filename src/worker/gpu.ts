// What this browser context's WebGPU offers, for the training worker and for the desktop app's
// hidden GPU window (gpu-window.ts) alike. No tfjs here: the window's script stays small.
import { isSoftwareAdapter, type BrowserAdapter } from '../shared/browser-gpu'

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }
  isFallbackAdapter?: boolean
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>
}

/** The adapter tfjs-backend-webgpu takes (it asks for 'high-performance' too), or why there is none. */
export async function findAdapter(): Promise<{ adapter: BrowserAdapter | null; reason: string | null }> {
  const gpu = (navigator as unknown as { gpu?: GpuLike }).gpu
  if (!gpu) return { adapter: null, reason: 'This Chromium has no WebGPU (navigator.gpu is missing).' }
  let a: GpuAdapterLike | null = null
  try {
    a = await gpu.requestAdapter({ powerPreference: 'high-performance' })
  } catch (err) {
    return { adapter: null, reason: `WebGPU gave no adapter: ${(err as Error).message}` }
  }
  if (!a) return { adapter: null, reason: 'WebGPU gave no adapter (the GPU is blocklisted or disabled).' }
  const info = a.info ?? {}
  const adapter = { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '' }
  return { adapter: { ...adapter, software: isSoftwareAdapter({ ...adapter, isFallbackAdapter: a.isFallbackAdapter ?? info.isFallbackAdapter }) }, reason: null }
}

export async function currentAdapter(): Promise<BrowserAdapter | null> {
  return (await findAdapter()).adapter
}

export function browserName(): string {
  const m = /(Edg|Chrome|Firefox|Safari)\/[\d.]+/.exec(navigator.userAgent)
  return m ? m[0] : 'unknown'
}
