// What `npm start` opens: the desktop app, or web mode when Electron cannot run here. Each check is
// a real look at this machine (files, the binary itself), so a headless server with the electron
// package, a binary missing libraries, or Ubuntu's AppArmor-restricted sandbox all end in web mode
// with one line that says why, instead of Electron dying with a stack of Chromium errors.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ensureElectronSqlite } from './electron-sqlite.js'

/** Linux and the BSDs need an X11 or Wayland display; macOS and Windows always have one for a desktop user. */
export function displayProblem(platform, env) {
  if (platform === 'darwin' || platform === 'win32') return null
  if (env.DISPLAY || env.WAYLAND_DISPLAY) return null
  return 'there is no display (neither $DISPLAY nor $WAYLAND_DISPLAY is set)'
}

/**
 * The electron package as installed under `root`, read from files only. `require('electron')` is
 * avoided on purpose: since Electron 42 it downloads the binary on first use.
 * @returns {{ version: string, dir: string, binary: string | null } | null}
 */
export function electronInstall(root) {
  const dir = join(root, 'node_modules', 'electron')
  let version
  try {
    version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
  let binary = null
  try {
    const rel = readFileSync(join(dir, 'path.txt'), 'utf8').trim()
    const path = process.env.ELECTRON_OVERRIDE_DIST_PATH ? join(process.env.ELECTRON_OVERRIDE_DIST_PATH, rel) : join(dir, 'dist', rel)
    if (existsSync(path)) binary = path
  } catch {
    // no path.txt: the binary was never downloaded
  }
  return { version, dir, binary }
}

/**
 * Runs `script` in the binary as plain Node (ELECTRON_RUN_AS_NODE): that loads the executable and
 * every shared library it links (libnss3, libgtk-3, ...) without opening a window. Resolves to null
 * when it works, else the first line the binary printed.
 */
export function probeElectron(binary, script = '0', timeoutMs = 30_000) {
  return new Promise((resolve) => {
    let output = ''
    let child
    try {
      child = spawn(binary, ['-e', script], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      resolve(err instanceof Error ? err.message : String(err))
      return
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve(err.message)
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(null)
      else resolve(output.trim().split('\n').filter(Boolean)[0]?.trim() || (signal ? `killed by ${signal}` : `exit code ${code}`))
    })
  })
}

const USERNS_FILES = ['/proc/sys/kernel/apparmor_restrict_unprivileged_userns', '/proc/sys/kernel/unprivileged_userns_clone']

/**
 * Ubuntu >= 23.10 (AppArmor) and kernels without unprivileged user namespaces leave Chromium only
 * the setuid sandbox helper; when that is not root-owned 4755, Electron aborts at start
 * (electron/electron#42510). Returns the one command that fixes it, or null.
 * @param {{ platform: string, electronDir: string, restrictFile?: string, cloneFile?: string }} o
 */
export function sandboxFix({ platform, electronDir, restrictFile = USERNS_FILES[0], cloneFile = USERNS_FILES[1] }) {
  if (platform !== 'linux') return null
  const read = (f) => {
    try {
      return readFileSync(f, 'utf8').trim()
    } catch {
      return null
    }
  }
  const restricted = read(restrictFile) === '1' || read(cloneFile) === '0'
  if (!restricted) return null
  const helper = join(electronDir, 'dist', 'chrome-sandbox')
  let st
  try {
    st = statSync(helper)
  } catch {
    return null
  }
  if (st.uid === 0 && (st.mode & 0o7777) === 0o4755) return null
  return `sudo chown root:root '${helper}' && sudo chmod 4755 '${helper}'`
}

/**
 * The whole decision. `install` downloads a missing binary (null: do not); `sqlite` passes options
 * to ensureElectronSqlite (tests point it at their own cache and strategies).
 * @param {{ root: string, platform?: string, env?: Record<string, string | undefined>,
 *           install?: ((electron: { version: string, dir: string }) => Promise<string | null>) | null,
 *           sqlite?: { sqliteDir?: string, cacheRoot?: string, strategies?: import('./electron-sqlite.js').Strategy[] },
 *           sandbox?: { restrictFile?: string, cloneFile?: string }, log?: (line: string) => void }} opts
 * @returns {Promise<{ mode: 'electron', binary: string, version: string, sqliteBinding: string }
 *                 | { mode: 'web', reason: string, fix?: string }>}
 */
export async function decide({ root, platform = process.platform, env = process.env, install = null, sqlite = {}, sandbox = {}, log = () => {} }) {
  if (env.CONV_STUDIO_WEB === '1') return { mode: 'web', reason: 'CONV_STUDIO_WEB=1 asks for web mode' }
  const noDisplay = displayProblem(platform, env)
  if (noDisplay) return { mode: 'web', reason: noDisplay }
  let electron = electronInstall(root)
  if (!electron) return { mode: 'web', reason: 'the electron package is not installed (npm skips it on Node older than 22.12)' }
  if (!electron.binary && install) {
    log(`Downloading Electron ${electron.version} (once)…`)
    const failed = await install(electron)
    electron = electronInstall(root)
    if (!electron?.binary) return { mode: 'web', reason: `the Electron binary could not be downloaded (${failed ?? 'no binary after the download'})` }
  }
  if (!electron.binary) return { mode: 'web', reason: 'the Electron binary is not downloaded (run `npx install-electron --no`)' }
  const broken = await probeElectron(electron.binary)
  if (broken) return { mode: 'web', reason: `Electron cannot run here (${broken})` }
  const fix = sandboxFix({ platform, electronDir: electron.dir, ...sandbox })
  if (fix) return { mode: 'web', reason: "Electron's sandbox helper is not set up (this system restricts user namespaces)", fix: `To use the desktop app, run once: ${fix}` }
  let sqliteBinding
  try {
    sqliteBinding = (await ensureElectronSqlite({ electronVersion: electron.version, log, ...sqlite })).path
  } catch (err) {
    return { mode: 'web', reason: err instanceof Error ? err.message : String(err) }
  }
  // The binding must load in this very binary: catches a wrong ABI or a corrupt cache entry.
  const sqliteDir = sqlite.sqliteDir ?? join(root, 'node_modules', 'better-sqlite3')
  const loadScript = `new (require(${JSON.stringify(sqliteDir)}))(':memory:', { nativeBinding: ${JSON.stringify(sqliteBinding)} }).close()`
  const noLoad = await probeElectron(electron.binary, loadScript)
  if (noLoad) return { mode: 'web', reason: `better-sqlite3's Electron build does not load (${noLoad}); delete ${sqliteBinding} and start again` }
  return { mode: 'electron', binary: electron.binary, version: electron.version, sqliteBinding }
}
