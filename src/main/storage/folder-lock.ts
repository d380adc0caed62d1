// Who is using a data folder, and which runs each of them is training. Several processes may share
// one folder (the app, `npm run serve`, CLI trainings, a `runs list`); a run marked 'running' is
// orphaned only when the process that started it is gone. So every open store holds its own lock
// file, and every run it creates names that lock in an owner file:
//
//   locks/<pid>-<n>.lock      {"pid":…,"start":…}: one per open store (n counts stores in a process)
//   locks/run-<id>.owner      {"owner":"<pid>-<n>","error":…}: the run's owner, while it is active
//
// A holder is alive while its lock file exists and its pid runs, with the same start time where the
// OS tells it (Linux: /proc/<pid>/stat), so a reused pid does not keep a dead owner's run alive. A
// store that closes removes its lock; one killed with SIGKILL leaves it behind for the next open,
// which finds the pid dead. `error` is a last word kept beside the run when its end could not be
// written to the database (disk full, I/O error), so recovery stores the real cause.
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The file an older version used: one pid for the whole folder. Still honoured while that pid lives. */
const LEGACY_LOCK = 'conv-studio.lock'

let opened = 0

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The process's start time in clock ticks since boot (Linux), or null where the OS does not say. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function readJson(path: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export class FolderLock {
  readonly token: string
  private readonly dir: string
  private released = false

  private constructor(
    private readonly dataDir: string,
    n: number
  ) {
    this.dir = join(dataDir, 'locks')
    this.token = `${process.pid}-${n}`
  }

  /** Registers this store as a holder of the folder. Throws the file system's error. */
  static take(dataDir: string): FolderLock {
    const lock = new FolderLock(dataDir, ++opened)
    mkdirSync(lock.dir, { recursive: true })
    writeFileSync(lock.lockPath(lock.token), JSON.stringify({ pid: process.pid, start: processStart(process.pid) }))
    return lock
  }

  private lockPath(token: string): string {
    return join(this.dir, `${token}.lock`)
  }

  private ownerPath(runId: number): string {
    return join(this.dir, `run-${runId}.owner`)
  }

  /** Whether the holder named by `token` still has the folder open. */
  holderAlive(token: string): boolean {
    if (token === this.token) return !this.released
    const info = readJson(this.lockPath(token))
    if (!info || typeof info.pid !== 'number' || !pidAlive(info.pid)) return false
    const start = processStart(info.pid)
    return info.start === null || info.start === undefined || start === null || start === info.start
  }

  /** The pid in an older version's lock file, when that process still runs and is not this one. */
  private legacyHolder(): number | null {
    try {
      const pid = Number(readFileSync(join(this.dataDir, LEGACY_LOCK), 'utf8').trim())
      return pid !== process.pid && pidAlive(pid) ? pid : null
    } catch {
      return null
    }
  }

  private tokens(): string[] {
    try {
      return readdirSync(this.dir)
        .filter((n) => n.endsWith('.lock'))
        .map((n) => n.slice(0, -'.lock'.length))
    } catch {
      return []
    }
  }

  /** True when no other live store (in this process or another) holds the folder. */
  alone(): boolean {
    return this.legacyHolder() === null && this.tokens().every((t) => t === this.token || !this.holderAlive(t))
  }

  /** Marks `runId` as this store's run. Throws the file system's error: an unowned run would be recovered by others. */
  own(runId: number): void {
    writeFileSync(this.ownerPath(runId), JSON.stringify({ owner: this.token, error: null }))
  }

  /**
   * Keeps why a run ended beside it when the database could not take it. Rewrites the owner file in
   * place (the same size, give or take), so it works on a disk too full for new files.
   */
  noteFailure(runId: number, error: string): void {
    try {
      writeFileSync(this.ownerPath(runId), JSON.stringify({ owner: this.token, error: error.slice(0, 2000) }))
    } catch {
      // Recovery falls back to the generic sentence.
    }
  }

  disown(runId: number): void {
    try {
      unlinkSync(this.ownerPath(runId))
    } catch {
      // Never owned, or already gone.
    }
  }

  /**
   * An active run's state: `orphaned` when its owner is gone (with the owner's last word, if any).
   * A run without an owner file (made by an older version, or before a crash mid-create) is orphaned
   * unless an older version's process still holds the folder.
   */
  ownerOf(runId: number): { orphaned: boolean; error: string | null } {
    const info = readJson(this.ownerPath(runId))
    const error = typeof info?.error === 'string' ? info.error : null
    if (!info || typeof info.owner !== 'string') return { orphaned: this.legacyHolder() === null, error }
    return { orphaned: !this.holderAlive(info.owner), error }
  }

  /**
   * Removes the lock files of dead holders, and the owner files of dead owners whose runs are no
   * longer active (recovered, or finished when the owner could not remove the file). A live owner's
   * file is never touched: its run may be in the middle of being created.
   */
  sweep(activeRunIds: Set<number>): void {
    let names: string[]
    try {
      names = readdirSync(this.dir)
    } catch {
      return
    }
    for (const name of names) {
      const run = /^run-(\d+)\.owner$/.exec(name)
      let stale = false
      if (run) {
        const owner = readJson(join(this.dir, name))?.owner
        stale = !activeRunIds.has(Number(run[1])) && (typeof owner !== 'string' || !this.holderAlive(owner))
      } else if (name.endsWith('.lock')) {
        stale = !this.holderAlive(name.slice(0, -'.lock'.length))
      }
      if (!stale) continue
      try {
        unlinkSync(join(this.dir, name))
      } catch {
        // Another process swept it first.
      }
    }
  }

  release(): void {
    if (this.released) return
    this.released = true
    try {
      unlinkSync(this.lockPath(this.token))
    } catch {
      // Already gone.
    }
  }
}
