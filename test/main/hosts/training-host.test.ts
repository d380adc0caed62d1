// The training host's state machine over an in-memory fake child (no processes, milliseconds):
// queueing beyond maxConcurrent, cancel within the grace period and kill after it, a child that
// exits mid-run, a recording failure, and close(). A real run store records it all. The same
// paths through real training processes are covered by the integration tests beside this file.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { TrainingHost, type HostEvent } from '../../../src/main/services/training'
import type { ChildHandle, FromChild, Spawner, ToChild } from '../../../src/main/training-protocol'
import { CLASSES, config, confusion, epochRecord, tempDir, writeCheckpoint } from '../runs/helpers'

/** A child that records what the host sends and lets the test speak for it. */
class FakeChild implements ChildHandle {
  static nextPid = 50_000
  readonly pid = FakeChild.nextPid++
  readonly received: ToChild[] = []
  readonly kills: string[] = []
  private messageFn: ((m: FromChild) => void) | null = null
  private exitFn: ((code: number | null, signal: string | null) => void) | null = null
  private exited = false
  /** What the child does when told to cancel: nothing (a stuck child) unless set. */
  onCancel: (() => void) | null = null

  send(msg: ToChild): void {
    this.received.push(msg)
    if (msg.type === 'cancel') this.onCancel?.()
  }
  onMessage(fn: (m: FromChild) => void): void {
    this.messageFn = fn
  }
  onExit(fn: (code: number | null, signal: string | null) => void): void {
    this.exitFn = fn
  }
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.kills.push(signal)
    // A real child ends some time after a signal; a microtask is enough for the state machine.
    queueMicrotask(() => this.exit(null, signal))
  }
  say(msg: FromChild): void {
    this.messageFn?.(msg)
  }
  exit(code: number | null, signal: string | null): void {
    if (this.exited) return
    this.exited = true
    this.exitFn?.(code, signal)
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

let dir: string
let runs: RunStore
let children: FakeChild[]
let events: HostEvent[]
const spawn: Spawner = () => {
  const c = new FakeChild()
  children.push(c)
  return c
}

function host(opts: { maxConcurrent?: number; cancelGraceMs?: number } = {}): TrainingHost {
  const h = new TrainingHost({ runs, dataDir: dir, spawn, batchEventsPerSecond: 1000, ...opts })
  h.subscribe((e) => events.push(e))
  return h
}

function started(c: FakeChild): void {
  c.say({ type: 'started', backend: 'cpu', device: null, versions: { tfjs: 'x' }, reason: 'test' })
}

function epoch(c: FakeChild, runId: number, n: number): void {
  const staged = writeCheckpoint(join(runs.stagingDir(runId), `epoch-${n}-last`))
  c.say({ type: 'epoch', epoch: epochRecord(n), confusion: confusion(), predictions: Buffer.alloc(100).toString('base64'), isBest: false, checkpoints: [{ kind: 'last', stagedDir: staged }] })
}

function done(c: FakeChild, status: 'completed' | 'cancelled', epochsDone: number): void {
  c.say({ type: 'done', status, epochsDone, bestEpoch: epochsDone || null, bestValAcc: epochsDone ? 0.5 : null, examplesPerSec: 100, test: null })
}

const statuses = (runId: number) => events.filter((e) => e.type === 'status' && e.runId === runId).map((e) => (e as { status: string }).status)

beforeEach(() => {
  dir = tempDir('host-')
  runs = RunStore.open(dir)
  children = []
  events = []
})
afterEach(() => {
  runs.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('TrainingHost over a fake child', () => {
  it('queues runs beyond maxConcurrent and starts the next one when a slot frees, in order', async () => {
    const h = host({ maxConcurrent: 1 })
    const a = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const b = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const c = h.start(config(), { classes: CLASSES, paramCount: 1 })
    expect(children).toHaveLength(1)
    expect(children[0].received[0]).toMatchObject({ type: 'start', runId: a.id })
    started(children[0])
    expect(runs.get(a.id).status).toBe('running')
    done(children[0], 'completed', 0)
    await tick()
    expect(children).toHaveLength(2)
    expect(children[1].received[0]).toMatchObject({ type: 'start', runId: b.id })
    done(children[1], 'completed', 0)
    await tick()
    expect(children[2].received[0]).toMatchObject({ type: 'start', runId: c.id })
    expect(statuses(a.id)).toEqual(['queued', 'running', 'completed'])
    expect(statuses(b.id)).toEqual(['queued', 'completed'])
  })

  it('status events carry the record: the backend once running, the final fields once finished', async () => {
    const h = host()
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const c = children[0]
    started(c)
    epoch(c, run.id, 1)
    done(c, 'completed', 1)
    await h.whenFinished(run.id)
    const st = events.filter((e): e is Extract<HostEvent, { type: 'status' }> => e.type === 'status')
    expect(st.map((e) => [e.status, e.run.status])).toEqual([
      ['queued', 'queued'],
      ['running', 'running'],
      ['completed', 'completed']
    ])
    expect(st[1].run.backend).toBe('cpu')
    expect(st[2].run.epochsDone).toBe(1)
    expect(st[2].run.bestEpoch).toBe(1)
  })

  it('a cancel the child honours in time ends the run cancelled, with its finished epoch kept', async () => {
    const h = host({ cancelGraceMs: 5_000 })
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const c = children[0]
    started(c)
    epoch(c, run.id, 1)
    c.onCancel = () => done(c, 'cancelled', 1)
    const final = await h.cancel(run.id)
    expect(final.status).toBe('cancelled')
    expect(final.epochsDone).toBe(1)
    expect(c.kills).toEqual(['SIGTERM'])
  })

  it('a child that ignores the cancel is killed after the grace period, and the run ends cancelled', async () => {
    const h = host({ cancelGraceMs: 30 })
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const c = children[0]
    started(c)
    const t0 = Date.now()
    const final = await h.cancel(run.id)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25)
    expect(c.kills).toEqual(['SIGKILL'])
    expect(final.status).toBe('cancelled')
  })

  it('a queued run is cancelled at once, without a process', async () => {
    const h = host({ maxConcurrent: 1 })
    h.start(config(), { classes: CLASSES, paramCount: 1 })
    const queued = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const final = await h.cancel(queued.id)
    expect(final.status).toBe('cancelled')
    expect(children).toHaveLength(1)
  })

  it('a child that dies mid-run fails the run with the reason and starts the next queued one', async () => {
    const h = host({ maxConcurrent: 1 })
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const next = h.start(config(), { classes: CLASSES, paramCount: 1 })
    started(children[0])
    epoch(children[0], run.id, 1)
    children[0].exit(null, 'SIGSEGV')
    const final = await h.whenFinished(run.id)
    expect(final.status).toBe('failed')
    expect(final.error).toBe('The training process killed by SIGSEGV before the run finished.')
    expect(final.epochsDone).toBe(1)
    expect(children[1].received[0]).toMatchObject({ type: 'start', runId: next.id })
  })

  it('a recording failure (a staged checkpoint that is not there) fails the run, kills the child and says why', async () => {
    const h = host()
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const c = children[0]
    started(c)
    c.say({ type: 'epoch', epoch: epochRecord(1), confusion: confusion(), predictions: '', isBest: false, checkpoints: [{ kind: 'last', stagedDir: join(dir, 'nowhere') }] })
    const final = await h.whenFinished(run.id)
    expect(final.status).toBe('failed')
    expect(final.error).toBeTruthy()
    expect(c.kills).toContain('SIGKILL')
  })

  it('keeps the inspection data an epoch and the test result bring; a malformed one is dropped and the run goes on', async () => {
    const h = host()
    const run = h.start(config({ epochs: 2 }), { classes: CLASSES, paramCount: 1 })
    const c = children[0]
    started(c)
    const f32 = (xs: number[]) => Buffer.from(Float32Array.from(xs).buffer).toString('base64')
    const histograms = [{ layer: 'Conv2d-1', kind: 'weight' as const, min: -1, max: 1, counts: [1, 2] }]
    const filters = { epoch: 1, layer: 'Conv2d-1', shape: [1, 1, 1, 1] as [number, number, number, number], values: [0.5] }
    const checkpoint = (n: number) => [{ kind: 'last' as const, stagedDir: writeCheckpoint(join(runs.stagingDir(run.id), `epoch-${n}-last`)) }]
    const predictions = Buffer.alloc(2).toString('base64')
    c.say({ type: 'epoch', epoch: epochRecord(1), confusion: confusion(), predictions, isBest: true, checkpoints: checkpoint(1), inspection: { histograms, filters, trueProbabilities: f32([0.25, 0.75]) } })
    // Three bytes are no float32 array: decoding throws; the epoch is still recorded.
    c.say({ type: 'epoch', epoch: epochRecord(2), confusion: confusion(), predictions, isBest: false, checkpoints: checkpoint(2), inspection: { histograms, filters: null, trueProbabilities: 'AAAA' } })
    c.say({
      type: 'done',
      status: 'completed',
      epochsDone: 2,
      bestEpoch: 1,
      bestValAcc: 0.5,
      examplesPerSec: 100,
      test: { loss: 1, acc: 0.5, confusion: confusion(), precision: [], recall: [], predictions, labels: predictions, trueProbabilities: f32([0.5, 0.125]) }
    })
    const final = await h.whenFinished(run.id)
    expect(final.status).toBe('completed')
    expect(final.epochsDone).toBe(2)
    expect(runs.histograms(run.id)).toEqual([{ epoch: 1, histograms }])
    expect(runs.filters(run.id)).toEqual([filters])
    expect(runs.trueProbabilities(run.id, 1)).toEqual(Float32Array.from([0.25, 0.75]))
    expect(() => runs.trueProbabilities(run.id, 2)).toThrow(/kept no probabilities/)
    expect(runs.trueProbabilities(run.id, 'test')).toEqual(Float32Array.from([0.5, 0.125]))
  })

  it('an error message from the child fails the run with that message', async () => {
    const h = host()
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    started(children[0])
    children[0].say({ type: 'error', message: 'Dataset mnist-sample is damaged: truncated.' })
    const final = await h.whenFinished(run.id)
    expect(final.status).toBe('failed')
    expect(final.error).toBe('Dataset mnist-sample is damaged: truncated.')
  })

  it('a spawner that throws fails the run instead of the host', async () => {
    const h = new TrainingHost({
      runs,
      dataDir: dir,
      spawn: () => {
        throw new Error('EAGAIN: too many processes')
      }
    })
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const final = await h.whenFinished(run.id)
    expect(final.status).toBe('failed')
    expect(final.error).toContain('EAGAIN')
  })

  it('close() kills every child and ends their runs interrupted, queued ones too; start is refused after', async () => {
    const h = host({ maxConcurrent: 1 })
    const a = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const b = h.start(config(), { classes: CLASSES, paramCount: 1 })
    started(children[0])
    await h.close()
    expect(runs.get(a.id).status).toBe('interrupted')
    expect(runs.get(a.id).error).toBe('Conv Studio was closed while this run was training.')
    expect(runs.get(b.id).status).toBe('interrupted')
    expect(children[0].kills).toContain('SIGKILL')
    expect(() => h.start(config(), { classes: CLASSES, paramCount: 1 })).toThrow(/shutting down/)
  })

  it('thins batch events but records every step', async () => {
    const h = new TrainingHost({ runs, dataDir: dir, spawn, batchEventsPerSecond: 1 })
    const got: HostEvent[] = []
    h.subscribe((e) => got.push(e))
    const run = h.start(config(), { classes: CLASSES, paramCount: 1 })
    const c = children[0]
    started(c)
    for (let i = 1; i <= 120; i++) c.say({ type: 'batch', epoch: 1, batch: i, x: i / 120, loss: 1, acc: 0.5, examplesPerSec: 10, etaSeconds: 1 })
    done(c, 'completed', 0)
    await h.whenFinished(run.id)
    expect(got.filter((e) => e.type === 'batch').length).toBe(1)
    expect(runs.curves(run.id, 100_000).totalSteps).toBe(120)
  })
})
