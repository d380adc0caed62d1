// The typecheck's Electron types: the installed package's, else that pinned version's electron.d.ts
// fetched once into a cache, else the declared fallback (offline). Real folders throughout; only the
// registry fetch is handed in.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ensureElectronTypes, pinnedElectronVersion } from '../../../scripts/electron-types.js'

const dirs: string[] = []
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))

function project(version = '45.5.0'): { rootDir: string; cache: string } {
  const rootDir = mkdtempSync(join(tmpdir(), 'etypes-'))
  dirs.push(rootDir)
  writeFileSync(join(rootDir, 'package-lock.json'), JSON.stringify({ packages: { 'node_modules/electron': { version, optional: true } } }))
  return { rootDir, cache: join(rootDir, 'node_modules', '.cache', 'conv-studio', 'electron-types') }
}

const dts = (v: string) => `// electron ${v}\ndeclare module 'electron' { export const app: unknown }\n`

describe('electron types for the typecheck', () => {
  it('reads the pinned version from package-lock.json (the real one pins an Electron)', () => {
    expect(pinnedElectronVersion()).toMatch(/^\d+\.\d+\.\d+/)
    expect(pinnedElectronVersion(project('44.1.2').rootDir)).toBe('44.1.2')
  })

  it('fetches once into the cache, then uses the cache; a new pinned version fetches again', () => {
    const p = project()
    const fetched: string[] = []
    const fetch = (v: string) => (fetched.push(v), dts(v))
    expect(ensureElectronTypes({ ...p, fetch })).toEqual({ source: 'fetched', version: '45.5.0' })
    expect(readFileSync(join(p.cache, 'electron.d.ts'), 'utf8')).toContain('electron 45.5.0')
    expect(JSON.parse(readFileSync(join(p.cache, 'package.json'), 'utf8'))).toMatchObject({ name: 'electron', types: 'electron.d.ts' })
    expect(ensureElectronTypes({ ...p, fetch })).toEqual({ source: 'cache', version: '45.5.0' })
    expect(fetched).toEqual(['45.5.0'])
    writeFileSync(join(p.rootDir, 'package-lock.json'), JSON.stringify({ packages: { 'node_modules/electron': { version: '46.0.0' } } }))
    expect(ensureElectronTypes({ ...p, fetch }).source).toBe('fetched')
    expect(readFileSync(join(p.cache, 'electron.d.ts'), 'utf8')).toContain('electron 46.0.0')
  })

  it('prefers an installed electron package and fetches nothing', () => {
    const p = project()
    mkdirSync(join(p.rootDir, 'node_modules', 'electron'), { recursive: true })
    writeFileSync(join(p.rootDir, 'node_modules', 'electron', 'electron.d.ts'), dts('installed'))
    expect(ensureElectronTypes({ ...p, fetch: () => { throw new Error('must not fetch') } })).toEqual({ source: 'installed' })
  })

  it('offline, falls back with the reason and leaves no half-written cache; a wrong file is refused', () => {
    const p = project()
    const offline = ensureElectronTypes({ ...p, fetch: () => { throw new Error('npm ERR! network request failed\nmore') } })
    expect(offline).toEqual({ source: 'fallback', version: '45.5.0', reason: 'npm ERR! network request failed' })
    expect(() => readFileSync(join(p.cache, 'version'))).toThrow()
    expect(ensureElectronTypes({ ...p, fetch: () => '<html>proxy login</html>' }).source).toBe('fallback')
  })
})
