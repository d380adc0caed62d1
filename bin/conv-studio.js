#!/usr/bin/env node
// `npx conv-studio ...`: runs the TypeScript CLI through tsx (a runtime dependency), from wherever the
// package is installed, and passes signals and the exit status through unchanged.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

const cli = fileURLToPath(new URL('../src/main/cli.ts', import.meta.url))
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const child = spawn(process.execPath, ['--import', tsx, cli, ...process.argv.slice(2)], { stdio: 'inherit' })

// Ctrl-C reaches the child through the terminal's process group as well; forwarding covers `kill`.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode === null) child.kill(signal)
  })
}
child.on('exit', (code, signal) => {
  if (signal) {
    // Die the same way, so a parent shell sees what happened (130 for SIGINT, ...).
    process.removeAllListeners(signal)
    process.kill(process.pid, signal)
  } else {
    process.exit(code ?? 1)
  }
})
