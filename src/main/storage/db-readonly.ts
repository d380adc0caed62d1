// Opening the run database when the data folder cannot be written (a read-only mount, a copy owned
// by someone else): reads work, every write fails with "not writable", nothing on disk changes.
import Database from 'better-sqlite3'
import { readFileSync, statSync } from 'node:fs'
import { StudioError } from '../../shared/contract'
import { schemaVersion, storageError, type Db } from './db'

function size(path: string): number | null {
  try {
    return statSync(path).size
  } catch {
    return null
  }
}

export function openDatabaseReadOnly(file: string): Db {
  if (size(file) === null) throw new StudioError('storage_error', `The data folder is not writable and holds no run database yet (${file}).`)
  let db: Db
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    db.pragma('user_version', { simple: true })
  } catch (err) {
    // A WAL database needs its -shm file, which a read-only folder cannot get. After a clean close
    // the main file holds everything, so read a copy of it in memory instead; the header's
    // journal-mode bytes (18, 19) say "rollback journal" in the copy so SQLite does not look for -shm.
    if ((err as { code?: string }).code !== 'SQLITE_CANTOPEN') throw storageError(`open the database ${file}`, err)
    if ((size(`${file}-wal`) ?? 0) > 0)
      throw new StudioError('storage_error', `Could not open the database ${file} read-only: it has unsaved changes in ${file}-wal that only a writable folder can apply.`)
    try {
      const bytes = readFileSync(file)
      bytes[18] = 1
      bytes[19] = 1
      db = new Database(bytes, { readonly: true })
    } catch (e) {
      throw storageError(`open the database ${file} read-only`, e)
    }
  }
  const found = db.pragma('user_version', { simple: true }) as number
  if (found !== schemaVersion()) {
    db.close()
    throw new StudioError(
      'storage_error',
      found > schemaVersion()
        ? `${file} was written by a newer version of Conv Studio (schema version ${found}; this version knows up to ${schemaVersion()}).`
        : `${file} was written by an older version of Conv Studio (schema version ${found}); open it once from a writable folder to upgrade it.`
    )
  }
  return db
}
