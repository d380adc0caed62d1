// `conv-studio --version` and `conv-studio serve` (web mode from the CLI), through the real bin.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..', '..')
const bin = join(root, 'bin', 'conv-studio.js')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

let dataDir: string
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'cli-serve-'))
})
afterEach(() => rmSync(dataDir, { recursive: true, force: true }))

it('--version prints the package version and exits 0', () => {
  const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' })
  expect(r.status).toBe(0)
  expect(r.stdout.trim()).toBe(version)
})

it('serve starts web mode on the data folder given, answers HTTP, and stops cleanly on SIGTERM', async () => {
  const child = spawn(process.execPath, [bin, '--data-dir', dataDir, 'serve', '--no-build', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stderr.on('data', (d) => (out += d))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 60_000)
    child.stdout.on('data', (d) => {
      out += d
      const m = /Conv Studio web mode: (http:\/\/\S+)\nData folder: .*\n/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    })
  })
  expect(out).toContain(`Data folder: ${dataDir}`)
  const res = await fetch(new URL('/', url))
  expect(res.status).toBeLessThan(500)
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c))
    child.kill('SIGTERM')
  })
  expect(code).toBe(0)
})
