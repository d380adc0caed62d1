// Training in a browser window's GPU, as TrainingHost sees it: one more ChildHandle. Its send()
// becomes a 'browserGpu.toWorker' event to the one window holding the run, and what that window's
// worker says comes back as 'browserGpu.post' calls on the same socket, translated into the very
// FromChild messages a Node child sends, so the host records a browser run exactly as a child's
// (one writer). Data and weights move over HTTP beside the socket (routes under
// filesHttp.workerRunPath, each guarded by the page's token and the run's own random key): the
// dataset's cached arrays once per run, each epoch's checkpoints into the host's staging folder.
// A window that closes (its socket goes) or a worker whose GPU device was lost ends the run
// 'interrupted' with the reason; the epochs recorded so far and their checkpoints stay.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { z } from 'zod'
import { filesHttp, methods, StudioError, type Reply } from '../../shared/contract'
import {
  BROWSER_WEBGPU,
  frame,
  unframe,
  workerKeyHeader,
  type BrowserGpuInfo,
  type CheckpointHeader,
  type DatasetHeader,
  type FromWorker,
  type PortToHost,
  type PortToWindow,
  type StartWeightsHeader,
  type ToWorker
} from '../../shared/browser-gpu'
import type { DatasetArrays } from '../../core/data/types'
import type { TrainState } from '../../core/training/resume-state'
import { MAX_MODEL_JSON_BYTES, MAX_WEIGHTS_BYTES, readCheckpoint, readTrainState, writeCheckpoint, writeTrainState } from '../storage/checkpoint'
import type { io } from '@tensorflow/tfjs'
import type { ChildHandle, FromChild, Spawner, ToChild } from '../training-protocol'

/** The reason a run ends with when its window goes away mid-run. */
export const TAB_CLOSED =
  'The browser tab training this run was closed (or lost its connection); the finished epochs and the best weights are kept.'

/** The same for the desktop app's hidden GPU window (electron-gpu-window.ts) when its port closes. */
export const GPU_WINDOW_CLOSED =
  "The desktop app's GPU window closed while training this run; the finished epochs and the best weights are kept."

export interface BrowserWorkersOptions {
  loadDataset(id: string): Promise<DatasetArrays>
  /** Where the last window's report is kept, so `conv-studio doctor` (no browser) can show it. */
  reportFile?: string
}

/** The last browser GPU a window reported, as kept in reportFile. */
export interface SavedBrowserGpu extends BrowserGpuInfo {
  reportedAt: string
}

/** Where a data folder keeps the last browser GPU report. */
export function browserGpuReportFile(dataDir: string): string {
  return join(dataDir, 'browser-gpu.json')
}

/** The report kept in `file`, or null when there is none or it is not one. */
export function readSavedBrowserGpu(file: string): SavedBrowserGpu | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as SavedBrowserGpu
    return v && typeof v.reportedAt === 'string' && typeof v.browser === 'string' ? v : null
  } catch {
    return null
  }
}

/** One window's end of it (a web-mode socket, or the desktop app's hidden window over a port). */
export interface WindowLink {
  readonly id: number
  /** A contract call this transport keeps for itself ('browserGpu.register' / 'browserGpu.post'). */
  handle(method: 'browserGpu.register' | 'browserGpu.post', rawArgs: unknown): Reply<null>
  /** The window is gone: its runs end interrupted, with `reason` (TAB_CLOSED unless told). */
  close(reason?: string): void
}

/**
 * A message port as the host holds it: Electron's MessagePortMain (its 'message' events carry
 * `{ data }`) or Node's worker_threads MessagePort (the value itself), adapted to this by the caller.
 */
export interface HostPort {
  postMessage(message: PortToWindow): void
  onMessage(fn: (data: unknown) => void): void
  /** The other end went away (the window closed or its process died). */
  onClose(fn: () => void): void
}

export interface BrowserWorkers {
  connect(send: (message: ToWorker) => void): WindowLink
  /**
   * A window on the other end of a port (the desktop app's hidden GPU window): the socket's
   * messages (PortToHost / PortToWindow), and the HTTP routes carried as requests. Closing the port
   * ends its runs with `closedReason`; the returned link's close() ends them with another reason.
   */
  connectPort(port: HostPort, closedReason?: string): WindowLink
  /** What the open windows reported, newest first. */
  list(): BrowserGpuInfo[]
  /** For TrainingHost: a handle on the newest window that has a WebGPU adapter (throws when none). */
  spawner: Spawner
  /** Answers a request under filesHttp.workerRunPath; false when the path is not one of these routes. */
  handleHttp(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean>
}

export const WORKER_CALLS = ['browserGpu.register', 'browserGpu.post'] as const
export function isWorkerCall(method: unknown): method is (typeof WORKER_CALLS)[number] {
  return (WORKER_CALLS as readonly unknown[]).includes(method)
}

// What a page relays is checked as strictly as a child's messages are trusted loosely: a window is
// a browser tab, so every field the host records is typed here.
const finite = z.number().refine(Number.isFinite, 'must be a finite number')
const base64 = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
const InspectionSchema = z
  .object({
    histograms: z
      .array(z.object({ layer: z.string().max(200), kind: z.enum(['weight', 'gradient']), min: finite, max: finite, counts: z.array(z.int().min(0)).max(1000) }).strict())
      .max(400),
    filters: z
      .object({ epoch: z.int().min(1), layer: z.string().max(200), shape: z.tuple([z.int().min(1), z.int().min(1), z.int().min(1), z.int().min(1)]), values: z.array(finite).max(1 << 20) })
      .strict()
      .nullable(),
    trueProbabilities: base64(64 * 1024 * 1024)
  })
  .strict()
const EpochSchema = z.object({
  type: z.literal('epoch'),
  epoch: z.object({ epoch: z.int().min(1), trainLoss: finite, trainAcc: finite, valLoss: finite, valAcc: finite, seconds: finite, examplesPerSec: finite }).strict(),
  confusion: z.array(z.array(z.int().min(0))).max(1000),
  predictions: z.string().max(64 * 1024 * 1024),
  isBest: z.boolean(),
  checkpoints: z.array(z.object({ kind: z.enum(['best', 'last']) }).strict()).max(2),
  inspection: InspectionSchema.optional()
})
const TestSchema = z.object({
  loss: finite,
  acc: finite,
  confusion: z.array(z.array(z.int().min(0))).max(1000),
  precision: z.array(z.number().nullable()),
  recall: z.array(z.number().nullable()),
  predictions: z.string(),
  labels: z.string(),
  trueProbabilities: base64(64 * 1024 * 1024).optional()
})
const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), backend: z.string().max(80), device: z.string().max(300).nullable(), versions: z.record(z.string().max(80), z.string().max(80)), reason: z.string().max(500) }),
  z.object({ type: z.literal('info'), paramCount: z.int().min(0), trainCount: z.int().min(0), valCount: z.int().min(0), testCount: z.int().min(0), stepsPerEpoch: z.int().min(0) }),
  z.object({ type: z.literal('batch'), epoch: z.int().min(1), batch: z.int().min(0), x: finite, loss: finite, acc: finite, examplesPerSec: finite, etaSeconds: finite.nullable() }),
  EpochSchema,
  z.object({
    type: z.literal('done'),
    status: z.enum(['completed', 'cancelled']),
    epochsDone: z.int().min(0),
    bestEpoch: z.int().min(1).nullable(),
    bestValAcc: z.number().nullable(),
    examplesPerSec: finite,
    test: TestSchema.nullable()
  }),
  z.object({ type: z.literal('error'), message: z.string().max(2000) }),
  z.object({ type: z.literal('lost'), message: z.string().max(2000) })
])

interface RunLink {
  runId: number
  key: string
  stagingDir: string
  config: Extract<ToChild, { type: 'start' }>['config']
  /** What a resumed or fine-tuned run starts from (served at <run>/from), as the host named it. */
  from: { resume?: { lastDir: string; bestDir: string }; initFrom?: { dir: string } } | null
  window: number
  uploaded: Set<string>
  deliver(msg: FromChild): void
  exit(interrupted?: string): void
}

function sameKey(given: unknown, key: string): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(key)
  return a.length === b.length && timingSafeEqual(a, b)
}

const refusal = (e: StudioError): Reply<null> => ({ ok: false, error: e.toValue() })

export function createBrowserWorkers(opts: BrowserWorkersOptions): BrowserWorkers {
  const windows = new Map<number, { send: (m: ToWorker) => void; info: BrowserGpuInfo | null; at: number }>()
  const runs = new Map<number, RunLink>()
  let nextWindow = 1
  let registrations = 0
  // The last dataset sent, encoded: a second run on it (the common case) costs no re-encoding.
  let encoded: { id: string; data: DatasetArrays; body: Uint8Array } | null = null

  function pickWindow(): number {
    let best: { id: number; at: number } | null = null
    for (const [id, w] of windows) if (w.info?.adapter && (!best || w.at > best.at)) best = { id, at: w.at }
    if (!best)
      throw new StudioError('unavailable', "No open browser window has a WebGPU adapter: open Conv Studio's web UI in Chrome or Edge, or choose another backend.")
    return best.id
  }

  function spawner(): ChildHandle {
    const windowId = pickWindow()
    const messageFns: ((m: FromChild) => void)[] = []
    const exitFns: ((code: number | null, signal: string | null, interrupted?: string) => void)[] = []
    let exited = false
    let run: RunLink | null = null
    const toWindow = (m: ToWorker) => windows.get(windowId)?.send(m)
    const exit = (interrupted?: string, signal: string | null = null) => {
      if (exited) return
      exited = true
      if (run) runs.delete(run.runId)
      // Asynchronous like a process's exit: the host may be in the middle of handling a message.
      setImmediate(() => exitFns.forEach((fn) => fn(interrupted ? null : 0, signal, interrupted)))
    }
    return {
      pid: undefined,
      send(msg) {
        if (exited) return
        if (msg.type === 'start') {
          run = {
            runId: msg.runId,
            key: randomBytes(18).toString('base64url'),
            stagingDir: msg.stagingDir,
            config: msg.config,
            from: msg.resume || msg.initFrom ? { resume: msg.resume, initFrom: msg.initFrom } : null,
            window: windowId,
            uploaded: new Set(),
            deliver: (m) => messageFns.forEach((fn) => fn(m)),
            exit: (why) => exit(why)
          }
          runs.set(msg.runId, run)
          const base = filesHttp.workerRunPath(msg.runId)
          toWindow({
            type: 'start',
            runId: msg.runId,
            config: msg.config,
            datasetUrl: `${base}/dataset`,
            checkpointUrl: `${base}/checkpoints`,
            key: run.key,
            ...(run.from ? { fromUrl: `${base}/from` } : {})
          })
        } else if (msg.type === 'cancel' && run) toWindow({ type: 'cancel', runId: run.runId })
        else setImmediate(() => messageFns.forEach((fn) => fn({ type: 'error', message: `A browser worker only trains; it cannot take a '${msg.type}' message.` })))
      },
      onMessage: (fn) => void messageFns.push(fn),
      onExit: (fn) => void exitFns.push(fn),
      kill(signal = 'SIGKILL') {
        if (exited) return
        if (run) toWindow({ type: 'stop', runId: run.runId })
        exit(undefined, signal)
      }
    }
  }

  function relay(windowId: number, runId: number, raw: unknown): Reply<null> {
    const run = runs.get(runId)
    if (!run || run.window !== windowId) return refusal(new StudioError('unauthorized', `This window is not training run ${runId}.`))
    const parsed = FromWorkerSchema.safeParse(raw)
    if (!parsed.success) {
      const why = parsed.error.issues[0]
      run.deliver({ type: 'error', message: `The browser worker sent a malformed '${String((raw as { type?: unknown }).type)}' message (${why?.path.join('.')}: ${why?.message}).` })
      return { ok: true, value: null }
    }
    const msg = parsed.data as FromWorker
    if (msg.type === 'lost') {
      run.exit(`The browser's GPU device was lost (${msg.message}); the finished epochs and the best weights are kept.`)
      return { ok: true, value: null }
    }
    if (msg.type === 'started') {
      // The backend is where the run trained, whatever the page calls it.
      run.deliver({ ...msg, backend: BROWSER_WEBGPU })
      return { ok: true, value: null }
    }
    if (msg.type === 'epoch') {
      const checkpoints: { kind: 'best' | 'last'; stagedDir: string }[] = []
      for (const { kind } of msg.checkpoints) {
        const dir = join(run.stagingDir, `epoch-${msg.epoch.epoch}-${kind}`)
        if (!run.uploaded.has(`${msg.epoch.epoch}-${kind}`) || !existsSync(dir)) {
          run.deliver({ type: 'error', message: `The browser worker reported epoch ${msg.epoch.epoch} without uploading its '${kind}' checkpoint.` })
          return { ok: true, value: null }
        }
        checkpoints.push({ kind, stagedDir: dir })
      }
      run.deliver({ ...msg, checkpoints })
      return { ok: true, value: null }
    }
    run.deliver(msg as FromChild)
    return { ok: true, value: null }
  }

  async function readBody(req: IncomingMessage, cap: number): Promise<Uint8Array | null> {
    const chunks: Buffer[] = []
    let n = 0
    for await (const c of req as AsyncIterable<Buffer>) {
      n += c.length
      // Past the cap the rest is read and dropped, so the answer reaches the page (no reset).
      if (n <= cap) chunks.push(c)
    }
    return n > cap ? null : new Uint8Array(Buffer.concat(chunks))
  }

  async function datasetBody(id: string): Promise<Uint8Array> {
    const data = await opts.loadDataset(id)
    // DatasetStore caches the arrays; the same object means the same data, already encoded.
    if (encoded?.id === id && encoded.data === data) return encoded.body
    const header: DatasetHeader = {
      id: data.id,
      title: data.title,
      classes: data.classes,
      style: data.style,
      train: { count: data.train.count, height: data.train.height, width: data.train.width },
      test: { count: data.test.count, height: data.test.height, width: data.test.width }
    }
    const body = frame(header, [data.train.images, data.train.labels, data.test.images, data.test.labels])
    encoded = { id, data, body }
    return body
  }

  /** The run's starting point, read as the Node worker reads it (training-process.ts loadResume). */
  function startWeightsBody(run: RunLink): Uint8Array {
    const asPart = (a: io.ModelArtifacts | null): [CheckpointHeader | null, Uint8Array] => {
      if (!a) return [null, new Uint8Array(0)]
      const data = a.weightData
      const bytes = data === undefined ? new Uint8Array(0) : new Uint8Array(Array.isArray(data) ? Buffer.concat(data.map((b) => Buffer.from(b))) : data)
      return [{ modelTopology: a.modelTopology, weightSpecs: a.weightSpecs ?? [], format: a.format, generatedBy: a.generatedBy, convertedBy: a.convertedBy ?? null }, bytes]
    }
    const r = run.from?.resume
    let state: TrainState | null = null
    let last: io.ModelArtifacts | null = null
    let best: io.ModelArtifacts | null = null
    if (r) {
      state = readTrainState(r.lastDir)
      if (!state) throw new StudioError('conflict', 'This run was recorded before runs kept their optimizer state, so it cannot continue exactly; train it again instead.')
      last = readCheckpoint(r.lastDir)
      best = state.bestEpoch === state.epoch ? null : readCheckpoint(r.bestDir)
    }
    const initial = run.from?.initFrom ? readCheckpoint(run.from.initFrom.dir) : null
    const slots = state ? new Uint8Array(Buffer.concat(state.optimizer.slots.map((x) => Buffer.from(x.values.buffer, x.values.byteOffset, x.values.byteLength)))) : new Uint8Array(0)
    const [lastH, lastB] = asPart(last)
    const [bestH, bestB] = asPart(best)
    const [initH, initB] = asPart(initial)
    const header: StartWeightsHeader = {
      state: state ? { ...state, optimizer: { ...state.optimizer, slots: state.optimizer.slots.map((x) => ({ name: x.name, shape: x.shape })) } } : null,
      last: lastH,
      best: bestH,
      initial: initH,
      lengths: [slots.length, lastB.length, bestB.length, initB.length]
    }
    return frame(header, [slots, lastB, bestB, initB])
  }

  /** A training state upload: train-state.json's fields as the header, the slots' float32 values after. */
  function keepTrainState(dir: string, body: Uint8Array): void {
    const { header, payload } = unframe<TrainState>(body, MAX_MODEL_JSON_BYTES)
    const slots = header?.optimizer?.slots
    if (!Array.isArray(slots)) throw new Error('no optimizer slots')
    const all = new Float32Array(payload.slice().buffer, 0, Math.floor(payload.length / 4))
    let at = 0
    const withValues = slots.map((slot) => {
      const n = Array.isArray(slot?.shape) ? slot.shape.reduce((a: number, b: number) => a * b, 1) : NaN
      if (!Number.isInteger(n) || n < 0 || at + n > all.length) throw new Error('the optimizer slots do not match their shapes')
      const values = all.slice(at, at + n)
      at += n
      return { name: String(slot.name), shape: slot.shape, values }
    })
    if (at * 4 !== payload.length) throw new Error('the optimizer slots do not match their shapes')
    writeTrainState(dir, { ...header, optimizer: { ...header.optimizer, slots: withValues } })
    // The reader is the check: what it refuses now would be refused at resume.
    try {
      readTrainState(dir)
    } catch (err) {
      rmSync(join(dir, 'train-state.json'), { force: true })
      throw err
    }
  }

  type Answer = { status: number; body: Uint8Array }
  const json = (status: number, reply: Reply<unknown>): Answer => ({ status, body: new TextEncoder().encode(JSON.stringify(reply)) })
  const ROUTE = /^\/files\/worker\/runs\/(\d{1,12})\/(dataset|from|checkpoints\/(\d{1,6})\/(best|last|state))$/

  /**
   * The worker's routes, whichever way the request came (HTTP in web mode, a port message in the
   * desktop app): the run's key, then its dataset, its starting weights, or an upload into staging.
   */
  async function route(method: string, pathname: string, key: unknown, body: (cap: number) => Promise<Uint8Array | null>): Promise<Answer | null> {
    const m = ROUTE.exec(pathname)
    if (!m) return null
    const run = runs.get(Number(m[1]))
    if (!run || !sameKey(key, run.key)) return json(403, refusal(new StudioError('unauthorized', 'This address belongs to a browser worker run that is not training here.')))
    if ((m[2] === 'dataset' || m[2] === 'from') && (method === 'GET' || method === 'HEAD')) {
      try {
        return { status: 200, body: m[2] === 'dataset' ? await datasetBody(run.config.dataset) : run.from ? startWeightsBody(run) : frame({ state: null, last: null, best: null, initial: null, lengths: [0, 0, 0, 0] }, []) }
      } catch (err) {
        return json(err instanceof StudioError && err.code === 'conflict' ? 409 : 500, refusal(err instanceof StudioError ? err : new StudioError('internal', `The run's files could not be read: ${(err as Error).message}.`)))
      }
    }
    if (m[3] && method === 'POST') {
      const bytes = await body(MAX_WEIGHTS_BYTES + MAX_MODEL_JSON_BYTES)
      if (!bytes) return json(413, refusal(new StudioError('too_large', 'The checkpoint is larger than a checkpoint may be.')))
      const epoch = Number(m[3])
      if (m[4] === 'state') {
        try {
          keepTrainState(join(run.stagingDir, `epoch-${epoch}-last`), bytes)
        } catch (err) {
          return json(400, refusal(new StudioError('invalid_argument', `The training state upload is not readable: ${(err as Error).message}.`)))
        }
        return json(200, { ok: true, value: null })
      }
      let header: CheckpointHeader
      let weights: Uint8Array
      try {
        ;({ header, payload: weights } = unframe<CheckpointHeader>(bytes, MAX_MODEL_JSON_BYTES))
        if (!header || typeof header.modelTopology !== 'object' || !Array.isArray(header.weightSpecs)) throw new Error('no model topology or weight specs')
      } catch (err) {
        return json(400, refusal(new StudioError('invalid_argument', `The checkpoint upload is not readable: ${(err as Error).message}.`)))
      }
      writeCheckpoint(join(run.stagingDir, `epoch-${epoch}-${m[4]}`), {
        modelTopology: header.modelTopology as object,
        weightSpecs: header.weightSpecs as never,
        format: header.format,
        generatedBy: header.generatedBy,
        convertedBy: header.convertedBy ?? null,
        weightData: weights.slice().buffer
      })
      run.uploaded.add(`${epoch}-${m[4]}`)
      return json(200, { ok: true, value: null })
    }
    return json(405, refusal(new StudioError('invalid_argument', `No ${method} ${pathname} here.`)))
  }

  function connect(send: (message: ToWorker) => void): WindowLink {
    const id = nextWindow++
    windows.set(id, { send, info: null, at: 0 })
    return {
      id,
      handle(method, rawArgs) {
        const parsed = methods[method].args.safeParse(rawArgs ?? {})
        if (!parsed.success) return refusal(new StudioError('invalid_argument', `Invalid arguments for ${method}: ${parsed.error.issues[0]?.message ?? 'bad shape'}.`))
        if (method === 'browserGpu.register') {
          const w = windows.get(id)
          if (w) Object.assign(w, { info: parsed.data as BrowserGpuInfo, at: ++registrations })
          if (opts.reportFile) {
            try {
              writeFileSync(`${opts.reportFile}.tmp`, JSON.stringify({ ...parsed.data, reportedAt: new Date().toISOString() }))
              renameSync(`${opts.reportFile}.tmp`, opts.reportFile)
            } catch (err) {
              // Only the doctor's note is lost; training does not depend on it.
              console.error('[browser-gpu] could not keep the report:', (err as Error).message)
            }
          }
          return { ok: true, value: null }
        }
        const a = parsed.data as { runId: number; message: unknown }
        return relay(id, a.runId, a.message)
      },
      close(reason = TAB_CLOSED) {
        if (!windows.delete(id)) return
        for (const run of [...runs.values()]) if (run.window === id) run.exit(reason)
      }
    }
  }

  return {
    spawner,
    list() {
      return [...windows.values()].filter((w) => w.info).sort((a, b) => b.at - a.at).map((w) => w.info as BrowserGpuInfo)
    },
    connect,
    connectPort(port, closedReason = GPU_WINDOW_CLOSED) {
      const link = connect((message) => port.postMessage({ type: 'toWorker', message }))
      port.onMessage((raw) => {
        const m = raw as PortToHost | null
        if (m?.type === 'call' && isWorkerCall(m.method)) {
          const reply = link.handle(m.method, m.args)
          // A refused call is the window's bug or a forgery; the run it names (if any) learns nothing from it.
          if (!reply.ok) console.error(`[browser-gpu] the GPU window's ${m.method} was refused: ${reply.error.message}`)
        } else if (m?.type === 'request' && Number.isInteger(m.id) && typeof m.path === 'string') {
          const body = m.body instanceof Uint8Array ? m.body : null
          void route(m.method, m.path, m.key, async (cap) => (body && body.length <= cap ? body : null)).then(
            (a) => port.postMessage({ type: 'response', id: m.id, ...(a ?? json(404, refusal(new StudioError('not_found', `No route ${m.path.slice(0, 200)}.`)))) }),
            (err: unknown) => port.postMessage({ type: 'response', id: m.id, ...json(500, refusal(new StudioError('internal', (err as Error).message))) })
          )
        } else console.error('[browser-gpu] the GPU window sent a message that is not one of the protocol\'s.')
      })
      port.onClose(() => link.close(closedReason))
      return link
    },
    async handleHttp(req, res, pathname) {
      const answer = await route(req.method ?? 'GET', pathname, req.headers[workerKeyHeader], (cap) => readBody(req, cap))
      if (!answer) return false
      // A refused request's body was not read: drain it so the answer reaches the page.
      if (!req.readableEnded) req.resume()
      res.writeHead(answer.status, {
        'Content-Type': answer.status === 200 && req.method === 'GET' ? 'application/octet-stream' : 'application/json',
        'Content-Length': String(answer.body.length),
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff'
      })
      res.end(req.method === 'HEAD' ? undefined : answer.body)
      return true
    }
  }
}
