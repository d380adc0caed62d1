// TrainingHost: one child process per run. The child loads the data, picks the backend and trains;
// this side is the only writer of the run store, relays the child's events to subscribers (thinned
// to what a UI can draw), queues runs beyond `maxConcurrent`, cancels within a second and notices a
// child that died. Nothing a child does can take the host down with it.
import { fork } from 'node:child_process'
import { Transform } from 'node:stream'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { StudioError } from '../../shared/contract'
import type { ActiveRun, BatchEvent, EpochRecord, RunRecord, RunStatusEvent, StepPoint, TrainStartInfo } from '../../shared/domain'
import type { TrainConfig } from '../../shared/schemas'
import { float32FromBase64, fromBase64, lowerPriority, omitType, type ChildHandle, type FromChild, type Spawner, type ToChild } from '../training-protocol'
import type { RunStore } from './runs'

/** The entry as source, run through tsx (Node hosts: web mode, CLI, tests). */
export const trainingEntrySource = fileURLToPath(new URL('../training-process.ts', import.meta.url))

/** tsx's loader as an absolute URL: `--import tsx` would resolve from the cwd, which may be anywhere. */
export function tsxLoaderUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
}

/**
 * TensorFlow writes absl-format notes to stderr before its log level applies ("All log messages
 * before absl::InitializeLog() ...", "I0000 ... port.cc] oneDNN custom operations are on"): they
 * are for TensorFlow's developers and reached every CLI user on every run. Lines of that shape at
 * INFO or WARNING level are dropped; errors and everything else pass. CONV_STUDIO_NATIVE_LOGS=1
 * keeps them all.
 */
export function withoutNativeNoise(): Transform {
  const keepAll = process.env.CONV_STUDIO_NATIVE_LOGS === '1'
  const noise = [/^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/, /^[IW]\d{4} [\d:.]+\s+\d+ [\w.-]+:\d+\] /]
  let partial = ''
  const keep = (line: string) => keepAll || !noise.some((re) => re.test(line))
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const lines = (partial + chunk.toString('utf8')).split('\n')
      partial = lines.pop() ?? ''
      const out = lines.filter(keep)
      done(null, out.length ? out.join('\n') + '\n' : undefined)
    },
    flush(done) {
      done(null, partial && keep(partial) ? partial : undefined)
    }
  })
}

export function nodeSpawner(entry: string = trainingEntrySource): Spawner {
  return () => {
    const child = fork(entry, [], {
      execArgv: entry.endsWith('.ts') ? ['--import', tsxLoaderUrl()] : [],
      // stdout is the CLI's (JSON lines); the child's chatter (tfjs banners) goes to stderr, less
      // the native libraries' start-up notes (see withoutNativeNoise).
      stdio: ['ignore', process.stderr, 'pipe', 'ipc'],
      serialization: 'json'
    })
    child.stderr?.pipe(withoutNativeNoise()).pipe(process.stderr, { end: false })
    // Lowered from here, at once: the child's own setPriority runs only after its imports, and
    // loading them (tsx, tfjs, the native addon) is the heaviest second of a run, right when the
    // window swaps to the Live view.
    if (child.pid !== undefined) lowerPriority(child.pid)
    let exited = false
    return {
      pid: child.pid,
      send: (msg) => {
        if (child.connected) child.send(msg)
      },
      onMessage: (fn) => child.on('message', (m) => fn(m as FromChild)),
      onExit: (fn) =>
        child.once('exit', (code, signal) => {
          if (exited) return
          exited = true
          fn(code, signal)
        }),
      kill: (signal = 'SIGKILL') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What the host tells its listeners (the services map these onto contract events; the CLI draws them).

export type HostEvent =
  | ({ type: 'status' } & RunStatusEvent)
  | { type: 'started'; runId: number; backend: string; device: string | null; reason: string }
  | ({ type: 'info'; runId: number } & TrainStartInfo)
  /** Thinned: at most `batchEventsPerSecond` per run reach listeners (every batch is still recorded). */
  | ({ type: 'batch' } & BatchEvent)
  | { type: 'epoch'; runId: number; epoch: EpochRecord }
  | { type: 'finished'; runId: number; run: RunRecord }

export interface TrainingHostOptions {
  runs: RunStore
  dataDir: string
  spawn?: Spawner
  /** Where a run trains when not in `spawn`'s process: the browser-GPU backend's worker (per run, by its config). */
  spawnFor?: (config: TrainConfig) => Spawner | null
  maxConcurrent?: number
  batchEventsPerSecond?: number
  /** How long a cancelled child may take to stop before it is killed (ms). */
  cancelGraceMs?: number
}

interface ActiveState {
  runId: number
  config: TrainConfig
  child: ChildHandle | null
  steps: StepPoint[]
  pendingSteps: StepPoint[]
  epochs: EpochRecord[]
  lastBatchEmit: number
  cancelRequested: boolean
  cancelTimer: ReturnType<typeof setTimeout> | null
  settled: boolean
  /** Continue after the last finished epoch from these folders (resume), or null. */
  resume: { lastDir: string; bestDir: string } | null
  /** Start from the weights in this checkpoint folder (fine-tune), or null. */
  initFrom: string | null
  /** Resolves when the run reaches a final status. */
  finished: Promise<RunRecord>
  resolveFinished: (r: RunRecord) => void
}

const STEP_FLUSH = 50

export class TrainingHost {
  private readonly runs: RunStore
  private readonly dataDir: string
  private readonly spawn: Spawner
  private readonly spawnFor: (config: TrainConfig) => Spawner | null
  private readonly maxConcurrent: number
  private readonly batchInterval: number
  private readonly cancelGraceMs: number
  private readonly listeners = new Set<(e: HostEvent) => void>()
  private readonly active = new Map<number, ActiveState>()
  private readonly queue: number[] = []
  private closed = false

  constructor(opts: TrainingHostOptions) {
    this.runs = opts.runs
    this.dataDir = opts.dataDir
    this.spawn = opts.spawn ?? nodeSpawner()
    this.spawnFor = opts.spawnFor ?? (() => null)
    this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? 1)
    this.batchInterval = 1000 / Math.max(1, opts.batchEventsPerSecond ?? 10)
    // The issue promises a cancel within 1 s: a child that has not stopped cooperatively by then is killed.
    this.cancelGraceMs = opts.cancelGraceMs ?? 700
  }

  subscribe(fn: (e: HostEvent) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Records the run (status 'queued') and starts it as soon as a slot is free. */
  start(
    config: TrainConfig,
    opts: { name?: string; classes: string[]; paramCount: number; initFrom?: { runId: number; dir: string }; sweepId?: number }
  ): RunRecord {
    if (this.closed) throw new StudioError('unavailable', 'The training host is shutting down.')
    const run = this.runs.create(config, opts)
    return this.enqueue(run, config, { resume: null, initFrom: opts.initFrom?.dir ?? null, steps: [], epochs: [] })
  }

  /**
   * Continues an interrupted, cancelled or failed run in place (same id) after its last finished
   * epoch, through the same queue; its curve so far stays and goes on.
   */
  resume(runId: number): RunRecord {
    if (this.closed) throw new StudioError('unavailable', 'The training host is shutting down.')
    if (this.active.get(runId)?.settled === false) throw new StudioError('conflict', `Run ${runId} is training already.`)
    const { run, resume } = this.runs.reopenForResume(runId)
    const sofar = this.runs.curves(runId)
    return this.enqueue(run, run.config, { resume, initFrom: null, steps: sofar.steps, epochs: sofar.epochs })
  }

  private enqueue(
    run: RunRecord,
    config: TrainConfig,
    from: { resume: ActiveState['resume']; initFrom: string | null; steps: StepPoint[]; epochs: EpochRecord[] }
  ): RunRecord {
    let resolveFinished: (r: RunRecord) => void = () => {}
    const finished = new Promise<RunRecord>((resolve) => (resolveFinished = resolve))
    this.active.set(run.id, {
      runId: run.id,
      config,
      child: null,
      steps: from.steps,
      pendingSteps: [],
      epochs: from.epochs,
      resume: from.resume,
      initFrom: from.initFrom,
      lastBatchEmit: 0,
      cancelRequested: false,
      cancelTimer: null,
      settled: false,
      finished,
      resolveFinished
    })
    this.queue.push(run.id)
    this.emit({ type: 'status', runId: run.id, status: 'queued', error: null, run })
    this.pump()
    return run
  }

  /** Resolves with the final record once the run completes, fails or is cancelled. */
  whenFinished(runId: number): Promise<RunRecord> {
    const s = this.active.get(runId)
    if (s) return s.finished
    return Promise.resolve(this.runs.get(runId))
  }

  /** Stops a run: a queued one at once, a training one within about `cancelGraceMs`. */
  async cancel(runId: number): Promise<RunRecord> {
    const s = this.active.get(runId)
    if (!s || s.settled) {
      const run = this.runs.get(runId)
      throw new StudioError('conflict', `Run ${runId} is not training (its status is '${run.status}').`)
    }
    if (!s.child) {
      const i = this.queue.indexOf(runId)
      if (i >= 0) this.queue.splice(i, 1)
      this.settle(s, { status: 'cancelled' })
      return s.finished
    }
    if (!s.cancelRequested) {
      s.cancelRequested = true
      s.child.send({ type: 'cancel' })
      s.cancelTimer = setTimeout(() => s.child?.kill('SIGKILL'), this.cancelGraceMs)
    }
    return s.finished
  }

  activeRuns(): ActiveRun[] {
    const out: ActiveRun[] = []
    for (const s of this.active.values()) {
      if (s.settled) continue
      out.push({ run: this.runs.get(s.runId), steps: [...s.steps], epochs: [...s.epochs] })
    }
    return out
  }

  /** The pid of a run's training process (tests kill it to prove the host survives). */
  childPid(runId: number): number | undefined {
    return this.active.get(runId)?.child?.pid
  }

  /** Stops every child; their runs end 'interrupted' with a sentence saying why. */
  async close(): Promise<void> {
    this.closed = true
    const waits: Promise<RunRecord>[] = []
    for (const s of [...this.active.values()]) {
      if (s.settled) continue
      s.child?.kill('SIGKILL')
      this.settle(s, { status: 'interrupted', error: 'Conv Studio was closed while this run was training.' })
      waits.push(s.finished)
    }
    this.queue.length = 0
    await Promise.all(waits)
  }

  // -------------------------------------------------------------------------------------------

  private emit(e: HostEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e)
      } catch (err) {
        console.error('[training] a listener threw:', err)
      }
    }
  }

  private runningCount(): number {
    let n = 0
    for (const s of this.active.values()) if (s.child && !s.settled) n++
    return n
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.runningCount() < this.maxConcurrent) {
      const runId = this.queue.shift() as number
      const s = this.active.get(runId)
      if (!s || s.settled) continue
      this.launch(s)
    }
  }

  private launch(s: ActiveState): void {
    let child: ChildHandle
    try {
      child = (this.spawnFor(s.config) ?? this.spawn)()
    } catch (err) {
      // A StudioError is already a sentence for the person (no browser window with a GPU is open).
      this.settle(s, { status: 'failed', error: err instanceof StudioError ? err.message : `Could not start the training process: ${(err as Error).message}` })
      return
    }
    s.child = child
    child.onMessage((msg) => {
      try {
        this.onChildMessage(s, msg)
      } catch (err) {
        // Recording failed (disk full, read-only folder): stop the run cleanly and say why.
        const message = err instanceof StudioError ? err.message : `Recording the run failed: ${(err as Error).message}`
        // A StudioError is a sentence for the user; it becomes the run's error, printed once by whoever shows the run.
        if (!(err instanceof StudioError)) console.error(`[training] run ${s.runId}:`, err)
        child.kill('SIGKILL')
        this.settle(s, { status: 'failed', error: message })
      }
    })
    child.onExit((code, signal, interrupted) => this.onChildExit(s, code, signal, interrupted))
    try {
      child.send({
        type: 'start',
        runId: s.runId,
        config: s.config,
        dataDir: this.dataDir,
        stagingDir: this.runs.stagingDir(s.runId),
        ...(s.resume ? { resume: s.resume } : {}),
        ...(s.initFrom ? { initFrom: { dir: s.initFrom } } : {})
      })
    } catch (err) {
      child.kill('SIGKILL')
      this.settle(s, { status: 'failed', error: `Could not start the training process: ${(err as Error).message}` })
    }
  }

  private onChildMessage(s: ActiveState, msg: FromChild): void {
    if (s.settled) return
    switch (msg.type) {
      case 'started':
        this.runs.markStarted(s.runId, { backend: msg.backend, device: msg.device, libVersions: msg.versions })
        this.emit({ type: 'started', runId: s.runId, backend: msg.backend, device: msg.device, reason: msg.reason })
        this.emit({ type: 'status', runId: s.runId, status: 'running', error: null, run: this.runs.get(s.runId) })
        return
      case 'info':
        this.emit({ type: 'info', runId: s.runId, ...omitType(msg) })
        return
      case 'batch': {
        const point = { x: msg.x, loss: msg.loss, acc: msg.acc }
        s.steps.push(point)
        s.pendingSteps.push(point)
        if (s.pendingSteps.length >= STEP_FLUSH) this.flushSteps(s)
        const now = Date.now()
        if (now - s.lastBatchEmit >= this.batchInterval) {
          s.lastBatchEmit = now
          this.emit({ type: 'batch', runId: s.runId, ...omitType(msg) })
        }
        return
      }
      case 'epoch':
        this.flushSteps(s)
        this.runs.recordEpoch(s.runId, msg.epoch, msg.confusion, fromBase64(msg.predictions), msg.checkpoints)
        if (msg.inspection) {
          const i = msg.inspection
          this.recordInspection(s.runId, msg.epoch.epoch, () => ({ histograms: i.histograms, filters: i.filters, trueProbabilities: float32FromBase64(i.trueProbabilities) }))
        }
        s.epochs.push(msg.epoch)
        this.emit({ type: 'epoch', runId: s.runId, epoch: msg.epoch })
        return
      case 'done': {
        this.flushSteps(s)
        let test = null
        if (msg.test) {
          const { trueProbabilities, ...rest } = msg.test
          test = { ...rest, predictions: fromBase64(rest.predictions), labels: fromBase64(rest.labels) }
          if (trueProbabilities) this.recordInspection(s.runId, 'test', () => ({ trueProbabilities: float32FromBase64(trueProbabilities) }))
        }
        this.settle(s, {
          status: msg.status,
          bestEpoch: msg.bestEpoch,
          bestValAcc: msg.bestValAcc,
          examplesPerSec: msg.examplesPerSec,
          test
        })
        // The child's work is over; it need not linger until it notices.
        s.child?.kill('SIGTERM')
        return
      }
      case 'error':
        this.flushSteps(s)
        this.settle(s, { status: s.cancelRequested ? 'cancelled' : 'failed', error: s.cancelRequested ? null : msg.message })
        s.child?.kill('SIGTERM')
        return
      default:
        return
    }
  }

  private onChildExit(s: ActiveState, code: number | null, signal: string | null, interrupted?: string): void {
    if (s.cancelTimer) clearTimeout(s.cancelTimer)
    if (!s.settled) {
      if (interrupted && !s.cancelRequested) {
        this.settle(s, { status: 'interrupted', error: interrupted })
      } else if (s.cancelRequested) {
        this.settle(s, { status: 'cancelled' })
      } else {
        const why = signal ? `killed by ${signal}` : `exited with code ${code}`
        this.settle(s, { status: 'failed', error: `The training process ${why} before the run finished.` })
      }
    }
    this.active.delete(s.runId)
    this.pump()
  }

  /**
   * Inspection data is an extra: a failure to decode or keep it (a browser worker's bad base64
   * included) is logged, never the end of the run.
   */
  private recordInspection(runId: number, epoch: number | 'test', data: () => Parameters<RunStore['recordInspection']>[2]): void {
    try {
      this.runs.recordInspection(runId, epoch, data())
    } catch (err) {
      console.error(`[training] run ${runId}: could not keep the inspection data of ${epoch === 'test' ? 'the test set' : `epoch ${epoch}`}: ${(err as Error).message}`)
    }
  }

  private flushSteps(s: ActiveState): void {
    if (s.pendingSteps.length === 0) return
    const points = s.pendingSteps.splice(0)
    this.runs.recordSteps(s.runId, points)
  }

  private settle(s: ActiveState, r: Parameters<RunStore['finish']>[1]): void {
    if (s.settled) return
    s.settled = true
    if (s.cancelTimer && r.status !== 'cancelled') clearTimeout(s.cancelTimer)
    let run: RunRecord
    try {
      this.flushSteps(s)
    } catch (err) {
      console.error(`[training] run ${s.runId}: could not record the last steps: ${(err as Error).message}`)
    }
    try {
      run = this.runs.finish(s.runId, r)
    } catch (err) {
      // The store still reports the run as ended (failed, with the cause) and keeps the cause for the next open.
      if (!(err instanceof StudioError)) console.error(`[training] run ${s.runId}: could not record its end:`, err)
      run = this.runs.get(s.runId)
    }
    if (!s.child) this.active.delete(s.runId)
    this.emit({ type: 'status', runId: s.runId, status: run.status, error: run.error, run })
    this.emit({ type: 'finished', runId: s.runId, run })
    s.resolveFinished(run)
    this.pump()
  }
}

/** Runs a one-off job (backend probe or benchmark) in a training process, so native code never loads here. */
export function runChildJob<T extends 'report' | 'benchmark'>(
  spawn: Spawner,
  msg: ToChild,
  expect: T,
  timeoutMs: number
): Promise<Extract<FromChild, { type: T }>> {
  return new Promise((resolve, reject) => {
    const child = spawn()
    let done = false
    const timer = setTimeout(() => {
      finish(new StudioError('unavailable', `The backend ${expect === 'report' ? 'probe' : 'benchmark'} took longer than ${Math.round(timeoutMs / 1000)} s.`))
      child.kill('SIGKILL')
    }, timeoutMs)
    const finish = (err: Error | null, value?: Extract<FromChild, { type: T }>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (err) reject(err)
      else resolve(value as Extract<FromChild, { type: T }>)
    }
    child.onMessage((m) => {
      if (m.type === expect) {
        finish(null, m as Extract<FromChild, { type: T }>)
        child.kill('SIGTERM')
      } else if (m.type === 'error') {
        finish(new StudioError('unavailable', m.message))
        child.kill('SIGTERM')
      }
    })
    child.onExit((code, signal) =>
      finish(new StudioError('unavailable', `The backend process ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before it answered.`))
    )
    child.send(msg)
  })
}
