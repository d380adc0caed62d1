// `npm start`'s choice between the desktop app and web mode, on real files and real executables: a
// fake node_modules/electron whose "binary" is a shell script that works or fails the way a real one
// does, a real sandbox helper file with real mode bits, real sysctl-like files.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { decide, displayProblem, electronInstall, probeElectron, sandboxFix } from '../../../scripts/start-decide.js'
import { cachedBindingPath } from '../../../scripts/electron-sqlite.js'

const require = createRequire(import.meta.url)
const sqliteDir = join(require.resolve('better-sqlite3/package.json'), '..')
const sqliteVersion = (require('better-sqlite3/package.json') as { version: string }).version
const nodeBinding = join(sqliteDir, 'build', 'Release', 'better_sqlite3.node')

const display = { DISPLAY: ':0' }
let root: string

/** node_modules/electron as npm leaves it: package.json; path.txt + dist/<binary> once downloaded. */
function fakeElectron(binaryScript: string | null, version = '45.5.0'): string {
  const dir = join(root, 'node_modules', 'electron')
  mkdirSync(join(dir, 'dist'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'electron', version }))
  if (binaryScript !== null) {
    writeFileSync(join(dir, 'path.txt'), 'electron')
    writeFileSync(join(dir, 'dist', 'electron'), `#!/bin/sh\n${binaryScript}\n`)
    chmodSync(join(dir, 'dist', 'electron'), 0o755)
  }
  return dir
}

/**
 * A "binary" that behaves like Electron under ELECTRON_RUN_AS_NODE for the probes decide() runs:
 * `-e <script>` is evaluated by this very Node, so the sqlite load probe really loads the addon.
 */
const nodeLike = `exec '${process.execPath}' "$@"`
const noSandbox = { restrictFile: '/nonexistent', cloneFile: '/nonexistent' }

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'start-decide-'))
})
afterEach(() => rmSync(root, { recursive: true, force: true }))

describe('displayProblem', () => {
  it('linux without $DISPLAY or $WAYLAND_DISPLAY has no display; with either it has one', () => {
    expect(displayProblem('linux', {})).toMatch(/no display/)
    expect(displayProblem('linux', { DISPLAY: ':0' })).toBeNull()
    expect(displayProblem('linux', { WAYLAND_DISPLAY: 'wayland-0' })).toBeNull()
    expect(displayProblem('darwin', {})).toBeNull()
    expect(displayProblem('win32', {})).toBeNull()
  })
})

describe.skipIf(process.platform === 'win32')('decide', () => {
  it('headless Linux goes to web mode even with a working Electron installed', async () => {
    fakeElectron(nodeLike)
    const d = await decide({ root, platform: 'linux', env: {}, sandbox: noSandbox })
    expect(d).toEqual({ mode: 'web', reason: expect.stringMatching(/no display/) })
  })

  it('no electron package (npm skipped it) → web mode, saying so', async () => {
    const d = await decide({ root, platform: 'linux', env: display })
    expect(d.mode).toBe('web')
    expect(d.mode === 'web' && d.reason).toMatch(/electron package is not installed/)
  })

  it('package present but binary never downloaded, and no download allowed → web mode', async () => {
    fakeElectron(null)
    expect(electronInstall(root)?.binary).toBeNull()
    const d = await decide({ root, platform: 'linux', env: display })
    expect(d.mode === 'web' && d.reason).toMatch(/binary is not downloaded/)
  })

  it('a failed download → web mode with the installer’s reason', async () => {
    fakeElectron(null)
    const d = await decide({ root, platform: 'linux', env: display, install: async () => 'its installer exited with code 1' })
    expect(d.mode === 'web' && d.reason).toMatch(/could not be downloaded \(its installer exited with code 1\)/)
  })

  it('a binary that cannot run (missing shared library) → web mode with its first line', async () => {
    fakeElectron(`echo "electron: error while loading shared libraries: libnss3.so: cannot open shared object file" >&2; exit 127`)
    const d = await decide({ root, platform: 'linux', env: display, sandbox: noSandbox })
    expect(d.mode).toBe('web')
    expect(d.mode === 'web' && d.reason).toBe(
      'Electron cannot run here (electron: error while loading shared libraries: libnss3.so: cannot open shared object file)'
    )
  })

  it('restricted user namespaces and a sandbox helper that is not setuid root → web mode and the one-line fix', async () => {
    const dir = fakeElectron(nodeLike)
    writeFileSync(join(dir, 'dist', 'chrome-sandbox'), '')
    chmodSync(join(dir, 'dist', 'chrome-sandbox'), 0o755)
    const restrictFile = join(root, 'apparmor_restrict_unprivileged_userns')
    writeFileSync(restrictFile, '1\n')
    const d = await decide({ root, platform: 'linux', env: display, sandbox: { restrictFile, cloneFile: '/nonexistent' } })
    expect(d.mode).toBe('web')
    const helper = join(dir, 'dist', 'chrome-sandbox')
    expect(d.mode === 'web' && d.fix).toBe(`To use the desktop app, run once: sudo chown root:root '${helper}' && sudo chmod 4755 '${helper}'`)
    // Unrestricted (0) needs no helper at all.
    writeFileSync(restrictFile, '0\n')
    expect(sandboxFix({ platform: 'linux', electronDir: dir, restrictFile, cloneFile: '/nonexistent' })).toBeNull()
  })

  it('a working binary with the sqlite build cached → the desktop app, with that build', async () => {
    fakeElectron(nodeLike)
    const cacheRoot = join(root, 'cache')
    // The cache entry is the Node build here: the fake "Electron" is this Node, so it loads for real.
    const cached = cachedBindingPath(cacheRoot, { sqliteVersion, electronVersion: '45.5.0' })
    mkdirSync(join(cached, '..'), { recursive: true })
    writeFileSync(cached, require('node:fs').readFileSync(nodeBinding))
    const d = await decide({ root, platform: 'linux', env: display, sandbox: noSandbox, sqlite: { cacheRoot, sqliteDir, strategies: [] } })
    expect(d).toEqual({ mode: 'electron', binary: join(root, 'node_modules', 'electron', 'dist', 'electron'), version: '45.5.0', sqliteBinding: cached })
  })

  it('a corrupt cached sqlite build is caught by the load probe → web mode naming the file to delete', async () => {
    fakeElectron(nodeLike)
    const cacheRoot = join(root, 'cache')
    const cached = cachedBindingPath(cacheRoot, { sqliteVersion, electronVersion: '45.5.0' })
    mkdirSync(join(cached, '..'), { recursive: true })
    writeFileSync(cached, 'not an ELF file')
    const d = await decide({ root, platform: 'linux', env: display, sandbox: noSandbox, sqlite: { cacheRoot, sqliteDir, strategies: [] } })
    expect(d.mode === 'web' && d.reason).toMatch(new RegExp(`Electron build does not load .*delete ${cached.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  })

  it('no cached sqlite build and every fetch failing → web mode with each reason', async () => {
    fakeElectron(nodeLike)
    const strategies = [
      { name: 'prebuild-install', run: async () => Promise.reject(new Error('404 for electron-v150')) },
      { name: '@electron/rebuild', run: async () => Promise.reject(new Error('gyp: no C++ compiler')) }
    ]
    const d = await decide({ root, platform: 'linux', env: display, sandbox: noSandbox, sqlite: { cacheRoot: join(root, 'cache'), sqliteDir, strategies } })
    expect(d.mode === 'web' && d.reason).toBe(
      `could not get better-sqlite3 ${sqliteVersion} for Electron 45.5.0 (prebuild-install: 404 for electron-v150; @electron/rebuild: gyp: no C++ compiler)`
    )
  })
})

describe.skipIf(process.platform === 'win32')('probeElectron', () => {
  it('resolves null for a binary that runs and the spawn error for one that does not exist', async () => {
    fakeElectron(nodeLike)
    expect(await probeElectron(join(root, 'node_modules', 'electron', 'dist', 'electron'))).toBeNull()
    expect(await probeElectron(join(root, 'missing'))).toMatch(/ENOENT/)
  })
})
