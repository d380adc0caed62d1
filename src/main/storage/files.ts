// Folder moves that pair with database commits. Renames within one file system are atomic, so a
// folder is always either at its old name or its new one; the database says which one counts.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'

export function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true })
  } catch {
    // Left for the clean-up at the next open; the database is already right.
  }
}

export function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Every file under `dir`, as paths relative to it with '/' separators, sorted. */
export function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...listFiles(join(dir, e.name), rel))
    else if (e.isFile()) out.push(rel)
  }
  return out.sort()
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, string: 0, complex64: 8 }

/**
 * Checks that a tfjs checkpoint folder can be loaded: model.json parses, and the weight files it
 * names exist with exactly the bytes its weight specs declare. Returns a problem, or null.
 */
export function checkpointProblem(files: Map<string, Uint8Array> | string): string | null {
  const read = (name: string): Uint8Array | undefined => {
    if (typeof files !== 'string') return files.get(name)
    const p = join(files, name)
    return existsSync(p) ? readFileSync(p) : undefined
  }
  // Sizes only: a folder's weight files are stat'ed, not read (AlexNet's are hundreds of MB).
  const sizeOf = (name: string): number | undefined => {
    if (typeof files !== 'string') return files.get(name)?.byteLength
    try {
      const st = statSync(join(files, name))
      return st.isFile() ? st.size : undefined
    } catch {
      return undefined
    }
  }
  const raw = read('model.json')
  if (!raw) return 'model.json is missing'
  let model: { weightsManifest?: { paths?: unknown; weights?: { shape?: unknown; dtype?: unknown }[] }[] }
  try {
    model = JSON.parse(Buffer.from(raw).toString('utf8'))
  } catch (err) {
    return `model.json is not valid JSON (${(err as Error).message})`
  }
  if (!model || !Array.isArray(model.weightsManifest)) return 'model.json has no weightsManifest'
  for (const group of model.weightsManifest) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) return 'model.json has a malformed weightsManifest group'
    let declared = 0
    for (const w of group.weights) {
      if (!Array.isArray(w.shape) || typeof w.dtype !== 'string' || !(w.dtype in DTYPE_BYTES)) return 'model.json has a malformed weight spec'
      declared += (w.shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[w.dtype]!
    }
    let actual = 0
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || p.includes('..') || p.startsWith('/')) return `model.json names a bad weights path ${String(p)}`
      const size = sizeOf(p)
      if (size === undefined) return `weights file ${p} is missing`
      actual += size
    }
    if (actual !== declared) return `weights are ${actual} bytes but model.json declares ${declared}`
  }
  return null
}

export { renameSync, existsSync, readdirSync }
