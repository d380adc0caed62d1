// Folder moves that pair with database commits. Renames within one file system are atomic, so a
// folder is always either at its old name or its new one; the database says which one counts.
import { rmSync, statSync } from 'node:fs'

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
