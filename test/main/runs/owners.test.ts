// Several processes in one data folder, for real: a run belongs to the process that started it, and
// only that process's death makes it 'interrupted'. Before, the folder lock named one pid: once the
// holder exited, the next `runs list` or server start "recovered" another process's live run and
// that training aborted.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { createServices } from '../../../src/main/services'
import { tempDir } from './helpers'

const cleanup: string[] = []
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  for (const d of cleanup) rmSync(d, { recursive: true, force: true })
})

/** `conv-studio runs list` as a separate process. */
function runsList(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(__dirname, 'cli-runner.ts'), '--data-dir', dir, 'runs', 'list', '--json'], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

/** The writer (a process recording epochs forever) and a promise per printed epoch count. */
function startWriter(dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'writer-child.ts'), dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  const waiters: { n: number; resolve: () => void }[] = []
  const epochs = () => out.match(/^epoch \d+$/gm)?.length ?? 0
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    for (const w of waiters.splice(0)) {
      if (epochs() >= w.n) w.resolve()
      else waiters.push(w)
    }
  })
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })))
  return {
    child,
    exited,
    stderr: () => err,
    runId: () => Number(/^run (\d+)$/m.exec(out)?.[1]),
    epochs,
    until: (n: number) => new Promise<void>((resolve, reject) => {
      if (epochs() >= n) return resolve()
      waiters.push({ n, resolve })
      void exited.then(() => reject(new Error(`the writer exited after ${epochs()} epochs: ${err}`)))
    })
  }
}

describe('a run belongs to the process that started it', () => {
  it("survives the first holder's exit, `runs list`, a server start and other stores; a SIGKILLed owner's run is recovered", async () => {
    const dir = tempDir('owners-')
    cleanup.push(dir)
    // A: this process holds the folder first, as a server or an app would.
    const a = RunStore.open(dir)
    // B: a training (here the writer) starts while A holds the folder.
    const writer = startWriter(dir)
    await writer.until(2)
    const runId = writer.runId()
    // A goes away; then other processes come and go.
    a.close()
    const listed = await runsList(dir)
    expect(listed.code, listed.stderr).toBe(0)
    expect(JSON.parse(listed.stdout).rows.find((r: { id: number }) => r.id === runId).status).toBe('running')
    const web = await createServices({ dataDir: dir, host: 'web' })
    expect(web.runs.get(runId).status).toBe('running')
    await web.close()
    const c = RunStore.open(dir)
    c.close()
    // B still records: it was never interrupted under its feet.
    const before = writer.epochs()
    await writer.until(before + 2)
    const d = RunStore.open(dir)
    try {
      expect(d.get(runId).status).toBe('running')
      // B dies without a word. The next open (while d still holds the folder) recovers B's run only.
      writer.child.kill('SIGKILL')
      expect((await writer.exited).signal).toBe('SIGKILL')
      const e = RunStore.open(dir)
      try {
        const run = e.get(runId)
        expect(run.status).toBe('interrupted')
        expect(run.error).toMatch(/stopped while this run was training/)
        expect(run.epochsDone).toBeGreaterThanOrEqual(before + 2)
      } finally {
        e.close()
      }
    } finally {
      d.close()
    }
    // Every holder closed or dead: no lock file of a live holder is left, nor an owner file.
    const f = RunStore.open(dir)
    f.close()
    expect(readdirSync(join(dir, 'locks'))).toEqual([])
  }, 120_000)
})

describe('two CLI trainings in one data folder', () => {
  const bin = join(process.cwd(), 'bin', 'conv-studio.js')
  const tiny = ['--dataset', 'mnist-sample', '--optimizer', 'sgd', '--lr', '0.9', '--batch-size', '64', '--seed', '1', '--json']

  function train(dir: string, args: string[]) {
    const child = spawn(process.execPath, [bin, '--data-dir', dir, 'train', ...tiny, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(child)
    const lines: Record<string, unknown>[] = []
    let buf = ''
    let stderr = ''
    const listeners: ((l: Record<string, unknown>) => void)[] = []
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
        buf = buf.slice(nl + 1)
        lines.push(line)
        for (const fn of listeners) fn(line)
      }
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const done = new Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>((r) =>
      child.on('exit', (code) => r({ code, lines, stderr }))
    )
    const waitFor = (pred: (l: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const hit = lines.find(pred)
        if (hit) return resolve(hit)
        listeners.push((l) => pred(l) && resolve(l))
        void done.then((r) => reject(new Error(`train exited (${r.code}) first: ${r.stderr}`)))
      })
    return { done, waitFor }
  }

  it('both complete, with `runs list` and a server start while the second trains after the first has exited', async () => {
    const dir = tempDir('two-cli-')
    cleanup.push(dir)
    const first = train(dir, ['--model', 'lenet5-modern', '--epochs', '1', '--train-limit', '512'])
    await first.waitFor((l) => l.event === 'started')
    const second = train(dir, ['--model', 'lenet5', '--epochs', '6', '--train-limit', '2048'])
    await second.waitFor((l) => l.event === 'started')
    const one = await first.done
    expect(one.code, one.stderr).toBe(0)
    // The first process (which opened the folder first) is gone; the second trains on.
    const listed = await runsList(dir)
    expect(listed.code, listed.stderr).toBe(0)
    const web = await createServices({ dataDir: dir, host: 'web' })
    await web.close()
    await runsList(dir)
    const two = await second.done
    expect(two.code, two.stderr).toBe(0)
    expect(two.lines.at(-1)).toMatchObject({ event: 'result', status: 'completed', epochsDone: 6 })
    expect(one.lines.at(-1)).toMatchObject({ event: 'result', status: 'completed', epochsDone: 1 })
    // One parameter count everywhere: torchsummary's, with BatchNorm's running statistics apart.
    expect(one.lines.find((l) => l.event === 'info')).toMatchObject({ paramCount: 62_158, buffers: 452 })
    const store = RunStore.open(dir)
    try {
      expect(store.get(one.lines.at(-1)!.runId as number).paramCount).toBe(62_158)
    } finally {
      store.close()
    }
  }, 300_000)
})
