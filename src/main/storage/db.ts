// Opening the SQLite file: refuse what we cannot understand before touching it, then migrate forward.
import Database from 'better-sqlite3'
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { StudioError } from '../../shared/contract'
import { migrations as allMigrations, type Migration } from './migrations'
import { sqliteNativeBinding } from '../native-binding'

export type Db = Database.Database

const SQLITE_MAGIC = 'SQLite format 3\0'

/** Turns a file-system or SQLite failure into the one error the UI shows: what we did, where, why. */
export function storageError(action: string, err: unknown): StudioError {
  if (err instanceof StudioError) return err
  const e = err as { code?: string; message?: string }
  const code = e?.code ?? ''
  let why = e?.message ?? String(err)
  if (code === 'ENOSPC' || code === 'SQLITE_FULL') why = `the disk is full (${why})`
  else if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || code.startsWith('SQLITE_READONLY'))
    why = `the data folder is not writable (${why})`
  return new StudioError('storage_error', `Could not ${action}: ${why}`)
}

/** user_version straight from the file header (bytes 60..63), without opening the database. */
function headerVersion(file: string): number | null {
  let size: number
  try {
    size = statSync(file).size
  } catch {
    return null
  }
  if (size === 0) return null
  const buf = Buffer.alloc(100)
  const fd = openSync(file, 'r')
  try {
    readSync(fd, buf, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (buf.toString('latin1', 0, 16) !== SQLITE_MAGIC)
    throw new StudioError('storage_error', `${file} is not an SQLite database (bad header); move it aside to start a new one.`)
  return buf.readUInt32BE(60)
}

function newerError(file: string, found: number, known: number): StudioError {
  return new StudioError(
    'storage_error',
    `${file} was written by a newer version of Conv Studio (schema version ${found}; this version knows up to ${known}). ` +
      'It was not opened or changed: update Conv Studio, or point --data-dir at another folder.'
  )
}

/**
 * Opens (creating if needed) the database at `file` and runs the pending migrations.
 * `migrations` is replaceable so tests can build databases as an earlier version would have.
 */
export function openDatabase(file: string, migrations: Migration[] = allMigrations): Db {
  const known = migrations.length
  const found = headerVersion(file)
  if (found !== null && found > known) throw newerError(file, found, known)

  let db: Db
  try {
    mkdirSync(dirname(file), { recursive: true })
    // Under Electron, its own ABI build (see native-binding.ts); under Node, npm's.
    db = new Database(file, { nativeBinding: sqliteNativeBinding() })
  } catch (err) {
    throw storageError(`open the database ${file}`, err)
  }
  try {
    // The header can lag behind a WAL that was never checkpointed; check again now that SQLite has read it.
    const current = db.pragma('user_version', { simple: true }) as number
    if (current > known) throw newerError(file, current, known)
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode survives a crash of the app (not of the OS) and keeps each commit cheap.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    db.pragma('busy_timeout = 5000')
    for (const m of migrations.slice(current)) {
      db.transaction(() => {
        m.up(db)
        db.pragma(`user_version = ${m.version}`)
      }).immediate()
    }
    return db
  } catch (err) {
    db.close()
    throw storageError(`open the database ${file}`, err)
  }
}

export function schemaVersion(): number {
  return allMigrations.length
}
