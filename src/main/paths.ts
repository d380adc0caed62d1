// Where user data lives when no host says otherwise. Electron passes app.getPath('userData');
// web mode and the CLI take --data-dir, else CONV_STUDIO_DATA_DIR, else this per-OS default.
import { homedir } from 'node:os'
import { join } from 'node:path'

export function defaultDataDir(): string {
  const fromEnv = process.env.CONV_STUDIO_DATA_DIR
  if (fromEnv) return fromEnv
  const home = homedir()
  if (process.platform === 'darwin') return join(home, 'Library', 'Application Support', 'conv-studio')
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'conv-studio')
  return join(process.env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'conv-studio')
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
