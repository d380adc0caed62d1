// What GPUs this machine has, and why TensorFlow's CUDA build could or could not use them.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export interface GpuInfo {
  name: string
  /** How we know: 'nvidia-smi', 'nvidia driver', 'webgpu'. */
  source: string
  memoryMb?: number
  driver?: string
}

/** NVIDIA GPUs from nvidia-smi, else from the kernel driver's /proc files. Never throws. */
export function listNvidiaGpus(): GpuInfo[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore']
    })
    const gpus = out.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
      const [name, memory, driver] = line.split(',').map((s) => s.trim())
      return { name, source: 'nvidia-smi', memoryMb: Number(memory) || undefined, driver }
    })
    if (gpus.length > 0) return gpus
  } catch {
    // no nvidia-smi (or no driver): try the driver's files
  }
  const root = '/proc/driver/nvidia/gpus'
  if (!existsSync(root)) return []
  return readdirSync(root).flatMap((bus) => {
    try {
      const text = readFileSync(join(root, bus, 'information'), 'utf8')
      const model = /^Model:\s*(.+)$/m.exec(text)?.[1]?.trim()
      return model ? [{ name: model, source: 'nvidia driver' }] : []
    } catch {
      return []
    }
  })
}

/** The CUDA libraries libtensorflow 2.9 (inside tfjs-node-gpu 4.x) opens, by soname. */
export const CUDA_LIBS_FOR_TFJS4 = [
  'libcuda.so.1',
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8'
] as const
/** Other versions whose presence explains a mismatch. */
const OTHER_CUDA_LIBS = ['libcudart.so.12', 'libcudart.so.13', 'libcudnn.so.9', 'libcublas.so.12'] as const

export interface CudaDiagnosis {
  found: string[]
  missing: string[]
  otherVersions: string[]
  /** One sentence: what is wrong and how to fix it; null when every library loads. */
  explanation: string | null
}

/**
 * Tries to dlopen each library in a short child process (so nothing stays loaded here), the same
 * way TensorFlow's loader looks for them (LD_LIBRARY_PATH, ldconfig cache). Linux only.
 */
export function diagnoseCuda(): CudaDiagnosis {
  if (process.platform !== 'linux') {
    return { found: [], missing: [], otherVersions: [], explanation: `CUDA detection is implemented for Linux only (this is ${process.platform})` }
  }
  const names = [...CUDA_LIBS_FOR_TFJS4, ...OTHER_CUDA_LIBS]
  // process.dlopen on a plain library fails with "did not self-register" AFTER loading it: that
  // message means found; "cannot open shared object file" means missing.
  const script = `const r={};for(const n of ${JSON.stringify(names)}){try{process.dlopen({exports:{}},n);r[n]=true}catch(e){r[n]=!/cannot open shared object|No such file/.test(String(e&&e.message))}}process.stdout.write(JSON.stringify(r))`
  const child = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 15000,
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }
  })
  let loads: Record<string, boolean> = {}
  try {
    loads = JSON.parse(child.stdout) as Record<string, boolean>
  } catch {
    return { found: [], missing: [...CUDA_LIBS_FOR_TFJS4], otherVersions: [], explanation: `could not probe the CUDA libraries: ${child.error?.message ?? child.stderr.split('\n')[0]}` }
  }
  const found = CUDA_LIBS_FOR_TFJS4.filter((n) => loads[n])
  const missing = CUDA_LIBS_FOR_TFJS4.filter((n) => !loads[n])
  const otherVersions = OTHER_CUDA_LIBS.filter((n) => loads[n])
  return { found, missing, otherVersions, explanation: explainCuda(missing, otherVersions) }
}

export function explainCuda(missing: readonly string[], otherVersions: readonly string[]): string | null {
  if (missing.length === 0) return null
  if (missing.includes('libcuda.so.1')) {
    return 'No NVIDIA driver library (libcuda.so.1) could be loaded: install the NVIDIA driver (or, in a container, run it with the GPU exposed).'
  }
  const others = otherVersions.length > 0 ? ` (found ${otherVersions.join(', ')}, a different CUDA/cuDNN major version)` : ''
  return `TensorFlow in tfjs-node-gpu 4.x is built for CUDA 11.2 + cuDNN 8.1 but ${missing.join(', ')} could not be loaded${others}: ` +
    'install the CUDA 11.x runtime and cuDNN 8 (e.g. pip install nvidia-cuda-runtime-cu11 nvidia-cublas-cu11 nvidia-cufft-cu11 ' +
    'nvidia-curand-cu11 nvidia-cusolver-cu11 nvidia-cusparse-cu11 nvidia-cudnn-cu11==8.*) and add their lib folders to LD_LIBRARY_PATH.'
}
