// Which tfjs backend trains, and why (docs/architecture.md, "Backends"). Tries, in order:
//   tensorflow-gpu  @tensorflow/tfjs-node-gpu (CUDA): only when TensorFlow really sees a GPU
//   tensorflow      @tensorflow/tfjs-node (native CPU, oneDNN on)
//   webgpu          tfjs-backend-webgpu over Dawn (`webgpu` package); hardware adapters only for auto
//   wasm            tfjs-backend-wasm (SIMD, one thread in Node) with our extra kernels
//   cpu             pure JavaScript
// and uses the first that loads and passes the forward/backward self-check. Each better candidate
// that was skipped carries its real reason. An explicit preference that cannot work is an error,
// never a silent fallback.
import { cpus } from 'node:os'
import { createRequire } from 'node:module'
import { tf } from './tfjs'
import '@tensorflow/tfjs-backend-wasm'
import type { BackendName } from '../shared/schemas'
import type { BackendCandidate, BackendReport, BenchmarkResult } from '../shared/domain'
import { StudioError } from '../shared/contract'
import { registerWasmKernels } from '../core/backends/wasm-kernels'
import { selfCheck } from '../core/backends/selfcheck'
import { buildModel } from '../core/models/build'
import { getPreset } from '../core/models/presets'
import { loadNative, loadedNative, nativePrecheck, shortError } from './backends/native'
import { adapterName, dawnWasLoaded, openedAdapter, probeWebGpuAdapter, releaseWebGpu, setupWebGpu, type WebGpuAdapterInfo } from './backends/webgpu'
import { diagnoseCuda, listNvidiaGpus, type GpuInfo } from './backends/gpus'

export type { BackendName } from '../shared/schemas'
export type { BackendCandidate, BackendReport, BenchmarkResult } from '../shared/domain'
export type { GpuInfo } from './backends/gpus'

export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']

export interface SelectedBackend {
  name: BackendName
  device: string | null
  versions: Record<string, string>
  report: BackendReport
}

/** The report plus what doctor and the device page show beside it. */
export interface FullBackendReport extends BackendReport {
  gpus: GpuInfo[]
}

export interface BackendBenchmark extends BenchmarkResult {
  /** Batch size measured: 256, or smaller where one step of 256 would not fit the time. */
  batchSize: number
  steps: number
  seconds: number
}

type Purpose = 'auto' | 'explicit' | 'probe'

interface Attempt {
  candidate: BackendCandidate
  /** Loaded and checked, but auto must not pick it (a software WebGPU adapter). */
  autoExcluded: boolean
}

const require = createRequire(import.meta.url)
const tfName = (name: BackendName): string => (name === 'tensorflow-gpu' ? 'tensorflow' : name)

function cpuName(): string {
  const list = cpus()
  const model = list[0]?.model?.trim() || 'unknown CPU'
  return `${model} (${list.length} ${list.length === 1 ? 'core' : 'cores'})`
}

function pkgVersion(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version
  } catch {
    return null
  }
}

function unavailable(name: BackendName, reason: string, versions: Record<string, string> = {}): Attempt {
  return { candidate: { name, available: false, reason, device: null, versions }, autoExcluded: false }
}

/** Activates the tfjs backend and runs the self-check; null when it passed. */
async function activateAndCheck(name: BackendName): Promise<string | null> {
  try {
    const ok = await tf.setBackend(tfName(name))
    if (!ok || tf.getBackend() !== tfName(name)) return `tf.setBackend('${tfName(name)}') failed`
  } catch (error) {
    return `initialisation failed: ${shortError(error)}`
  }
  return await selfCheck()
}

let gpusCache: GpuInfo[] | null = null
function nvidiaGpus(): GpuInfo[] {
  gpusCache ??= listNvidiaGpus()
  return gpusCache
}

async function tryTensorflowGpu(): Promise<Attempt> {
  const name: BackendName = 'tensorflow-gpu'
  const pkg = '@tensorflow/tfjs-node-gpu'
  const gpus = nvidiaGpus()
  const seen = gpus.length > 0 ? ` (GPU present: ${gpus.map((g) => g.name).join(', ')})` : ''
  const pre = nativePrecheck(pkg)
  if (pre) return unavailable(name, pre + seen)
  let native
  try {
    native = loadNative(pkg)
  } catch (error) {
    return unavailable(name, shortError(error) + seen)
  }
  if (!native.usingGpu) {
    // TensorFlow quietly creates its context on the CPU when CUDA fails: that is not a GPU backend.
    const cuda = diagnoseCuda()
    const why = cuda.explanation ?? (gpus.length === 0 ? 'no NVIDIA GPU was found (nvidia-smi, /proc/driver/nvidia)' : 'CUDA libraries load but no device was created')
    return unavailable(name, `${pkg} loaded, but TensorFlow sees no GPU device and would run on the CPU: ${why}`, native.versions)
  }
  const failed = await activateAndCheck(name)
  const device = gpus[0]?.name ?? 'GPU:0'
  if (failed) return unavailable(name, failed, native.versions)
  return { candidate: { name, available: true, reason: null, device, versions: native.versions }, autoExcluded: false }
}

async function tryTensorflow(): Promise<Attempt> {
  const name: BackendName = 'tensorflow'
  const other = loadedNative()
  let native
  if (other?.pkg === '@tensorflow/tfjs-node-gpu') {
    if (other.usingGpu) return unavailable(name, 'this process runs TensorFlow\'s GPU build (tensorflow-gpu); its CPU build cannot load beside it')
    native = other // the GPU build without a GPU is TensorFlow on the CPU
  } else {
    try {
      native = loadNative('@tensorflow/tfjs-node')
    } catch (error) {
      return unavailable(name, shortError(error))
    }
  }
  const failed = await activateAndCheck(name)
  const versions = { ...native.versions, oneDNN: process.env.TF_ENABLE_ONEDNN_OPTS === '1' ? 'on' : 'off' }
  if (failed) return unavailable(name, failed, versions)
  const via = native.pkg === '@tensorflow/tfjs-node-gpu' ? ' via tfjs-node-gpu, no GPU' : ''
  return { candidate: { name, available: true, reason: null, device: `${cpuName()}${via}`, versions }, autoExcluded: false }
}

async function tryWebGpu(purpose: Purpose): Promise<Attempt> {
  const name: BackendName = 'webgpu'
  const softwareNote = 'a software adapter (a CPU rasteriser, about 50 LeNet examples/s): auto does not pick it; --backend webgpu does'
  // dawn.node hands out GPU buffers as external ArrayBuffers, which Electron forbids (V8 memory
  // cage; dawn-gpu/node-webgpu#5): say so instead of loading it in the desktop app's processes.
  if (process.versions.electron)
    return unavailable(name, 'not in the desktop app: Electron forbids the external buffers dawn.node uses; the CLI and web mode can use it')
  if (purpose === 'auto' && !dawnWasLoaded()) {
    // Ask a separate process first: on most machines auto gets here without a GPU, and loading Dawn
    // in this process would print its driver warnings into the user's terminal for nothing.
    const probe = await probeWebGpuAdapter()
    if ('error' in probe) return unavailable(name, probe.error)
    if (probe.adapter.software)
      return { candidate: { name, available: false, reason: softwareNote, device: adapterName(probe.adapter), versions: probe.versions }, autoExcluded: true }
  }
  let adapter: WebGpuAdapterInfo
  let versions: Record<string, string>
  try {
    ;({ adapter, versions } = await setupWebGpu())
  } catch (error) {
    return unavailable(name, shortError(error))
  }
  const device = adapterName(adapter)
  if (adapter.software && purpose === 'auto') {
    // Not worth a self-check (seconds of shader compiles on a CPU rasteriser) for a backend auto
    // will not use; released at once, since a live Dawn device keeps the process from exiting.
    releaseWebGpu()
    return { candidate: { name, available: false, reason: softwareNote, device, versions }, autoExcluded: true }
  }
  const failed = await activateAndCheck(name)
  if (failed) return unavailable(name, failed, versions)
  return {
    candidate: { name, available: true, reason: adapter.software ? softwareNote : null, device, versions },
    autoExcluded: adapter.software
  }
}

async function tryWasm(): Promise<Attempt> {
  const name: BackendName = 'wasm'
  const added = registerWasmKernels()
  const failed = await activateAndCheck(name)
  const versions: Record<string, string> = { tfjs: tf.version.tfjs, 'tfjs-backend-wasm': pkgVersion('@tensorflow/tfjs-backend-wasm') ?? 'unknown' }
  if (failed) return unavailable(name, failed, versions)
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')
  versions.simd = simd ? 'on' : 'off'
  // tfjs-backend-wasm never uses its threaded build in Node.
  versions.threads = threads ? 'on' : 'off'
  versions.kernelsAdded = added.join(', ')
  return { candidate: { name, available: true, reason: null, device: `${cpuName()}, WebAssembly${simd ? ' SIMD' : ''}`, versions }, autoExcluded: false }
}

async function tryCpu(): Promise<Attempt> {
  const name: BackendName = 'cpu'
  const failed = await activateAndCheck(name)
  const versions = { tfjs: tf.version.tfjs }
  if (failed) return unavailable(name, failed, versions)
  return { candidate: { name, available: true, reason: null, device: `${cpuName()}, JavaScript`, versions }, autoExcluded: false }
}

async function attempt(name: BackendName, purpose: Purpose): Promise<Attempt> {
  try {
    switch (name) {
      case 'tensorflow-gpu': return await tryTensorflowGpu()
      case 'tensorflow': return await tryTensorflow()
      case 'webgpu': return await tryWebGpu(purpose)
      case 'wasm': return await tryWasm()
      case 'cpu': return await tryCpu()
    }
  } catch (error) {
    return unavailable(name, `unexpected failure: ${shortError(error)}`)
  }
}

function summarise(chosen: BackendName, attempts: Attempt[], purpose: Purpose): string {
  const picked = attempts.find((a) => a.candidate.name === chosen)?.candidate
  const head = `${chosen}${picked?.device ? ` on ${picked.device}` : ''}`
  if (purpose === 'explicit') return `${head}: requested explicitly (--backend ${chosen})`
  const skipped = attempts
    .filter((a) => BACKEND_ORDER.indexOf(a.candidate.name) < BACKEND_ORDER.indexOf(chosen))
    .map((a) => `${a.candidate.name}: ${a.candidate.reason ?? 'available'}`)
  return skipped.length === 0 ? `${head}: the best backend, loaded and self-checked` : `${head}; better ones skipped: ${skipped.join('; ')}`
}

/**
 * Loads, self-checks and activates a backend in this process. 'auto' walks BACKEND_ORDER and takes
 * the first that works; a named backend is used or refused with StudioError('unavailable').
 */
export async function selectBackend(preference: 'auto' | BackendName): Promise<SelectedBackend> {
  if (preference !== 'auto') {
    if (!BACKEND_ORDER.includes(preference)) {
      throw new StudioError('invalid_argument', `Unknown backend '${String(preference)}'; expected auto or one of ${BACKEND_ORDER.join(', ')}`)
    }
    const a = await attempt(preference, 'explicit')
    if (!a.candidate.available) {
      throw new StudioError('unavailable', `Backend '${preference}' is not available: ${a.candidate.reason ?? 'unknown reason'}`)
    }
    await tf.setBackend(tfName(preference))
    const report: BackendReport = { chosen: preference, reason: summarise(preference, [a], 'explicit'), candidates: [a.candidate] }
    return { name: preference, device: a.candidate.device, versions: a.candidate.versions, report }
  }
  const attempts: Attempt[] = []
  let chosen: Attempt | null = null
  for (const name of BACKEND_ORDER) {
    const a = await attempt(name, 'auto')
    attempts.push(a)
    if (a.candidate.available && !a.autoExcluded) {
      chosen = a
      break
    }
  }
  if (!chosen) throw new StudioError('unavailable', `No tfjs backend works: ${attempts.map((a) => `${a.candidate.name}: ${a.candidate.reason}`).join('; ')}`)
  const name = chosen.candidate.name
  await tf.setBackend(tfName(name))
  const candidates = [
    ...attempts.map((a) => a.candidate),
    ...BACKEND_ORDER.filter((n) => !attempts.some((a) => a.candidate.name === n)).map((n): BackendCandidate => ({
      name: n, available: false, reason: `not tried: ${name} was chosen first`, device: null, versions: {}
    }))
  ]
  return { name, device: chosen.candidate.device, versions: chosen.candidate.versions, report: { chosen: name, reason: summarise(name, attempts, 'auto'), candidates } }
}

/**
 * Tries every backend (loading each in this process) and reports what auto would choose. The
 * previously active backend stays active.
 */
export async function probeBackends(): Promise<FullBackendReport> {
  const previous = tf.getBackend()
  const attempts: Attempt[] = []
  for (const name of BACKEND_ORDER) attempts.push(await attempt(name, 'probe'))
  const chosen = attempts.find((a) => a.candidate.available && !a.autoExcluded)
  if (previous && tf.getBackend() !== previous) await tf.setBackend(previous)
  const gpus: GpuInfo[] = [...nvidiaGpus()]
  const adapter = openedAdapter()
  // A software rasteriser is not a GPU; its adapter still shows in the webgpu candidate.
  if (adapter && !adapter.software) gpus.push({ name: adapterName(adapter), source: `webgpu (${adapter.api})` })
  const chosenName = chosen?.candidate.name ?? 'cpu'
  return {
    chosen: chosenName,
    reason: chosen ? summarise(chosenName, attempts, 'auto') : 'no backend passed its self-check',
    candidates: attempts.map((a) => a.candidate),
    gpus
  }
}

/** One LeNet-5 training step (SGD, softmax cross-entropy) on synthetic data; syncs on the loss. */
async function lenetSteps(batchSize: number, until: (steps: number, elapsed: number) => boolean): Promise<{ steps: number; seconds: number }> {
  const preset = getPreset('lenet5')
  if (!preset) throw new Error("preset 'lenet5' is missing")
  const model = buildModel(preset.spec, { init: 'xavier', seed: 0 })
  const optimizer = tf.train.sgd(0.9)
  const size = preset.spec.inputSize
  const x = tf.randomUniform([batchSize, size, size, preset.spec.inputChannels], 0, 1, 'float32', 1)
  const y = tf.tidy(() => tf.oneHot(tf.randomUniform([batchSize], 0, 10, 'int32', 2) as tf.Tensor1D, 10))
  const start = performance.now()
  let steps = 0
  try {
    do {
      // minimize() frees its intermediates itself; only the returned loss is ours to dispose.
      const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)
      await loss?.data()
      loss?.dispose()
      steps++
    } while (!until(steps, (performance.now() - start) / 1000))
  } finally {
    model.dispose()
    optimizer.dispose()
    tf.dispose([x, y])
  }
  return { steps, seconds: (performance.now() - start) / 1000 }
}

/**
 * Trains LeNet-5 (batch 256, synthetic data) for about `seconds` on each working backend (or the
 * named ones) and returns examples/s. A backend too slow for one step of 256 in a quarter of the
 * time is measured at a smaller batch (reported in batchSize).
 */
export async function benchmarkBackends(seconds: number, names?: BackendName[]): Promise<BackendBenchmark[]> {
  const previous = tf.getBackend()
  const wanted = names ?? BACKEND_ORDER
  const results: BackendBenchmark[] = []
  for (const name of BACKEND_ORDER.filter((n) => wanted.includes(n))) {
    const a = await attempt(name, 'probe')
    const base = { backend: name, device: a.candidate.device, batchSize: 0, steps: 0, seconds: 0 }
    if (!a.candidate.available) {
      results.push({ ...base, examplesPerSec: null, error: a.candidate.reason ?? 'not available' })
      continue
    }
    try {
      await tf.setBackend(tfName(name))
      // Warm-up (kernel/shader compilation), then a timed small step to size the batch.
      await lenetSteps(16, () => true)
      const probe = await lenetSteps(16, () => true)
      const perExample = probe.seconds / 16
      let batchSize = 256
      while (batchSize > 16 && perExample * batchSize > seconds / 4) batchSize /= 2
      const run = await lenetSteps(batchSize, (steps, elapsed) => steps >= 2 && elapsed >= seconds)
      results.push({ ...base, batchSize, steps: run.steps, seconds: run.seconds, examplesPerSec: (run.steps * batchSize) / run.seconds, error: null })
    } catch (error) {
      results.push({ ...base, examplesPerSec: null, error: shortError(error) })
    }
  }
  if (previous && tf.getBackend() !== previous) await tf.setBackend(previous)
  return results
}

const isGpuBackend = (r: BenchmarkResult): boolean =>
  r.backend === 'tensorflow-gpu' || (r.backend === 'webgpu' && !/software/.test(r.device ?? ''))

/** What to use, in one or two sentences, from measured figures. */
export function recommend(report: BackendReport, results: BenchmarkResult[]): string {
  const measured = results.filter((r): r is BenchmarkResult & { examplesPerSec: number } => r.examplesPerSec !== null)
  if (measured.length === 0) return `Use ${report.chosen}: nothing could be measured.`
  const best = measured.reduce((a, b) => (b.examplesPerSec > a.examplesPerSec ? b : a))
  const fmt = (r: { backend: string; examplesPerSec: number }): string => `${r.backend} ${Math.round(r.examplesPerSec).toLocaleString('en-US')} examples/s`
  const sentences: string[] = []
  const chosen = measured.find((r) => r.backend === report.chosen)
  if (best.backend === report.chosen) sentences.push(`Use ${report.chosen} (the automatic choice): fastest measured, ${fmt(best)}.`)
  else if (chosen && best.examplesPerSec < chosen.examplesPerSec * 1.2) sentences.push(`Use ${report.chosen} (the automatic choice): ${fmt(chosen)}, within 20% of the fastest (${fmt(best)}).`)
  else sentences.push(`Use --backend ${best.backend}: ${fmt(best)}${chosen ? `, faster than the automatic choice (${fmt(chosen)})` : ''}.`)
  const bestCpu = measured.filter((r) => !isGpuBackend(r)).reduce<(typeof measured)[number] | null>((a, b) => (a === null || b.examplesPerSec > a.examplesPerSec ? b : a), null)
  for (const gpu of measured.filter(isGpuBackend)) {
    if (bestCpu && gpu.examplesPerSec < bestCpu.examplesPerSec) {
      sentences.push(`The GPU (${gpu.device ?? gpu.backend}) is slower than the CPU at this batch size (${fmt(gpu)} vs ${fmt(bestCpu)}): LeNet-5 is too small to keep a GPU busy; larger batches or AlexNet favour the GPU.`)
    }
  }
  return sentences.join(' ')
}

/** Lets the process exit (Dawn holds it open while a WebGPU device lives). */
export function releaseBackends(): void {
  releaseWebGpu()
}
