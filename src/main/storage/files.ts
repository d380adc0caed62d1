// Folder moves that pair with database commits. Renames within one file system are atomic, so a
// folder is always either at its old name or its new one; the database says which one counts.
import { readdirSync, rmSync, statSync } from 'node:fs'
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
