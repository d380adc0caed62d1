// `npm start`: the desktop app where Electron can run (scripts/start-decide.js says when), otherwise
// one line saying why and web mode, which prints its URL. `npm run dev` (--dev) is the same with
// electron-vite's dev server and hot reload, and no web fallback.
//
// Every tool runs as its own JS bin under this Node (process.execPath): no npm/npx and no .cmd
// shims, which Node refuses to spawn without a shell on Windows since the CVE-2024-27980 fix.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { projectRoot } from './electron-sqlite.js'
import { decide } from './start-decide.js'

const require = createRequire(import.meta.url)
const bin = (pkg, rel) => join(projectRoot, 'node_modules', pkg, rel)

let current = null
// One set of listeners for the whole run. Ctrl-C in a terminal already reaches the child (same
// process group), so SIGINT is forwarded only when there is no terminal to do it.
process.on('SIGINT', () => {
  if (current && !process.stdin.isTTY) current.kill('SIGINT')
})
process.on('SIGTERM', () => current?.kill('SIGTERM'))

/** Runs a command to its end; resolves its exit code. A spawn failure is one line, then exit 1. */
function run(command, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env, cwd: projectRoot })
    current = child
    child.on('error', (err) => {
      console.error(`npm start: could not run ${command}: ${err.message}`)
      resolve(1)
    })
    child.on('exit', (code, signal) => {
      current = null
      resolve(signal ? 1 : (code ?? 1))
    })
  })
}

/** Electron's own installer (its bin `install-electron`), which Electron >= 42 no longer runs on npm install. */
async function installElectron(electron) {
  const code = await run(process.execPath, [join(electron.dir, 'install.js')])
  return code === 0 ? null : `its installer exited with code ${code}`
}

const args = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'))
const dev = args.includes('--dev')
const forceWeb = args.includes('--web')
const serverArgs = args.filter((a) => a !== '--dev' && a !== '--web')

const choice = forceWeb
  ? { mode: 'web', reason: '--web asks for web mode' }
  : await decide({ root: projectRoot, install: installElectron, log: (line) => console.log(line) })

let code
if (choice.mode === 'electron') {
  if (serverArgs.length) console.log(`(ignoring ${serverArgs.join(' ')}: those options are for web mode, \`npm start -- --web ...\`)`)
  // The Electron build of better-sqlite3 reaches the app (and its training processes) through the env.
  const env = { ...process.env, CONV_STUDIO_SQLITE_BINDING: choice.sqliteBinding }
  code = await run(process.execPath, [bin('electron-vite', 'bin/electron-vite.js'), dev ? 'dev' : 'preview'], env)
} else if (dev) {
  console.error(`npm run dev: the desktop app cannot start: ${choice.reason}.`)
  if (choice.fix) console.error(choice.fix)
  code = 1
} else {
  console.log(`Starting web mode: ${choice.reason}.`)
  if (choice.fix) console.log(choice.fix)
  code = await run(process.execPath, [bin('vite', 'bin/vite.js'), 'build', '--config', 'vite.web.config.ts', '--logLevel', 'warn'])
  if (code === 0) {
    // The server directly (not through `npm run serve`): one process to signal.
    const tsx = pathToFileURL(require.resolve('tsx')).href
    code = await run(process.execPath, ['--import', tsx, join(projectRoot, 'src/main/server.ts'), ...serverArgs])
  }
}
process.exit(code)
