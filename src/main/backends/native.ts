// The native TensorFlow backends: @tensorflow/tfjs-node-gpu (CUDA) and @tensorflow/tfjs-node (CPU).
// Both register the tfjs backend 'tensorflow' and bring their own libtensorflow, so at most one of
// them is loaded in a process; which one is remembered here.
import { existsSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { dawnWasLoaded } from './webgpu'

export type NativePackage = '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'

export interface NativeLoaded {
  pkg: NativePackage
  /** TensorFlow created its eager context on a GPU device (binding.isUsingGpuDevice()). */
  usingGpu: boolean
  versions: Record<string, string>
}

const require = createRequire(import.meta.url)
let loaded: NativeLoaded | null = null

/** Why a package cannot be loaded, found without loading it (loading has process-wide effects). */
export function nativePrecheck(pkg: NativePackage): string | null {
  let pkgJson: string
  try {
    pkgJson = require.resolve(`${pkg}/package.json`)
  } catch {
    return `Cannot find module '${pkg}' (not installed: optional dependency, its libtensorflow download failed or was skipped)`
  }
  const libDir = join(dirname(pkgJson), 'lib')
  const addon = existsSync(libDir) && readdirSync(libDir).some((d) => d.startsWith('napi-v') && existsSync(join(libDir, d, 'tfjs_binding.node')))
  if (!addon) {
    return `${pkg} is installed but its native addon was never built (no lib/napi-v*/tfjs_binding.node: the libtensorflow download ` +
      `failed or was skipped at install); run: npm rebuild ${pkg}`
  }
  return null
}

/** Sets TensorFlow's environment before its library loads; a value the user set wins. */
function prepareEnvironment(): void {
  // oneDNN roughly doubles LeNet training speed on AVX2 CPUs; TF 2.x leaves it off there.
  process.env.TF_ENABLE_ONEDNN_OPTS ??= '1'
  // Without this TensorFlow prints several INFO lines on stderr at every start.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2'
}

interface NodeBackendShape {
  binding?: { TF_Version?: string }
  isUsingGpuDevice?: boolean
}

/**
 * Loads the package in this process (once). The package makes 'tensorflow' the active backend
 * as a side effect; the caller decides which backend stays active.
 */
export function loadNative(pkg: NativePackage): NativeLoaded {
  if (loaded) {
    if (loaded.pkg === pkg) return loaded
    throw new Error(`${loaded.pkg} is already loaded in this process; two TensorFlow libraries cannot share one process`)
  }
  const precheck = nativePrecheck(pkg)
  if (precheck) throw new Error(precheck)
  if (dawnWasLoaded()) {
    // Measured: libtensorflow loaded after Dawn + Mesa's GL driver segfaults the process (both
    // bring LLVM). The other order works, which is why BACKEND_ORDER tries native first.
    throw new Error(`${pkg} cannot load after WebGPU's drivers in the same process (it crashes); use a fresh process`)
  }
  prepareEnvironment()
  const previous = tf.getBackend()
  try {
    require(pkg)
  } catch (error) {
    throw new Error(`${pkg} failed to load: ${shortError(error)}`)
  }
  const backend = tf.findBackend('tensorflow') as unknown as NodeBackendShape | null
  if (!backend) throw new Error(`${pkg} loaded but registered no 'tensorflow' backend`)
  if (previous && previous !== 'tensorflow') void tf.setBackend(previous)
  const pkgVersion = (require(`${pkg}/package.json`) as { version: string }).version
  loaded = {
    pkg,
    usingGpu: backend.isUsingGpuDevice === true,
    versions: {
      tfjs: tf.version.tfjs,
      [pkg.replace('@tensorflow/', '')]: pkgVersion,
      libtensorflow: backend.binding?.TF_Version ?? 'unknown'
    }
  }
  return loaded
}

export function loadedNative(): NativeLoaded | null {
  return loaded
}

/** The first line of an error, without tfjs-node's multi-line "please rebuild" advice. */
export function shortError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  const line = text.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? text
  return line.length > 240 ? `${line.slice(0, 237)}...` : line
}
