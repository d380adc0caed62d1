// `npm start`: the desktop app when the Electron binary is there; otherwise (a headless server, a
// machine that could not download it) say so in one line and start web mode, which prints its URL.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function electronBinary() {
  try {
    // The package exports the path of the binary it downloaded; it throws when the download failed.
    const path = require('electron')
    return typeof path === 'string' && existsSync(path) ? path : null
  } catch {
    return null
  }
}

function run(command, args) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit' })
    const forward = (signal) => () => child.kill(signal)
    process.on('SIGINT', forward('SIGINT'))
    process.on('SIGTERM', forward('SIGTERM'))
    child.on('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1)))
  })
}

const passThrough = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'))
let code
if (electronBinary()) {
  code = await run(npm, ['exec', '--', 'electron-vite', 'preview', ...passThrough])
} else {
  console.log('Electron is not installed (its binary download failed or was skipped); starting web mode instead.')
  code = await run(npm, ['run', '--silent', 'build:web'])
  if (code === 0) {
    // The server directly (not through `npm run serve` and the tsx CLI): one process to signal.
    const tsx = pathToFileURL(require.resolve('tsx')).href
    const server = fileURLToPath(new URL('../src/main/server.ts', import.meta.url))
    code = await run(process.execPath, ['--import', tsx, server, ...passThrough])
  }
}
process.exit(code)
