// The better-sqlite3 addon choice: npm's Node build under Node, the cached Electron-ABI build under
// Electron; the cache is filled once per Electron version and reused. Real files and the real addon.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SQLITE_BINDING_ENV, sqliteNativeBinding } from '../../../src/main/native-binding'
import { openDatabase } from '../../../src/main/storage/db'
import { cachedBindingPath, ensureElectronSqlite } from '../../../scripts/electron-sqlite.js'

const require = createRequire(import.meta.url)
const sqliteDir = join(require.resolve('better-sqlite3/package.json'), '..')
const sqliteVersion = (require('better-sqlite3/package.json') as { version: string }).version
const nodeBinding = join(sqliteDir, 'build', 'Release', 'better_sqlite3.node')

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sqlite-binding-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('sqliteNativeBinding', () => {
  it('under Node: no nativeBinding, whatever the env says (the CLI, web mode and tests keep npm’s build)', () => {
    expect(sqliteNativeBinding({ ...process.versions }, { [SQLITE_BINDING_ENV]: '/somewhere/else.node' })).toBeUndefined()
    // And openDatabase really opens with npm's build in this (Node) process.
    const db = openDatabase(join(dir, 'a.sqlite'))
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThan(0)
    db.close()
  })

  it('under Electron: the file the env names, which better-sqlite3 then really loads', () => {
    const copy = join(dir, 'electron-build', 'better_sqlite3.node')
    mkdirSync(join(copy, '..'))
    copyFileSync(nodeBinding, copy)
    const chosen = sqliteNativeBinding({ ...process.versions, electron: '45.5.0' } as NodeJS.ProcessVersions, { [SQLITE_BINDING_ENV]: copy })
    expect(chosen).toBe(copy)
    const db = new Database(':memory:', { nativeBinding: chosen })
    expect(db.prepare('select 41 + 1 as x').get()).toEqual({ x: 42 })
    db.close()
  })

  it('under Electron with the build missing: one sentence that says how to get it, never a fallback to the Node ABI', () => {
    const electron = { ...process.versions, electron: '45.5.0' } as NodeJS.ProcessVersions
    expect(() => sqliteNativeBinding(electron, {})).toThrow(
      `better-sqlite3 has no build for Electron 45.5.0 here (${SQLITE_BINDING_ENV} is not set): start the app with \`npm start\`, which fetches it once.`
    )
    expect(() => sqliteNativeBinding(electron, { [SQLITE_BINDING_ENV]: join(dir, 'gone.node') })).toThrow(/gone\.node does not exist/)
  })
})

describe('ensureElectronSqlite (the per-Electron-version cache)', () => {
  /** A strategy that "fetches" by writing the Node build where prebuild-install would put it. */
  const fakeFetch = (calls: string[]) => ({
    name: 'prebuild-install',
    run: async ({ stageModule, electronVersion }: { stageModule: string; electronVersion: string }) => {
      calls.push(electronVersion)
      // The stage is a real copy of the package, without npm's build.
      expect(existsSync(join(stageModule, 'package.json'))).toBe(true)
      expect(existsSync(join(stageModule, 'build'))).toBe(false)
      mkdirSync(join(stageModule, 'build', 'Release'), { recursive: true })
      copyFileSync(nodeBinding, join(stageModule, 'build', 'Release', 'better_sqlite3.node'))
    }
  })

  it('a miss fetches once into the cache; the next call is a hit; another Electron version is another miss', async () => {
    const calls: string[] = []
    const cacheRoot = join(dir, 'cache')
    const first = await ensureElectronSqlite({ electronVersion: '45.5.0', cacheRoot, sqliteDir, strategies: [fakeFetch(calls)] })
    expect(first).toEqual({ path: cachedBindingPath(cacheRoot, { sqliteVersion, electronVersion: '45.5.0' }), from: 'prebuild-install' })
    expect(readFileSync(first.path).equals(readFileSync(nodeBinding))).toBe(true)
    const again = await ensureElectronSqlite({ electronVersion: '45.5.0', cacheRoot, sqliteDir, strategies: [fakeFetch(calls)] })
    expect(again).toEqual({ path: first.path, from: 'cache' })
    expect(calls).toEqual(['45.5.0'])
    const other = await ensureElectronSqlite({ electronVersion: '44.11.5', cacheRoot, sqliteDir, strategies: [fakeFetch(calls)] })
    expect(other.from).toBe('prebuild-install')
    expect(other.path).not.toBe(first.path)
    expect(calls).toEqual(['45.5.0', '44.11.5'])
    // npm's own build was never touched.
    expect(existsSync(nodeBinding)).toBe(true)
  })

  it('falls back to the second strategy when the first fails, and refuses one that produced nothing', async () => {
    const cacheRoot = join(dir, 'cache')
    const calls: string[] = []
    const broken = { name: 'prebuild-install', run: async () => Promise.reject(new Error('HTTP 404')) }
    const r = await ensureElectronSqlite({ electronVersion: '45.5.0', cacheRoot, sqliteDir, strategies: [broken, { ...fakeFetch(calls), name: '@electron/rebuild' }] })
    expect(r.from).toBe('@electron/rebuild')
    const silent = { name: 'prebuild-install', run: async () => {} }
    await expect(ensureElectronSqlite({ electronVersion: '44.0.0', cacheRoot, sqliteDir, strategies: [silent] })).rejects.toThrow(
      `could not get better-sqlite3 ${sqliteVersion} for Electron 44.0.0 (prebuild-install: it finished without producing build/Release/better_sqlite3.node)`
    )
    // A leftover .part from an interrupted copy is not a hit.
    const partial = cachedBindingPath(cacheRoot, { sqliteVersion, electronVersion: '43.0.0' })
    mkdirSync(join(partial, '..'), { recursive: true })
    writeFileSync(`${partial}.part`, 'half')
    const fetched = await ensureElectronSqlite({ electronVersion: '43.0.0', cacheRoot, sqliteDir, strategies: [fakeFetch(calls)] })
    expect(fetched.from).toBe('prebuild-install')
  })
})
