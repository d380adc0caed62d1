// `conv-studio train` end to end through bin/conv-studio.js: a real CLI process, a real training
// process under it, the run recorded in a real store; and Ctrl-C cancelling cleanly with status 130.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { tempDir } from '../../helpers/hosts'

const dir = tempDir()
afterAll(() => dir.remove())

const bin = join(process.cwd(), 'bin', 'conv-studio.js')
const tiny = ['--model', 'lenet5', '--dataset', 'mnist-sample', '--optimizer', 'sgd', '--lr', '0.9', '--batch-size', '64', '--seed', '1']

function runCli(args: string[], onLine?: (line: Record<string, unknown>, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [bin, '--data-dir', dir.path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Record<string, unknown>[] = []
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString()
    let nl: number
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, nl)
      stdout = stdout.slice(nl + 1)
      const obj = JSON.parse(line) as Record<string, unknown>
      lines.push(obj)
      onLine?.(obj, child)
    }
  })
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, lines, stderr }))
  )
}

it('train --json prints one JSON object per event and ends with the final metrics and the run id', async () => {
  const { code, lines, stderr } = await runCli(['train', ...tiny, '--epochs', '1', '--train-limit', '512', '--name', 'cli tiny', '--json'])
  expect(code, stderr).toBe(0)
  // Whatever backend trained (TensorFlow prints absl notes when it loads), the terminal gets none of them.
  expect(stderr).not.toMatch(/absl::InitializeLog|^[IW]\d{4} .*\.cc:\d+\]/m)
  const events = lines.map((l) => l.event)
  expect(events).toContain('started')
  expect(events).toContain('batch')
  expect(events).toContain('epoch')
  const last = lines[lines.length - 1]
  expect(last).toMatchObject({ event: 'result', status: 'completed', epochsDone: 1 })
  expect(typeof last.testAcc).toBe('number')
  expect(typeof last.trainLoss).toBe('number')
  expect(last.examplesPerSec as number).toBeGreaterThan(0)
  const store = RunStore.open(dir.path)
  try {
    const run = store.get(last.runId as number)
    expect(run).toMatchObject({ status: 'completed', name: 'cli tiny', dataset: 'mnist-sample', epochsDone: 1 })
    expect(run.testAcc).toBeCloseTo(last.testAcc as number, 6)
  } finally {
    store.close()
  }
}, 180_000)

it('Ctrl-C cancels the run cleanly: exit status 130, run cancelled', async () => {
  let signalled = false
  const { code, lines, stderr } = await runCli(['train', ...tiny, '--epochs', '50', '--train-limit', '4096', '--json'], (line, child) => {
    if (line.event === 'batch' && !signalled) {
      signalled = true
      child.kill('SIGINT')
    }
  })
  expect(code, stderr).toBe(130)
  const last = lines[lines.length - 1]
  expect(last).toMatchObject({ event: 'result', status: 'cancelled' })
  const store = RunStore.open(dir.path)
  try {
    expect(store.get(last.runId as number).status).toBe('cancelled')
  } finally {
    store.close()
  }
}, 180_000)

it('refuses a bad flag with a clear message', async () => {
  const { code, stderr } = await runCli(['train', '--model', 'lenet7', '--json'])
  expect(code).toBe(2)
  expect(stderr).toMatch(/Unknown model 'lenet7'/)
}, 60_000)
