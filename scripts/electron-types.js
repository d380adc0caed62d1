// The typecheck checks the Electron shell against Electron's own electron.d.ts, the one of the
// version package-lock.json pins, wherever it can be had:
//   1. node_modules/electron, where npm installed the package (Node >= 22.12: Electron's engines);
//   2. else a copy of that version's electron.d.ts in node_modules/.cache/conv-studio/electron-types,
//      fetched once with `npm pack` (the registry tarball is 200 KB; nothing is installed and no
//      binary is downloaded), so Node 20 machines and CI check the real declarations too;
//   3. else (offline, no cache) src/main/electron-api.d.ts, the declared slice we use, and it says so.
// tsconfig.node.json maps `electron` to these three places in this order.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
export const cacheDir = join(root, 'node_modules', '.cache', 'conv-studio', 'electron-types')

/** The Electron version package-lock.json pins (optional dependencies are locked even where skipped). */
export function pinnedElectronVersion(rootDir = root) {
  const lock = JSON.parse(readFileSync(join(rootDir, 'package-lock.json'), 'utf8'))
  const v = lock.packages?.['node_modules/electron']?.version
  if (typeof v !== 'string') throw new Error('package-lock.json pins no electron version')
  return v
}

/** Where the typecheck finds electron's types, fetching them into `cache` when needed. */
export function ensureElectronTypes({ rootDir = root, cache = cacheDir, fetch = fetchTypes } = {}) {
  if (existsSync(join(rootDir, 'node_modules', 'electron', 'electron.d.ts'))) return { source: 'installed' }
  const version = pinnedElectronVersion(rootDir)
  const stamp = join(cache, 'version')
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === version && existsSync(join(cache, 'electron.d.ts'))) return { source: 'cache', version }
  try {
    const dts = fetch(version)
    if (!dts.includes("declare module 'electron'")) throw new Error('the fetched electron.d.ts declares no electron module')
    rmSync(cache, { recursive: true, force: true })
    mkdirSync(cache, { recursive: true })
    writeFileSync(join(cache, 'electron.d.ts'), dts)
    writeFileSync(join(cache, 'package.json'), JSON.stringify({ name: 'electron', version, types: 'electron.d.ts' }, null, 2))
    writeFileSync(stamp, version)
    return { source: 'fetched', version }
  } catch (err) {
    return { source: 'fallback', version, reason: String(err instanceof Error ? err.message : err).split('\n')[0] }
  }
}

/** electron.d.ts of one version, from its registry tarball (npm pack + tar; no install, no binary). */
function fetchTypes(version) {
  const tmp = mkdtempSync(join(tmpdir(), 'electron-types-'))
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    execFileSync(npm, ['pack', `electron@${version}`, '--pack-destination', tmp, '--silent'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
      shell: process.platform === 'win32'
    })
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'))
    if (!tgz) throw new Error('npm pack wrote no tarball')
    execFileSync('tar', ['-xzf', tgz, 'package/electron.d.ts'], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] })
    return readFileSync(join(tmp, 'package', 'electron.d.ts'), 'utf8')
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = ensureElectronTypes()
  if (r.source === 'installed') console.log('typecheck: Electron types from node_modules/electron')
  else if (r.source === 'fallback')
    console.log(`typecheck: Electron ${r.version}'s types could not be fetched (${r.reason}); checking against src/main/electron-api.d.ts instead`)
  else console.log(`typecheck: Electron ${r.version}'s own electron.d.ts (${r.source === 'cache' ? 'cached' : 'fetched'} in node_modules/.cache)`)
}
