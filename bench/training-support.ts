// Shared by bench/training.ts and bench/accuracy.ts: the app's own data loader and backend loader,
// so the benchmarks measure exactly what a run does.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DatasetArrays } from '../src/core/data/types'
import { selectBackend } from '../src/main/backends'
import { DatasetStore } from '../src/main/services/datasets'

/** Reads a folder holding the four IDX files (gz or raw), validated as any imported dataset. */
export async function readIdxFolder(folder: string): Promise<DatasetArrays> {
  const store = new DatasetStore({ dataDir: mkdtempSync(join(tmpdir(), 'conv-studio-bench-')) })
  return store.load(folder)
}

// Activates the native `tensorflow` backend (tfjs-node, oneDNN on) through the app's own loader, or
// says why it cannot.
export async function loadNative(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await selectBackend('tensorflow')
    return { ok: true }
  } catch (error) {
    return { ok: false, reason: (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 200) }
  }
}
