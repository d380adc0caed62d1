// Which better-sqlite3 addon to load. Under Node: the one npm built (better-sqlite3's default). Under
// Electron: the Electron-ABI build kept beside it (scripts/electron-sqlite.js), whose path the host
// puts in CONV_STUDIO_SQLITE_BINDING: scripts/start.js for `npm start` / `npm run dev`, the packaged
// app for its extraResources copy. The env var reaches the training utility processes too.
import { existsSync } from 'node:fs'
import { StudioError } from '../shared/contract'

export const SQLITE_BINDING_ENV = 'CONV_STUDIO_SQLITE_BINDING'

/**
 * The `nativeBinding` option for `new Database()`: undefined under Node; the Electron build's path
 * under Electron. Refuses, in one sentence, to fall back to the Node build there: that one would fail
 * later with an ABI error that suggests `npm rebuild`, which only rebuilds for Node again.
 */
export function sqliteNativeBinding(versions: NodeJS.ProcessVersions = process.versions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const electron = (versions as NodeJS.ProcessVersions & { electron?: string }).electron
  if (!electron) return undefined
  const path = env[SQLITE_BINDING_ENV]
  if (path && existsSync(path)) return path
  const why = path ? `${path} does not exist` : `${SQLITE_BINDING_ENV} is not set`
  throw new StudioError(
    'storage_error',
    `better-sqlite3 has no build for Electron ${electron} here (${why}): start the app with \`npm start\`, which fetches it once.`
  )
}
