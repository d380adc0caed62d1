// The crash-safe half of recording an epoch: its checkpoint folders are moved into the run folder
// before the epoch's rows commit, and the folders they replace are kept aside (`.best.prev`) until
// the commit is done. Whatever a crash interrupts, the next open settles from what was committed:
// a new folder whose checkpoint.json names a committed epoch stays, anything else goes back.
// The folder layout of a run and a data folder's leftovers (deletes and imports cut short) are
// settled here too; the database decides, these functions only move folders to match it.
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pidAlive } from './folder-lock'
import { removeQuietly } from './files'

export type CheckpointKind = 'best' | 'last'

const prevName = (kind: CheckpointKind) => `.${kind}.prev`

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

export interface Swap {
  /** Puts the replaced folders back (before a failed commit). Never throws: the next open settles the rest. */
  undo(): void
  /** Drops the replaced folders (after the commit). */
  finish(): void
}

/**
 * Moves each staged folder to `<runDir>/<kind>`, keeping the folder it replaces aside, and syncs the
 * run folder so the renames reach the disk before the commit does. On a failure, undoes what it did
 * and throws the file system's error.
 */
export function swapInCheckpoints(runDir: string, runId: number, epoch: number, checkpoints: { kind: CheckpointKind; stagedDir: string }[]): Swap {
  const swapped: { kind: CheckpointKind; stagedDir: string; prev: string | null }[] = []
  const undo = () => {
    for (const s of [...swapped].reverse()) {
      const target = join(runDir, s.kind)
      try {
        if (existsSync(target)) renameSync(target, s.stagedDir)
        if (s.prev) renameSync(s.prev, target)
      } catch {
        // The next open settles it from checkpoint.json and the rows (see settleCheckpoint).
      }
    }
    swapped.length = 0
  }
  try {
    for (const c of checkpoints) {
      // The epoch goes inside the folder, so a crash between rename and commit can be settled at open.
      writeFileSync(join(c.stagedDir, 'checkpoint.json'), JSON.stringify({ runId, epoch, kind: c.kind }))
      const target = join(runDir, c.kind)
      const prev = join(runDir, prevName(c.kind))
      rmSync(prev, { recursive: true, force: true })
      const hadOld = existsSync(target)
      if (hadOld) renameSync(target, prev)
      swapped.push({ kind: c.kind, stagedDir: c.stagedDir, prev: hadOld ? prev : null })
      renameSync(c.stagedDir, target)
    }
    if (swapped.length) fsyncDir(runDir)
  } catch (err) {
    undo()
    throw err
  }
  return {
    undo,
    finish: () => {
      for (const s of swapped) if (s.prev) removeQuietly(s.prev)
    }
  }
}

/** A swap cut short by a crash: keep the new folder only if its epoch was committed. */
export function settleCheckpoint(runDir: string, kind: CheckpointKind, committed: (epoch: number) => boolean): void {
  const prev = join(runDir, prevName(kind))
  if (!existsSync(prev)) return
  const current = join(runDir, kind)
  let keep = false
  try {
    const info = JSON.parse(readFileSync(join(current, 'checkpoint.json'), 'utf8')) as { epoch?: unknown }
    keep = typeof info.epoch === 'number' && committed(info.epoch)
  } catch {
    keep = false
  }
  if (keep) {
    removeQuietly(prev)
  } else {
    removeQuietly(current)
    renameSync(prev, current)
  }
}

/** A run whose training process is gone: drop its half-written staging folder, settle both checkpoints. */
export function settleRunFolder(runDir: string, committed: (epoch: number) => boolean): void {
  if (!existsSync(runDir)) return
  removeQuietly(join(runDir, 'staging'))
  for (const kind of ['best', 'last'] as const) settleCheckpoint(runDir, kind, committed)
}

/** The name a run folder takes while its delete commits; it names the deleting process. */
export function trashName(runId: number): string {
  return `.trash-${runId}-${process.pid}-${Date.now()}`
}

/** A leftover of a live process other than this one is its work in progress, not a leftover. */
const busy = (pid: string | undefined) => pid !== undefined && Number(pid) !== process.pid && pidAlive(Number(pid))

/**
 * The runs folder after a crash: a delete cut short goes back if its rows are still there (else is
 * finished), an import cut short is removed, and so is a folder without rows. Call it only while no
 * other store holds the data folder: a run folder without rows may be another process's import
 * committing at this moment.
 */
export function tidyRunsFolder(runsDir: string, runIds: Set<number>, runDir: (id: number) => string): void {
  for (const name of readdirSync(runsDir)) {
    const path = join(runsDir, name)
    // .trash-<id>-<pid>-<ms>; older versions wrote .trash-<id>-<ms>.
    const trash = /^\.trash-(\d+)-(?:(\d+)-)?\d+$/.exec(name)
    if (trash) {
      if (busy(trash[2])) continue
      const id = Number(trash[1])
      if (runIds.has(id) && !existsSync(runDir(id))) renameSync(path, runDir(id))
      else removeQuietly(path)
      continue
    }
    const staging = /^\.import-(\d+)-/.exec(name)
    if (staging) {
      if (!busy(staging[1])) removeQuietly(path)
      continue
    }
    // Files without rows: an import or delete that never committed.
    if (/^\d+$/.test(name) && !runIds.has(Number(name))) removeQuietly(path)
  }
}
