// Sweeps: expansion (grid x random x seeds, every config checked up front), and with real processes
// `conv-studio sweep` over a 2x2 grid where one run's training process is killed: that run fails,
// the other three complete, the last JSON line lists all four; cancelling a sweep cancels its queue.
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { expandSweep } from '../../../src/main/services/sweeps'
import { createServices } from '../../../src/main/services'
import { tsxLoaderUrl } from '../../../src/main/services/training'
import { TrainConfigSchema } from '../../../src/shared/schemas'
import type { SweepDetail } from '../../../src/shared/sweeps'
import { tempDir, tinyConfig } from '../../helpers/hosts'

const dir = tempDir()
afterAll(() => dir.remove())
const base = TrainConfigSchema.parse(tinyConfig({ trainLimit: 256, epochs: 1 }))

describe('expandSweep', () => {
  it('crosses the grid with random draws and seeds; the same spec makes the same runs', () => {
    const spec = {
      base,
      grid: [
        { key: 'batch-size' as const, values: ['32', '64'] },
        { key: 'optimizer' as const, values: ['sgd', 'adam'] }
      ],
      random: [{ key: 'lr' as const, lo: 0.001, hi: 1, log: true }],
      trials: 3,
      seeds: [0, 1]
    }
    const points = expandSweep(spec)
    expect(points).toHaveLength(2 * 2 * 3 * 2)
    expect(new Set(points.map((p) => `${p.config.batchSize} ${p.config.optimizer} ${p.config.lr} ${p.config.seed}`)).size).toBe(24)
    for (const p of points) {
      expect(p.config.lr).toBeGreaterThanOrEqual(0.001)
      expect(p.config.lr).toBeLessThanOrEqual(1)
      expect(p.values).toMatchObject({ 'batch-size': String(p.config.batchSize), optimizer: p.config.optimizer, lr: p.config.lr, seed: p.config.seed })
    }
    // Log-uniform: about half the draws below sqrt(0.001 * 1) ~ 0.0316 over many trials.
    const many = expandSweep({ base, random: [{ key: 'lr', lo: 0.001, hi: 1, log: true }], trials: 400 })
    const below = many.filter((p) => p.config.lr < Math.sqrt(0.001)).length / many.length
    expect(below).toBeGreaterThan(0.4)
    expect(below).toBeLessThan(0.6)
    expect(expandSweep(spec).map((p) => p.config)).toEqual(points.map((p) => p.config))
  })

  it('refuses, naming the run, a value the config schema refuses; and sweeps too big', () => {
    expect(() => expandSweep({ base, grid: [{ key: 'lr', values: [0.1, 50] }] })).toThrow(/Sweep run lr=50: lr: /)
    expect(() => expandSweep({ base, grid: [{ key: 'model', values: ['lenet5', 'resnet'] }] })).toThrow(/model=resnet: models are lenet5/)
    expect(() => expandSweep({ base, grid: [{ key: 'batch-size', values: ['3.5'] }] })).toThrow(/whole number/)
    expect(() => expandSweep({ base, random: [{ key: 'lr', lo: 0, hi: 1, log: true }], trials: 2 })).toThrow(/log range/)
    expect(() => expandSweep({ base, grid: [{ key: 'seed', values: [1, 2] }], seeds: [0] })).toThrow(/not both/)
    expect(() => expandSweep({ base, random: [{ key: 'lr', lo: 0.01, hi: 1 }], trials: 300, seeds: [0, 1] })).toThrow(/600 runs; the most is 500/)
  })
})

/** Children of a pid, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name))
    } catch {
      // Gone while we looked.
    }
  }
  return out
}

function runCli(args: string[], onLine?: (line: Record<string, unknown>, child: ChildProcess) => void) {
  const cli = join(process.cwd(), 'src', 'main', 'cli.ts')
  const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), cli, '--data-dir', join(dir.path, 'cli'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Record<string, unknown>[] = []
  let buf = ''
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    stdout += d.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (!text.startsWith('{')) continue
      const obj = JSON.parse(text) as Record<string, unknown>
      lines.push(obj)
      onLine?.(obj, child)
    }
  })
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise<{ code: number | null; lines: Record<string, unknown>[]; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, lines, stdout, stderr }))
  )
}

const tiny = ['--model', 'lenet5', '--dataset', 'mnist-sample', '--epochs', '1', '--train-limit', '256', '--seed', '1']

describe('conv-studio sweep with real processes', () => {
  it('a 2x2 grid where one run fails (its trainer killed): the others train, the last line lists all four, sorted table in text mode', async () => {
    let killedRun: number | null = null
    let runIds: number[] = []
    const { code, lines, stderr } = await runCli(['sweep', ...tiny, '--grid', 'lr=0.3,0.9', '--grid', 'batch-size=32,64', '--json'], (line, child) => {
      if (line.event === 'created') runIds = line.runIds as number[]
      // The second run's training process dies as soon as it has started.
      if (line.event === 'started' && killedRun === null) {
        if (line.runId === runIds[1]) {
          killedRun = line.runId as number
          for (const pid of childrenOf(child.pid as number)) process.kill(pid, 'SIGKILL')
        }
      }
    })
    expect(killedRun).not.toBeNull()
    expect(code, stderr).toBe(1)
    const last = lines.at(-1) as { event: string; sweepId: number; runs: { id: number; status: string; testAcc: number | null; config: { lr: number; batchSize: number } }[] }
    expect(last.event).toBe('sweep')
    expect(typeof last.sweepId).toBe('number')
    expect(last.runs).toHaveLength(4)
    expect(last.runs.map((r) => [r.config.lr, r.config.batchSize])).toEqual([
      [0.3, 32],
      [0.3, 64],
      [0.9, 32],
      [0.9, 64]
    ])
    const failed = last.runs.filter((r) => r.status === 'failed')
    expect(failed.map((r) => r.id)).toEqual([killedRun])
    expect(last.runs.filter((r) => r.status === 'completed')).toHaveLength(3)
    for (const r of last.runs.filter((x) => x.status === 'completed')) expect(typeof r.testAcc).toBe('number')
    // Progress per run came through as it trained.
    expect(new Set(lines.filter((l) => l.event === 'epoch').map((l) => l.runId)).size).toBe(3)

    // The same sweep read back in text mode through the runs the store now holds is not needed: the
    // text table is checked on a second, one-run sweep.
    const text = await runCli(['sweep', ...tiny, '--seeds', '4'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/best validation accuracy first:\nrun\s+status\s+seed\s+val acc\s+test acc\n\d+\s+completed\s+4\s+0\.\d{4}/)
  }, 600_000)

  it('a bad value refuses the whole sweep before anything is queued; usage errors exit 2 in one line', async () => {
    const bad = await runCli(['sweep', ...tiny, '--grid', 'lr=0.3,99', '--json'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/Sweep run lr=99: lr:/)
    expect(bad.stderr).not.toMatch(/\n\s+at /)
    const key = await runCli(['sweep', ...tiny, '--grid', 'colour=red'])
    expect(key.code).toBe(2)
    expect(key.stderr).toMatch(/'colour' is not a train option a sweep can vary/)
  }, 120_000)
})

describe('cancelling a sweep (services)', () => {
  it('cancels its queued runs at once and its training run within the grace; finished runs stay', async () => {
    const services = await createServices({ dataDir: join(dir.path, 'svc'), host: 'cli' })
    try {
      const reply = await services.handle('sweeps.start', { base: { ...base, epochs: 3, trainLimit: 1024 }, grid: [{ key: 'lr', values: [0.1, 0.2, 0.3, 0.4] }] })
      expect(reply.ok).toBe(true)
      const d = (reply as { value: SweepDetail }).value
      expect(d.runs).toHaveLength(4)
      expect(d.sweep.status).toBe('running')
      await new Promise<void>((resolve) => {
        const off = services.training.subscribe((e) => {
          if (e.type === 'batch' && e.runId === d.runs[0].run.id) {
            off()
            resolve()
          }
        })
      })
      const c = await services.handle('sweeps.cancel', { sweepId: d.sweep.id })
      expect(c.ok).toBe(true)
      const after = services.sweeps.get(d.sweep.id)
      expect(after.sweep.status).toBe('cancelled')
      expect(after.runs.map((r) => r.run.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled'])
      expect(after.runs.every((r) => r.run.sweepId === d.sweep.id)).toBe(true)
      expect((await services.handle('sweeps.list', {})) as { value: unknown[] }).toMatchObject({ ok: true, value: [{ id: d.sweep.id, status: 'cancelled', runs: 4 }] })
      expect(await services.handle('sweeps.get', { sweepId: 999 })).toMatchObject({ ok: false, error: { code: 'not_found' } })
    } finally {
      await services.close()
    }
  }, 300_000)
})
