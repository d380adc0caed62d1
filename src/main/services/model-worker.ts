// Predictions and inspections for the window (a dropped picture, a confusion cell's probabilities,
// one image seen through every layer) run in a worker process, never in the host: in the desktop
// app the host is Electron's main process, and a model forward pass there (AlexNet: seconds on the
// JS backend) would freeze every window. One worker is started on first use, keeps its loaded
// models between calls, and is stopped when idle; a worker that dies fails only the calls in
// flight, and the next call starts a new one.
import { StudioError, type ErrorCode } from '../../shared/contract'
import type { InspectResult, PredictResult } from '../../shared/domain'
import type { CheckpointKind, DatasetStyle } from '../../shared/schemas'
import { float32FromBase64, toBase64, type ChildHandle, type FromChild, type PredictJob, type Spawner } from '../training-protocol'
import type { RunStore } from './runs'

export interface ModelWorkerOptions {
  spawn: Spawner
  runs: Pick<RunStore, 'get' | 'weightsDir'>
  /** The dataset's style, from the dataset store (the worker does not read the catalogue). */
  styleOf: (datasetId: string) => Promise<DatasetStyle>
  /** Stop the worker after this long without a call (it holds the loaded models). */
  idleMs?: number
  /** A call that takes longer fails and the worker is replaced. */
  timeoutMs?: number
}

type Answer = Extract<FromChild, { type: 'predicted' | 'probabilities' | 'inspected' | 'predictFailed' }>

interface Pending {
  resolve(msg: Answer): void
  reject(err: Error): void
  timer: ReturnType<typeof setTimeout>
}

export class ModelWorker {
  private readonly spawn: Spawner
  private readonly runs: ModelWorkerOptions['runs']
  private readonly styleOf: ModelWorkerOptions['styleOf']
  private readonly idleMs: number
  private readonly timeoutMs: number
  private child: ChildHandle | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private idleTimer: ReturnType<typeof setTimeout> | null = null
  private closed = false

  constructor(opts: ModelWorkerOptions) {
    this.spawn = opts.spawn
    this.runs = opts.runs
    this.styleOf = opts.styleOf
    this.idleMs = opts.idleMs ?? 5 * 60_000
    this.timeoutMs = opts.timeoutMs ?? 120_000
  }

  /** The worker's pid while one runs (tests prove the work leaves the host). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  async predictFile(runId: number, weights: CheckpointKind, fileName: string, bytes: Uint8Array, topK: number): Promise<PredictResult> {
    const answer = await this.call(runId, weights, { kind: 'file', fileName, bytes: toBase64(bytes), topK })
    if (answer.type !== 'predicted') throw new StudioError('internal', 'The model worker answered a prediction with probabilities.')
    return answer.result
  }

  /** Probabilities for raw dataset images (count*size*size bytes), count*numClasses floats. */
  async predictPixels(runId: number, weights: CheckpointKind, images: Uint8Array, count: number, size: number): Promise<Float32Array> {
    const answer = await this.call(runId, weights, { kind: 'pixels', images: toBase64(images), count, size })
    if (answer.type !== 'probabilities') throw new StudioError('internal', 'The model worker answered probabilities with a prediction.')
    return float32FromBase64(answer.probabilities)
  }

  /** One dropped file seen through the network: layer outputs, Grad-CAM and saliency for `classIndex` (null: the predicted class). */
  async inspectFile(runId: number, weights: CheckpointKind, fileName: string, bytes: Uint8Array, classIndex: number | null): Promise<InspectResult> {
    return this.inspected(await this.call(runId, weights, { kind: 'inspect', source: { fileName, bytes: toBase64(bytes) }, classIndex }))
  }

  /** One dataset example (size*size*channels bytes, IDX convention) seen through the network. */
  async inspectPixels(runId: number, weights: CheckpointKind, pixels: Uint8Array, size: number, classIndex: number | null): Promise<InspectResult> {
    return this.inspected(await this.call(runId, weights, { kind: 'inspect', source: { pixels: toBase64(pixels), size }, classIndex }))
  }

  close(): void {
    this.closed = true
    this.stop(new StudioError('unavailable', 'Conv Studio is shutting down.'))
  }

  // -------------------------------------------------------------------------------------------

  private inspected(answer: Answer): InspectResult {
    if (answer.type !== 'inspected') throw new StudioError('internal', `The model worker answered an inspection with '${answer.type}'.`)
    return answer.result
  }

  private async call(runId: number, weights: CheckpointKind, job: PredictJob): Promise<Answer> {
    if (this.closed) throw new StudioError('unavailable', 'Conv Studio is shutting down.')
    const record = this.runs.get(runId)
    const run = { record, weights, dir: this.runs.weightsDir(runId, weights), style: await this.styleOf(record.config.dataset) }
    const child = this.ensureChild()
    const id = this.nextId++
    const answer = await new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop(new StudioError('unavailable', `The prediction took longer than ${Math.round(this.timeoutMs / 1000)} s.`))
      }, this.timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      this.clearIdle()
      child.send({ type: 'predict', id, run, job })
    })
    if (answer.type === 'predictFailed') throw new StudioError(answer.code as ErrorCode, answer.message)
    return answer
  }

  private ensureChild(): ChildHandle {
    if (this.child) return this.child
    const child = this.spawn()
    this.child = child
    child.onMessage((msg) => {
      if (msg.type !== 'predicted' && msg.type !== 'probabilities' && msg.type !== 'inspected' && msg.type !== 'predictFailed') return
      const p = this.pending.get(msg.id)
      if (!p) return
      this.pending.delete(msg.id)
      clearTimeout(p.timer)
      p.resolve(msg)
      if (this.pending.size === 0) this.armIdle()
    })
    child.onExit((code, signal) => {
      if (this.child !== child) return
      this.child = null
      const why = signal ? `was killed by ${signal}` : `exited with code ${code}`
      this.failAll(new StudioError('unavailable', `The model worker ${why} during the prediction; try again.`))
    })
    return child
  }

  private stop(err: Error): void {
    this.clearIdle()
    const child = this.child
    this.child = null
    child?.kill('SIGKILL')
    this.failAll(err)
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.pending.clear()
  }

  private armIdle(): void {
    this.clearIdle()
    this.idleTimer = setTimeout(() => {
      if (this.pending.size === 0) this.stop(new StudioError('unavailable', 'The model worker was idle.'))
    }, this.idleMs)
    // An idle worker must not keep a CLI or test process alive.
    this.idleTimer.unref?.()
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer)
    this.idleTimer = null
  }
}
