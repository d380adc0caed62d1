// better-sqlite3 for Electron, kept beside the Node build. better-sqlite3 12 is a V8/NAN addon, so a
// binary works only for the ABI it was built for: npm builds it for the Node that ran `npm install`
// (the CLI, web mode and the tests need that one), and Electron needs its own. Rebuilding in place
// (`electron-rebuild`, electron-builder's npmRebuild) would break every Node host sharing
// node_modules, so the Electron build lives in a cache, one file per Electron version, and the app
// opens it through better-sqlite3's `nativeBinding` option (src/main/native-binding.ts).
//
// Fetch order: prebuild-install for the Electron runtime (better-sqlite3's own prebuilt binaries, no
// compiler), then @electron/rebuild --only better-sqlite3 (compiles; needs Python and a C++
// toolchain). Both work on a staged copy of the package, never on node_modules itself.
//
// `node scripts/electron-sqlite.js [--out FILE]` prints the cached path (fetching it on a miss) and,
// with --out, also copies it there (electron-builder ships that copy via extraResources).
import { spawn } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The cache folder: under node_modules so `rm -rf node_modules` clears it with the rest. */
export function defaultCacheRoot(root = projectRoot) {
  return join(root, 'node_modules', '.cache', 'conv-studio')
}

/**
 * Where the Electron build for this (better-sqlite3, Electron, platform, arch) lives. The key holds
 * the better-sqlite3 version too: its JS and its addon must come from the same release.
 * @param {string} cacheRoot
 * @param {{ sqliteVersion: string, electronVersion: string, platform?: string, arch?: string }} key
 */
export function cachedBindingPath(cacheRoot, { sqliteVersion, electronVersion, platform = process.platform, arch = process.arch }) {
  return join(cacheRoot, `better-sqlite3-${sqliteVersion}-electron-${electronVersion}-${platform}-${arch}`, 'better_sqlite3.node')
}

/** Installed package versions, read from their package.json files (no `require('electron')`: that downloads). */
export function installedVersion(name, root = projectRoot) {
  try {
    const req = createRequire(join(root, 'package.json'))
    return JSON.parse(readFileSync(req.resolve(`${name}/package.json`), 'utf8')).version
  } catch {
    return null
  }
}

function binOf(pkg, bin) {
  const pkgJson = require.resolve(`${pkg}/package.json`)
  const meta = JSON.parse(readFileSync(pkgJson, 'utf8'))
  const rel = typeof meta.bin === 'string' ? meta.bin : meta.bin[bin ?? pkg]
  return join(dirname(pkgJson), rel)
}

/** Runs a tool's own JS bin with this Node (no npm/npx, no .cmd shims: see scripts/start.js). */
function runNode(script, args, cwd) {
  return new Promise((resolvePromise, reject) => {
    let output = ''
    const child = spawn(process.execPath, [script, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0) resolvePromise()
      else {
        const last = output.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit code ${code}`
        reject(new Error(last.trim()))
      }
    })
  })
}

/**
 * @typedef {{ stageModule: string, stageRoot: string, electronVersion: string, platform: string, arch: string }} Stage
 * @typedef {{ name: string, run: (stage: Stage) => Promise<void> }} Strategy
 */

/** @type {Strategy} */
export const prebuildInstall = {
  name: 'prebuild-install',
  run: ({ stageModule, electronVersion, platform, arch }) =>
    runNode(binOf('prebuild-install'), ['--runtime=electron', `--target=${electronVersion}`, `--platform=${platform}`, `--arch=${arch}`], stageModule)
}

/** @type {Strategy} */
export const electronRebuild = {
  name: '@electron/rebuild',
  run: ({ stageRoot, electronVersion, arch }) =>
    runNode(
      binOf('@electron/rebuild', 'electron-rebuild'),
      ['--version', electronVersion, '--arch', arch, '--only', 'better-sqlite3', '--module-dir', stageRoot, '--force'],
      stageRoot
    )
}

export const defaultStrategies = [prebuildInstall, electronRebuild]

/**
 * The Electron build of better-sqlite3 for `electronVersion`: from the cache when it is there,
 * else fetched (first strategy that works) into it. Throws one sentence when every strategy fails.
 * @param {{ electronVersion: string, sqliteDir?: string, cacheRoot?: string, platform?: string, arch?: string,
 *           strategies?: Strategy[], log?: (line: string) => void }} opts
 * @returns {Promise<{ path: string, from: string }>}
 */
export async function ensureElectronSqlite(opts) {
  const sqliteDir = opts.sqliteDir ?? dirname(require.resolve('better-sqlite3/package.json'))
  const sqliteVersion = JSON.parse(readFileSync(join(sqliteDir, 'package.json'), 'utf8')).version
  const platform = opts.platform ?? process.platform
  const arch = opts.arch ?? process.arch
  const target = cachedBindingPath(opts.cacheRoot ?? defaultCacheRoot(), { sqliteVersion, electronVersion: opts.electronVersion, platform, arch })
  if (existsSync(target)) return { path: target, from: 'cache' }

  const log = opts.log ?? (() => {})
  const failures = []
  for (const strategy of opts.strategies ?? defaultStrategies) {
    const stageRoot = mkdtempSync(join(tmpdir(), 'conv-studio-sqlite-'))
    try {
      // A copy without the Node build, so a strategy that silently did nothing cannot pass it off.
      const stageModule = join(stageRoot, 'node_modules', 'better-sqlite3')
      cpSync(sqliteDir, stageModule, { recursive: true, filter: (src) => !src.startsWith(join(sqliteDir, 'build')) })
      writeFileSync(join(stageRoot, 'package.json'), JSON.stringify({ name: 'stage', private: true, dependencies: { 'better-sqlite3': sqliteVersion } }))
      log(`better-sqlite3 for Electron ${opts.electronVersion}: trying ${strategy.name}…`)
      await strategy.run({ stageModule, stageRoot, electronVersion: opts.electronVersion, platform, arch })
      const built = join(stageModule, 'build', 'Release', 'better_sqlite3.node')
      if (!existsSync(built)) throw new Error('it finished without producing build/Release/better_sqlite3.node')
      mkdirSync(dirname(target), { recursive: true })
      // Copy then rename, so an interrupted copy never looks like a cache hit.
      copyFileSync(built, `${target}.part`)
      renameSync(`${target}.part`, target)
      return { path: target, from: strategy.name }
    } catch (err) {
      failures.push(`${strategy.name}: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      rmSync(stageRoot, { recursive: true, force: true })
    }
  }
  throw new Error(`could not get better-sqlite3 ${sqliteVersion} for Electron ${opts.electronVersion} (${failures.join('; ')})`)
}

async function main() {
  const args = process.argv.slice(2)
  const outAt = args.indexOf('--out')
  const electronVersion = installedVersion('electron')
  if (!electronVersion) {
    console.error('electron-sqlite: the electron package is not installed (Electron needs Node >= 22.12 to install).')
    process.exit(1)
  }
  try {
    const { path } = await ensureElectronSqlite({ electronVersion, log: (l) => console.error(l) })
    if (outAt >= 0) {
      const out = resolve(args[outAt + 1])
      mkdirSync(dirname(out), { recursive: true })
      copyFileSync(path, out)
    }
    console.log(path)
  } catch (err) {
    console.error(`electron-sqlite: ${err instanceof Error ? err.message : String(err)}`)
    process.exit(1)
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
