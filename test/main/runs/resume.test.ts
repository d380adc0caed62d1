// Exact resume with real processes: `conv-studio train` is SIGKILLed (kill -9, host and all) while it
// trains epoch 2 of 6; `conv-studio train --resume <id>` continues the same run; it ends with exactly
// the weights, epochs, curve and test metrics of an uninterrupted twin trained with the same seed on
// the same backend. Also: a cancelled run resumed through the services (Adam), a refused resume, and
// fine-tune from another run's weights.
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { createServices } from '../../../src/main/services'
import { tsxLoaderUrl } from '../../../src/main/services/training'
import type { RunRecord } from '../../../src/shared/domain'
import { TRAIN_STATE_JSON } from '../../../src/main/storage/checkpoint'
import { tempDir, tinyConfig } from '../../helpers/hosts'

const dir = tempDir()
afterAll(() => dir.remove())

const cli = join(process.cwd(), 'src', 'main', 'cli.ts')
const backend = process.env.CONV_STUDIO_TEST_BACKEND ?? 'auto'
const twinArgs = ['--model', 'lenet5', '--dataset', 'mnist-sample', '--optimizer', 'sgd', '--lr', '0.3', '--momentum', '0.9', '--batch-size', '64', '--seed', '7', '--epochs', '6', '--train-limit', '2048', '--schedule', 'step:2:0.5', '--backend', backend]

function runCli(args: string[], onLine?: (line: Record<string, unknown>, child: ChildProcess) => void) {
  // The CLI itself, not bin/'s wrapper: kill -9 must reach the process that hosts the training.
  const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), cli, '--data-dir', dir.path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Record<string, unknown>[] = []
  let buf = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const obj = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
      buf = buf.slice(nl + 1)
      lines.push(obj)
      onLine?.(obj, child)
    }
  })
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise<{ code: number | null; signal: string | null; lines: Record<string, unknown>[]; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, lines, stderr }))
  )
}

/** Everything about a run that must be identical between twins (timings aside). */
function outcome(store: RunStore, id: number) {
  const run = store.get(id)
  const epochs = store.epochs(id).map(({ seconds: _s, examplesPerSec: _e, ...rest }) => rest)
  const curve = store.curves(id, 100_000)
  return {
    status: run.status,
    epochsDone: run.epochsDone,
    bestEpoch: run.bestEpoch,
    bestValAcc: run.bestValAcc,
    testAcc: run.testAcc,
    testLoss: run.testLoss,
    epochs,
    steps: curve.steps,
    testPredictions: Array.from(store.predictions(id, 'test')),
    last: readFileSync(join(store.weightsDir(id, 'last'), 'weights.bin')),
    best: readFileSync(join(store.weightsDir(id, 'best'), 'weights.bin'))
  }
}

/** Children of a pid, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(name))
    } catch {
      // The process ended while we looked.
    }
  }
  return out
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('exact resume with real processes', () => {
  it('kill -9 mid-run, train --resume: same run id, one continuous curve, the uninterrupted twin\'s weights and metrics', async () => {
    const twin = await runCli(['train', ...twinArgs, '--name', 'twin', '--json'])
    expect(twin.code, twin.stderr).toBe(0)
    const twinId = twin.lines.at(-1)?.runId as number

    let trainerPids: number[] = []
    const killed = await runCli(['train', ...twinArgs, '--name', 'killed', '--json'], (line, child) => {
      const e = line.epoch as { epoch?: number } | undefined
      if (line.event === 'epoch' && e?.epoch === 1) {
        trainerPids = childrenOf(child.pid as number)
        child.kill('SIGKILL')
      }
    })
    expect(killed.signal).toBe('SIGKILL')
    expect(trainerPids.length).toBeGreaterThan(0)
    const killedId = killed.lines.find((l) => l.event === 'created')?.runId as number
    // The orphaned trainer stops on its own when its host's channel closes.
    const deadline = Date.now() + 15_000
    while (trainerPids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(trainerPids.filter(alive)).toEqual([])

    const reopened = RunStore.open(dir.path)
    try {
      // Its host is gone: the next open finds it interrupted, finished epochs kept.
      expect(reopened.get(killedId).status).toBe('interrupted')
    } finally {
      reopened.close()
    }
    const resumed = await runCli(['train', '--resume', String(killedId), '--json'])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.lines.find((l) => l.event === 'resumed')).toMatchObject({ runId: killedId })
    expect(resumed.lines.at(-1)).toMatchObject({ event: 'result', runId: killedId, status: 'completed', epochsDone: 6 })
    // Only the epochs after the last finished one were trained by the resume.
    const from = resumed.lines.find((l) => l.event === 'resumed')?.fromEpoch as number
    expect(from).toBeGreaterThanOrEqual(1)
    expect(from).toBeLessThan(6)
    expect(resumed.lines.filter((l) => l.event === 'epoch').map((l) => (l.epoch as { epoch: number }).epoch)).toEqual([1, 2, 3, 4, 5, 6].slice(from))

    const store = RunStore.open(dir.path)
    try {
      const a = outcome(store, twinId)
      const b = outcome(store, killedId)
      expect(a.status).toBe('completed')
      expect(b.epochs).toEqual(a.epochs)
      expect(b.steps).toEqual(a.steps)
      expect(b.testAcc).toBe(a.testAcc)
      expect(b.testLoss).toBe(a.testLoss)
      expect(b.testPredictions).toEqual(a.testPredictions)
      expect(b.last.equals(a.last)).toBe(true)
      expect(b.best.equals(a.best)).toBe(true)
      expect({ ...b, last: null, best: null }).toEqual({ ...a, last: null, best: null })
      // One curve: strictly increasing x, epochs 1..4 each once.
      const xs = b.steps.map((p) => p.x)
      expect(xs.every((x, i) => i === 0 || x > xs[i - 1])).toBe(true)
      expect(xs.at(-1)).toBe(6)
    } finally {
      store.close()
    }

    const again = await runCli(['train', '--resume', String(killedId), '--json'])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/only an interrupted, cancelled or failed run can be resumed/)
    expect(again.stderr).not.toMatch(/\n\s+at /)
  }, 600_000)

  it('a cancelled Adam run resumed through the services ends as its twin; a run without saved state is refused in one sentence', async () => {
    const dataDir = join(dir.path, 'services')
    const services = await createServices({ dataDir, host: 'cli' })
    try {
      const config = tinyConfig({ optimizer: 'adam', lr: 0.002, epochs: 3, seed: 3, trainLimit: 512 })
      const startReply = await services.handle('training.start', { config, name: 'twin' })
      expect(startReply.ok).toBe(true)
      const twin = await services.training.whenFinished((startReply as { value: RunRecord }).value.id)
      expect(twin.status).toBe('completed')

      const second = (await services.handle('training.start', { config, name: 'cancelled' })) as { ok: true; value: RunRecord }
      const id = second.value.id
      await new Promise<void>((resolve) => {
        const off = services.training.subscribe((e) => {
          if (e.type === 'epoch' && e.runId === id && e.epoch.epoch === 1) {
            off()
            void services.training.cancel(id).then(() => resolve())
          }
        })
      })
      const cancelled = services.runs.get(id)
      expect(cancelled.status).toBe('cancelled')
      expect(cancelled.epochsDone).toBeGreaterThanOrEqual(1)
      expect(cancelled.epochsDone).toBeLessThan(3)

      const r = await services.handle('training.resume', { runId: id })
      expect(r.ok).toBe(true)
      const done = await services.training.whenFinished(id)
      expect(done.status).toBe('completed')
      const a = outcome(services.runs, twin.id)
      const b = outcome(services.runs, id)
      expect({ ...b, last: null, best: null }).toEqual({ ...a, last: null, best: null })
      expect(b.last.equals(a.last)).toBe(true)

      // Fine-tune: a new run from the twin's best weights starts where the twin ended, not at chance.
      const tuned = (await services.handle('training.start', { config: { ...config, epochs: 1 }, name: 'tuned', initFrom: twin.id })) as { ok: true; value: RunRecord }
      expect(tuned.ok).toBe(true)
      const tunedRun = await services.training.whenFinished(tuned.value.id)
      expect(tunedRun.status).toBe('completed')
      const fresh = (await services.handle('training.start', { config: { ...config, epochs: 1 }, name: 'fresh' })) as { ok: true; value: RunRecord }
      const freshRun = await services.training.whenFinished(fresh.value.id)
      expect(services.runs.epochs(tunedRun.id)[0].trainLoss).toBeLessThan(services.runs.epochs(freshRun.id)[0].trainLoss)

      // Fine-tune onto other shapes: one sentence naming the mismatch.
      const other = { ...config, epochs: 1, spec: { ...config.spec, layers: config.spec.layers.map((l) => (l.type === 'linear' && 'outFeatures' in l && l.outFeatures === 120 ? { ...l, outFeatures: 100 } : l)) } }
      const bad = (await services.handle('training.start', { config: other, name: 'bad', initFrom: twin.id })) as { ok: true; value: RunRecord }
      const badRun = await services.training.whenFinished(bad.value.id)
      expect(badRun.status).toBe('failed')
      expect(badRun.error).toMatch(/cannot start from those weights: the other run: weight \d+ .* is 400x120/)

      // A run recorded before exact resume existed (no train state beside its weights).
      const third = (await services.handle('training.start', { config, name: 'old' })) as { ok: true; value: RunRecord }
      await new Promise<void>((resolve) => {
        const off = services.training.subscribe((e) => {
          if (e.type === 'epoch' && e.runId === third.value.id) {
            off()
            void services.training.cancel(third.value.id).then(() => resolve())
          }
        })
      })
      rmSync(join(services.runs.weightsDir(third.value.id, 'last'), TRAIN_STATE_JSON))
      const refused = await services.handle('training.resume', { runId: third.value.id })
      expect(refused).toMatchObject({ ok: false, error: { code: 'conflict' } })
      expect((refused as { error: { message: string } }).error.message).toMatch(/recorded before runs kept their optimizer state/)
      expect(services.runs.get(third.value.id).status).toBe('cancelled')
    } finally {
      await services.close()
    }
  }, 600_000)
})
