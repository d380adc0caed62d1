// Where user data lives. One default folder for every host (the desktop app, web mode, the CLI), so
// a `conv-studio train` run shows up in the app and the other way round. In order:
//   1. --data-dir (CLI, web mode, and the desktop app's own --data-dir=<dir> switch)
//   2. $CONV_STUDIO_DATA_DIR
//   3. "dataDir" in the settings file (the desktop app's File → Change Data Folder… writes it)
//   4. the per-OS local data folder: big files (datasets, checkpoints) never go to a roaming or
//      cloud-backed folder (Electron's docs say so of userData; Windows roams %APPDATA%).
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

export interface PathEnv {
  env?: NodeJS.ProcessEnv
  platform?: NodeJS.Platform
  home?: string
}

/** The per-OS data folder when nothing else is chosen. */
export function platformDataDir({ env = process.env, platform = process.platform, home = homedir() }: PathEnv = {}): string {
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'conv-studio')
  if (platform === 'win32') {
    const local = join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'conv-studio')
    // Versions before 0.2 kept it in roaming %APPDATA%: keep using an existing one there.
    const roaming = join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'conv-studio')
    if (!existsSync(join(local, 'conv-studio.sqlite')) && existsSync(join(roaming, 'conv-studio.sqlite'))) return roaming
    return local
  }
  return join(env.XDG_DATA_HOME || join(home, '.local', 'share'), 'conv-studio')
}

/** Small settings every host reads (not the data: that can be gigabytes). Roaming is right for these. */
export function settingsFile({ env = process.env, platform = process.platform, home = homedir() }: PathEnv = {}): string {
  if (platform === 'darwin') return join(home, 'Library', 'Preferences', 'conv-studio', 'settings.json')
  if (platform === 'win32') return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'conv-studio', 'settings.json')
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'conv-studio', 'settings.json')
}

export interface Settings {
  dataDir?: string
}

/** The settings file's content; an absent or unreadable file is no settings (never an error at start). */
export function readSettings(at: PathEnv = {}): Settings {
  try {
    const parsed = JSON.parse(readFileSync(settingsFile(at), 'utf8')) as unknown
    if (!parsed || typeof parsed !== 'object') return {}
    const dataDir = (parsed as { dataDir?: unknown }).dataDir
    return typeof dataDir === 'string' && dataDir.trim() ? { dataDir } : {}
  } catch {
    return {}
  }
}

export function writeSettings(settings: Settings, at: PathEnv = {}): void {
  const file = settingsFile(at)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(`${file}.tmp`, JSON.stringify(settings, null, 2) + '\n')
  renameSync(`${file}.tmp`, file)
}

/** The data folder a host uses when it is not given --data-dir. */
export function defaultDataDir(at: PathEnv = {}): string {
  const env = at.env ?? process.env
  if (env.CONV_STUDIO_DATA_DIR) return env.CONV_STUDIO_DATA_DIR
  return readSettings(at).dataDir ?? platformDataDir(at)
}

/** The layout of a data folder; every service takes its paths from here. */
export function dataPaths(dataDir: string) {
  return {
    root: dataDir,
    database: join(dataDir, 'conv-studio.sqlite'),
    runs: join(dataDir, 'runs'),
    runDir: (runId: number) => join(dataDir, 'runs', String(runId)),
    datasets: join(dataDir, 'datasets'),
    downloads: join(dataDir, 'downloads')
  }
}
export type DataPaths = ReturnType<typeof dataPaths>
