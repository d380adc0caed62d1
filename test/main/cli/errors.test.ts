// How the CLI fails, as a user meets it: real processes (src/main/cli.ts through tsx), real pipes,
// a real full disk and a real read-only mount. Exit status 2 means "used wrongly", 1 "failed"; one
// line says why, never a stack trace; stored text is never printed raw to the terminal.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { DatasetStore } from '../../../src/main/services/datasets'
import { register as registerRuns } from '../../../src/main/cli/runs'
import { register as registerModels } from '../../../src/main/cli/models'
import { runCli } from '../../helpers/cli'
import { tmpfsUnavailable, withTmpfs } from '../../helpers/tmpfs'
import { CLASSES, config } from '../runs/helpers'

const cli = join(process.cwd(), 'src', 'main', 'cli.ts')
const cleanup: string[] = []
afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cli-errors-'))
  cleanup.push(d)
  return d
}

function run(args: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

const STACK = /^\s+at /m

describe('exit status: 2 for usage errors, 1 for failures', () => {
  it("commander's own complaints exit 2, as our checks do; a failure exits 1", async () => {
    const dir = tempDir()
    const unknownOption = await run(['--data-dir', dir, 'runs', 'list', '--bogus'])
    expect(unknownOption.code).toBe(2)
    expect(unknownOption.stderr).toMatch(/unknown option '--bogus'/)
    const badValue = await run(['--data-dir', dir, 'runs', 'show', 'x'])
    expect(badValue.code).toBe(2)
    const missingArg = await run(['--data-dir', dir, 'runs', 'export'])
    expect(missingArg.code).toBe(2)
    const unknownCommand = await run(['--data-dir', dir, 'nonsense'])
    expect(unknownCommand.code).toBe(2)
    const badPreset = await run(['models', 'summary', 'vgg'])
    expect(badPreset).toMatchObject({ code: 2, stdout: '' })
    expect(badPreset.stderr).toMatch(/unknown model preset 'vgg'/)
    const help = await run(['runs', '--help'])
    expect(help.code).toBe(0)
    const missingRun = await run(['--data-dir', dir, 'runs', 'show', '99'])
    expect(missingRun).toMatchObject({ code: 1, stderr: 'error: There is no run 99.\n' })
  }, 120_000)

  it('in process too (the test helper maps statuses as main() does)', async () => {
    const dir = tempDir()
    expect((await runCli(registerRuns, dir, ['runs', 'list', '--limit', 'x'])).code).toBe(2)
    expect((await runCli(registerRuns, dir, ['runs', 'list', '--asc', '--desc'])).code).toBe(2)
    expect((await runCli(registerModels, dir, ['models', 'summary', 'lenet5'])).code).toBe(0)
  })
})

it('`runs list | head -1` ends quietly when the reader goes away (EPIPE)', async () => {
  const dir = tempDir()
  const store = RunStore.open(dir)
  for (let i = 0; i < 500; i++) store.create(config(), { name: `run ${i} ${'x'.repeat(100)}`, classes: CLASSES, paramCount: 1 })
  store.close()
  const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      'bash',
      ['-c', `set -o pipefail; "${process.execPath}" --import tsx "${cli}" --data-dir "${dir}" runs list --limit 500 --json | head -1 > /dev/null`],
      (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr })
    )
  })
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
}, 60_000)

describe('stored text is printed with its control characters escaped', () => {
  it('a run named and tagged with ESC and BEL cannot drive the terminal from runs list / show', async () => {
    const dir = tempDir()
    const store = RunStore.open(dir)
    const evil = 'pwn\u001b]0;owned\u0007\u001b[2J\u009b31m'
    const r = store.create(config(), { name: evil, classes: CLASSES, paramCount: 1 })
    store.setNotes(r.id, `line one\nline two \u001b[1m`)
    store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
    store.finish(r.id, { status: 'failed', error: 'boom \u001b[31mred\u0007' })
    store.close()
    const list = await runCli(registerRuns, dir, ['runs', 'list'])
    const show = await runCli(registerRuns, dir, ['runs', 'show', String(r.id)])
    for (const out of [list.stdout, show.stdout]) {
      // eslint-disable-next-line no-control-regex
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
      expect(out).toContain('pwn\\x1b]0;owned\\x07\\x1b[2J\\x9b31m')
    }
    expect(show.stdout).toContain('notes: line one\nline two \\x1b[1m')
    expect(show.stdout).toContain('error: boom \\x1b[31mred\\x07')
    // JSON escapes them itself; the values stay exact.
    expect(JSON.parse((await runCli(registerRuns, dir, ['runs', 'show', String(r.id), '--json'])).stdout).name).toBe(evil)
  })
})

describe.skipIf(tmpfsUnavailable !== null)(`faults on real file systems${tmpfsUnavailable ? ` (skipped: ${tmpfsUnavailable})` : ''}`, () => {
  it(
    'a read-only data folder still lists and shows runs (saying so once), refuses writes clearly and leaves no lock',
    withTmpfs(4096, async (mnt) => {
      const store = RunStore.open(mnt)
      const r = store.create(config(), { name: 'kept', classes: CLASSES, paramCount: 1 })
      store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
      store.finish(r.id, { status: 'completed' })
      store.close()
      const before = readdirSync(mnt).sort()
      execFileSync('mount', ['-o', 'remount,ro', mnt])
      try {
        const list = await run(['--data-dir', mnt, 'runs', 'list'])
        expect(list.code, list.stderr).toBe(0)
        expect(list.stdout).toMatch(/^\s*1\s+kept\s+completed/m)
        expect(list.stderr).toBe(`note: ${mnt} is not writable; the runs are opened read-only.\n`)
        const show = await run(['--data-dir', mnt, 'runs', 'show', '1'])
        expect(show.code, show.stderr).toBe(0)
        const rm = await run(['--data-dir', mnt, 'runs', 'rm', '1', '--yes'])
        expect(rm.code).toBe(1)
        expect(rm.stderr).toMatch(/^error: Could not use the data folder .*: the data folder is not writable/)
        expect(rm.stderr).not.toMatch(STACK)
      } finally {
        execFileSync('mount', ['-o', 'remount,rw', mnt])
      }
      expect(readdirSync(mnt).sort()).toEqual(before)
      expect(readdirSync(join(mnt, 'locks'))).toEqual([])
    }),
    120_000
  )

  it(
    'a run whose end cannot be written is failed with its cause, here and after the next open',
    withTmpfs(2048, (mnt) => {
      const store = RunStore.open(mnt)
      const r = store.create(config(), { name: 'full', classes: CLASSES, paramCount: 1 })
      store.markStarted(r.id, { backend: 'cpu', device: null, libVersions: {} })
      // Fill the disk to the last byte.
      const filler = join(mnt, 'filler')
      const { bavail, bsize } = statfsSync(mnt)
      writeFileSync(filler, Buffer.alloc(bavail * bsize))
      expect(() =>
        store.finish(r.id, { status: 'failed', error: 'Could not record training steps: the disk is full (SQLITE_FULL)' })
      ).toThrow()
      // This process knows the run is over, and why; it does not say 'running'.
      expect(store.get(r.id)).toMatchObject({ status: 'failed', error: 'Could not record training steps: the disk is full (SQLITE_FULL)' })
      store.close()
      unlinkSync(filler)
      const next = RunStore.open(mnt)
      try {
        expect(next.get(r.id)).toMatchObject({ status: 'failed', error: 'Could not record training steps: the disk is full (SQLITE_FULL)' })
      } finally {
        next.close()
      }
    })
  )

  it(
    '`train` on a disk that fills up prints one clear line, no stack trace, never "running", exits 1, and stores the cause',
    withTmpfs(16384, async (mnt) => {
      // The dataset is converted first, then the disk is filled to leave too little for one epoch's weights.
      await new DatasetStore({ dataDir: mnt }).info('mnist-sample')
      RunStore.open(mnt).close()
      const filler = join(mnt, 'filler')
      const { bavail, bsize } = statfsSync(mnt)
      writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 300 * 1024)))
      const r = await run(['--data-dir', mnt, 'train', '--model', 'lenet5', '--dataset', 'mnist-sample', '--epochs', '2', '--train-limit', '512', '--batch-size', '64'], 180_000)
      console.log(`train on a full disk printed:\n${r.stderr}`)
      expect(r.code).toBe(1)
      expect(r.stderr).not.toMatch(STACK)
      expect(r.stderr).not.toMatch(/running\./)
      const last = r.stderr.trim().split('\n').pop() ?? ''
      expect(last).toMatch(/^Run 1 failed: .*(ENOSPC|no space|disk is full)/)
      unlinkSync(filler)
      const store = RunStore.open(mnt)
      try {
        const run1 = store.get(1)
        expect(run1.status).toBe('failed')
        expect(run1.error).toMatch(/ENOSPC|no space|disk is full/)
        expect(run1.error).not.toMatch(/stopped while this run was training/)
      } finally {
        store.close()
      }
    }),
    240_000
  )
})

it('`train --backend wasm` prints no line from Dawn or a GPU driver', async () => {
  const dir = tempDir()
  const r = await run(['--data-dir', dir, 'train', '--model', 'lenet5', '--dataset', 'mnist-sample', '--epochs', '1', '--train-limit', '256', '--backend', 'wasm'], 180_000)
  expect(r.code, r.stderr).toBe(0)
  expect(r.stdout + r.stderr).not.toMatch(/vulkan|dawn|node-webgpu/i)
}, 240_000)
