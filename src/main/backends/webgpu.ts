// TensorFlow.js's 'webgpu' backend in Node, over Dawn from the `webgpu` npm package.
//
// tfjs-backend-webgpu registers itself only where `navigator.gpu` exists (browsers), and asks for a
// default adapter. Here we create Dawn ourselves, pick the adapter, and register the backend with
// our device:
//   1. a hardware adapter through Dawn's default backends (Vulkan, Metal, D3D12);
//   2. failing that, a compatibility-mode adapter over OpenGL (Dawn's GL backend). On a machine
//      without a GPU that is Mesa's llvmpipe (software): correct but ~50 LeNet examples/s, so
//      `auto` never picks a software adapter; `--backend webgpu` may.
// On Linux without a display, Mesa's EGL needs EGL_PLATFORM=surfaceless for the GL path; it
// needs the Debian packages libegl1, libegl-mesa0 and libgles2 (plus libgl1-mesa-dri).
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import * as tf from '@tensorflow/tfjs'

export interface WebGpuAdapterInfo {
  vendor: string
  architecture: string
  device: string
  description: string
  /** Dawn's backend: 'vulkan', 'metal', 'd3d12', 'opengl', 'opengles'. */
  api: string
  featureLevel: 'core' | 'compatibility'
  software: boolean
}

export interface WebGpuSetup {
  adapter: WebGpuAdapterInfo
  versions: Record<string, string>
}

const require = createRequire(import.meta.url)

/** Names that give a software rasteriser away (Mesa llvmpipe/lavapipe/softpipe, SwiftShader, WARP). */
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i

interface DawnModule {
  create(options: string[]): GPU
  globals: object
}

interface Loaded {
  gpu: GPU
  device: GPUDevice
  rawInfo: GPUAdapterInfo
  info: WebGpuAdapterInfo
}

let loaded: Loaded | null = null
let pending: Promise<Loaded> | null = null
/** Dawn's native module (and with it the system's GPU drivers) was loaded into this process. */
let dawnLoaded = false

export function dawnWasLoaded(): boolean {
  return dawnLoaded
}

function describe(adapter: GPUAdapter, api: string, featureLevel: 'core' | 'compatibility'): WebGpuAdapterInfo {
  const fallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter === true
  return describeRaw(adapter.info as unknown as Record<string, unknown>, fallback, api, featureLevel)
}

function describeRaw(raw: Record<string, unknown>, fallback: boolean, api: string, featureLevel: 'core' | 'compatibility'): WebGpuAdapterInfo {
  const text = (key: string): string => (typeof raw[key] === 'string' ? (raw[key] as string) : '')
  const info = {
    vendor: text('vendor'),
    architecture: text('architecture'),
    device: text('device'),
    description: text('description'),
    api: text('backendType') || api,
    featureLevel
  }
  const software = fallback || text('adapterType') === 'cpu' || SOFTWARE.test(`${info.vendor} ${info.device} ${info.description}`)
  return { ...info, software }
}

/** Where Dawn looks for an adapter, best first. */
const ATTEMPTS: { flags: string[]; options: Record<string, unknown>; api: string; level: 'core' | 'compatibility' }[] = [
  { flags: [], options: { powerPreference: 'high-performance' }, api: 'default', level: 'core' },
  { flags: ['backend=opengl'], options: { featureLevel: 'compatibility' }, api: 'opengl', level: 'compatibility' },
  { flags: ['backend=opengles'], options: { featureLevel: 'compatibility' }, api: 'opengles', level: 'compatibility' }
]

async function openDevice(dawn: DawnModule): Promise<Loaded> {
  if (process.platform === 'linux' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless'
  Object.assign(globalThis, dawn.globals) // GPUBufferUsage, GPUMapMode, ... that tfjs-backend-webgpu reads
  const attempts = ATTEMPTS
  const tried: string[] = []
  for (const a of attempts) {
    const gpu = dawn.create(a.flags)
    let adapter: GPUAdapter | null = null
    try {
      adapter = await gpu.requestAdapter(a.options as GPURequestAdapterOptions)
    } catch (error) {
      tried.push(`${a.api}: ${firstLine(error)}`)
      continue
    }
    if (!adapter) {
      tried.push(`${a.api}${a.level === 'compatibility' ? ' (compatibility)' : ''}: no adapter`)
      continue
    }
    const limits = adapter.limits
    // The same limits tfjs-backend-webgpu asks for in a browser: its shaders assume the adapter's maxima.
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup
      }
    })
    return { gpu, device, rawInfo: adapter.info, info: describe(adapter, a.api, a.level) }
  }
  throw new Error(`no WebGPU adapter: ${tried.join('; ')}`)
}

/**
 * Loads Dawn, opens the best adapter and registers tfjs's 'webgpu' backend on it (once per
 * process). Throws with a one-line reason when the package or any adapter is missing.
 */
export async function setupWebGpu(): Promise<WebGpuSetup> {
  if (!loaded) {
    pending ??= (async () => {
      let dawn: DawnModule
      try {
        dawn = (await import('webgpu')) as unknown as DawnModule
        dawnLoaded = true
      } catch (error) {
        throw new Error(`cannot load the 'webgpu' package (Dawn for Node): ${firstLine(error)}`)
      }
      const opened = await openDevice(dawn)
      // WebGPUBackend's constructor refuses to run unless navigator.gpu exists.
      exposeNavigatorGpu(opened.gpu)
      const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu')
      // In case it registered itself (a global navigator.gpu existed at import), use our device instead.
      if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu')
      type Args = ConstructorParameters<typeof WebGPUBackend>
      // Dawn's objects are the WebGPU types tfjs was compiled against, from another copy of @webgpu/types.
      tf.registerBackend('webgpu', () => new WebGPUBackend(opened.device as unknown as Args[0], opened.rawInfo as unknown as Args[1]))
      return opened
    })()
    try {
      loaded = await pending
    } finally {
      pending = null
    }
  }
  return { adapter: loaded.info, versions: webGpuVersions(loaded.info) }
}

function webGpuVersions(info: WebGpuAdapterInfo): Record<string, string> {
  const versions: Record<string, string> = {}
  for (const pkg of ['@tensorflow/tfjs-backend-webgpu', 'webgpu']) {
    try {
      versions[pkg] = (require(`${pkg}/package.json`) as { version: string }).version
    } catch {
      // an absent package has no version to report
    }
  }
  versions.adapter = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')
  versions.api = `${info.api} (${info.featureLevel})`
  return versions
}

// Run by probeWebGpuAdapter() in a separate Node process: the adapter Dawn would open (the same
// attempts as openDevice), as one JSON line. Dawn and the GPU drivers print their warnings there.
const PROBE_SCRIPT = `
const [url, attempts] = [process.argv[1], JSON.parse(process.argv[2])]
const tried = []
try {
  const dawn = await import(url)
  for (const a of attempts) {
    let adapter = null
    try { adapter = await dawn.create(a.flags).requestAdapter(a.options) } catch (e) { tried.push(a.api + ': ' + String(e && e.message || e).split('\\n')[0]); continue }
    if (!adapter) { tried.push(a.api + (a.level === 'compatibility' ? ' (compatibility)' : '') + ': no adapter'); continue }
    const info = {}
    for (const k of ['vendor', 'architecture', 'device', 'description', 'backendType', 'adapterType']) if (typeof adapter.info[k] === 'string') info[k] = adapter.info[k]
    process.stdout.write(JSON.stringify({ info, fallback: adapter.isFallbackAdapter === true, api: a.api, level: a.level }) + '\\n')
    process.exit(0)
  }
  process.stdout.write(JSON.stringify({ error: 'no WebGPU adapter: ' + tried.join('; ') }) + '\\n')
} catch (e) {
  process.stdout.write(JSON.stringify({ error: "cannot load the 'webgpu' package (Dawn for Node): " + String(e && e.message || e).split('\\n')[0] }) + '\\n')
}
process.exit(0)
`

/**
 * The adapter Dawn would open, found by a separate Node process so that nothing native loads here
 * and Dawn's and the drivers' warnings ("Couldn't load Vulkan ...") never reach the user's terminal.
 * `auto` asks this first and loads Dawn in this process only for a hardware adapter.
 */
export function probeWebGpuAdapter(timeoutMs = 20_000): Promise<WebGpuSetup | { error: string }> {
  let url: string
  try {
    url = pathToFileURL(require.resolve('webgpu')).href
  } catch (error) {
    return Promise.resolve({ error: `cannot load the 'webgpu' package (Dawn for Node): ${firstLine(error)}` })
  }
  const env = { ...process.env }
  if (process.platform === 'linux' && !env.EGL_PLATFORM) env.EGL_PLATFORM = 'surfaceless'
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, url, JSON.stringify(ATTEMPTS)], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env
    })
    let out = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({ error: `the WebGPU probe did not start: ${firstLine(error)}` })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      try {
        const r = JSON.parse(out.trim().split('\n').pop() ?? '') as
          | { error: string }
          | { info: Record<string, unknown>; fallback: boolean; api: string; level: 'core' | 'compatibility' }
        if ('error' in r) return resolve({ error: r.error })
        const adapter = describeRaw(r.info, r.fallback, r.api, r.level)
        resolve({ adapter, versions: webGpuVersions(adapter) })
      } catch {
        resolve({ error: `the WebGPU probe ${signal ? `was killed by ${signal}` : `exited with code ${code}`} without an answer` })
      }
    })
  })
}

/** The adapter opened by setupWebGpu(), if any. */
export function openedAdapter(): WebGpuAdapterInfo | null {
  return loaded?.info ?? null
}

/** A person-readable adapter name, e.g. "llvmpipe-llvm-15-0-6-256-bits (OpenGL 4.5 Mesa 22.3.6, software)". */
export function adapterName(info: WebGpuAdapterInfo): string {
  const name = info.device || info.description || info.vendor || 'unknown adapter'
  const detail = info.device && info.description ? info.description : info.api
  return `${name.replace(/-+$/, '')} (${detail}${info.software ? ', software' : ''})`
}

/**
 * Lets the process exit: Dawn keeps Node alive while a device is referenced. Removes the tfjs
 * backend too, so a later setupWebGpu() starts afresh.
 */
export function releaseWebGpu(): void {
  if (!loaded) return
  // removeBackend disposes an initialised backend and, if it was active, leaves tfjs to pick another.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu')
  loaded.device.destroy()
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator
  if (nav?.gpu === loaded.gpu) delete nav.gpu
  loaded = null
}

function exposeNavigatorGpu(gpu: GPU): void {
  const g = globalThis as { navigator?: object }
  // Node 21+ has a navigator object without gpu; Node 20 has none.
  if (g.navigator && typeof g.navigator === 'object') {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true })
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true })
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]
}
