// The service container every host shares (Electron IPC, the web-mode WebSocket, the CLI). `handle`
// is the single door: it checks the method name and validates the arguments with the contract's
// schema before any service sees them, and turns every failure into a Reply error a person can read.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ZodError } from 'zod'
import {
  StudioError,
  isMethodName,
  methods,
  type EventName,
  type Events,
  type MethodName,
  type MethodResult,
  type ParsedArgs,
  type Reply
} from '../../shared/contract'
import type { AppInfo, BackendReport, DownloadProgress } from '../../shared/domain'
import { presets } from '../../core/models/presets'
import { summarize } from '../../core/models/summary'
import { pytorchSequential } from '../../core/models/torch-source'
import { ModelSpecError } from '../../core/models/spec'
import { RunStore } from './runs'
import { storageError } from '../storage/db'
import { compareRuns } from './compare'
import { DatasetStore } from './datasets'
import { ModelWorker } from './model-worker'
import { createInspector } from './inspect'
import { checkRunStart } from './run-start'
import { fitToListedDataset, prepareRunConfig } from './datasets-run'
import { SweepService } from './sweeps'
import { TrainingHost, nodeSpawner, runChildJob, type HostEvent } from './training'
import { omitType, type Spawner } from '../training-protocol'
import { importModel, runPredictions } from '../interop/import-run'
import { exportWeights } from '../interop/export'
import { browserGpuReportFile, createBrowserWorkers, type BrowserWorkers } from '../transports/browser-worker'
import { BROWSER_WEBGPU } from '../../shared/browser-gpu'

export type HostKind = 'electron' | 'web' | 'cli'

export interface ServicesOptions {
  dataDir: string
  host: HostKind
  /** How training processes start (Electron passes utilityProcess.fork); Node's fork through tsx by default. */
  spawn?: Spawner
  maxConcurrent?: number
  batchEventsPerSecond?: number
  cancelGraceMs?: number
  /** The packaged app's bundled datasets as IDX.gz (DatasetStore's shippedDir). */
  shippedDatasetsDir?: string
  /** The app's version as its host knows it (Electron: app.getVersion(); a bundle has no package.json beside it). */
  version?: string
}

type Handler<M extends MethodName> = (args: ParsedArgs<M>) => Promise<MethodResult<M>> | MethodResult<M>
type HandlerMap = { [M in MethodName]: Handler<M> }

export interface EventBus {
  subscribe(fn: <E extends EventName>(event: E, payload: Events[E]) => void): () => void
}

export interface Services {
  handle(method: string, rawArgs: unknown): Promise<Reply<unknown>>
  events: EventBus
  readonly runs: RunStore
  readonly datasets: DatasetStore
  readonly training: TrainingHost
  readonly sweeps: SweepService
  /** Browser windows whose WebGPU trains runs (config.backend 'browser-webgpu'). */
  readonly browserWorkers: BrowserWorkers
  readonly dataDir: string
  close(): Promise<void>
}

const packageVersion = (() => {
  try {
    const path = fileURLToPath(new URL('../../../package.json', import.meta.url))
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
  } catch {
    return '0.0.0'
  }
})()

/** A zod issue as a sentence: where and what. */
export function zodMessage(err: ZodError, what: string): string {
  const parts = err.issues.slice(0, 3).map((i) => {
    const where = i.path.length ? i.path.join('.') : '(arguments)'
    return `${where}: ${i.message}`
  })
  const more = err.issues.length > 3 ? ` (and ${err.issues.length - 3} more)` : ''
  return `Invalid arguments for ${what}: ${parts.join('; ')}${more}.`
}

/** Any thrown value as a Reply error; internals go to stderr, never to the caller. */
export function toErrorReply(err: unknown, method: string): Reply<never> {
  if (err instanceof StudioError) return { ok: false, error: err.toValue() }
  if (err instanceof ZodError) return { ok: false, error: { code: 'invalid_argument', message: zodMessage(err, method) } }
  if (err instanceof ModelSpecError) return { ok: false, error: { code: 'invalid_argument', message: err.message } }
  // A system error (ENOSPC, EACCES, EIO, ...) is the environment, not a bug: one sentence says it all.
  if (typeof (err as { code?: unknown })?.code === 'string' && (err as { syscall?: unknown }).syscall !== undefined)
    return { ok: false, error: storageError(`complete ${method}`, err).toValue() }
  console.error(`[services] ${method} failed:`, err)
  const message = err instanceof Error && err.message ? err.message : String(err)
  return { ok: false, error: { code: 'internal', message: `${method} failed: ${message.split('\n')[0]}` } }
}

export async function createServices(opts: ServicesOptions): Promise<Services> {
  const dataDir = opts.dataDir
  const runs = RunStore.open(dataDir)
  const subscribers = new Set<<E extends EventName>(event: E, payload: Events[E]) => void>()
  const publish = <E extends EventName>(event: E, payload: Events[E]) => {
    for (const fn of subscribers) {
      try {
        fn(event, payload)
      } catch (err) {
        console.error('[services] an event subscriber threw:', err)
      }
    }
  }
  const datasets = new DatasetStore({ dataDir, shippedDir: opts.shippedDatasetsDir, onProgress: (p: DownloadProgress) => publish('datasets.progress', p) })
  const spawn = opts.spawn ?? nodeSpawner()
  // A dataset the catalogue no longer knows (a folder the CLI trained on) is MNIST-like by default.
  const styleOf = async (id: string) => (await datasets.list()).find((d) => d.id === id)?.style ?? 'digits'
  const models = new ModelWorker({ runs, spawn, styleOf })
  const inspector = createInspector({ runs, datasets, models })
  const browserWorkers = createBrowserWorkers({ loadDataset: (id) => datasets.load(id), reportFile: browserGpuReportFile(dataDir) })
  const training = new TrainingHost({
    runs,
    dataDir,
    spawn,
    spawnFor: (config) => (config.backend === BROWSER_WEBGPU ? browserWorkers.spawner : null),
    maxConcurrent: opts.maxConcurrent,
    batchEventsPerSecond: opts.batchEventsPerSecond,
    cancelGraceMs: opts.cancelGraceMs
  })
  const unsubscribeTraining = training.subscribe((e: HostEvent) => {
    // The contract's events are the host's own, without the envelope.
    if (e.type === 'status') publish('training.status', omitType(e))
    else if (e.type === 'batch') publish('training.batch', omitType(e))
    else if (e.type === 'epoch') publish('training.epoch', { runId: e.runId, ...e.epoch })
  })

  /** Every window refreshes its dataset list, not only the one that asked. */
  const changed = <T extends { id: string }>(info: T): T => {
    publish('datasets.changed', { datasetId: info.id })
    return info
  }

  // A sweep prepares each run as training.start does.
  const sweeps = new SweepService(runs.db, runs, training, async (raw) => {
    const config = await prepareRunConfig(datasets, raw)
    return { config, ...(await checkRunStart(datasets, config)) }
  })

  let reportCache: BackendReport | null = null
  const downloads = new Map<string, AbortController>()
  /** Picture imports under way, by the name they were asked for. */
  const imports = new Map<string, AbortController>()

  const handlers: HandlerMap = {
    'app.info': (): AppInfo => ({ version: opts.version ?? packageVersion, host: opts.host === 'electron' ? 'electron' : 'web', dataDir }),
    'models.presets': () => presets.map((p) => structuredClone(p)),
    'models.summary': (a) => summarize(a.spec),
    'models.fit': (a) => fitToListedDataset(datasets, a.model, a.spec, a.datasetId),
    'models.pytorchCode': (a) => ({ code: pytorchSequential(a.spec) }),
    'models.import': (a) => importModel({ runs, datasets, spawn, dataDir }, a),
    'datasets.list': () => datasets.list(),
    'datasets.info': (a) => datasets.info(a.datasetId),
    'datasets.samples': (a) => datasets.samples(a.datasetId, a.split, a.count, a.label),
    'datasets.download': async (a) => {
      if (downloads.has(a.datasetId)) throw new StudioError('conflict', `Dataset '${a.datasetId}' is already downloading.`)
      const ctl = new AbortController()
      downloads.set(a.datasetId, ctl)
      try {
        return changed(await datasets.download(a.datasetId, ctl.signal))
      } finally {
        downloads.delete(a.datasetId)
      }
    },
    'datasets.import': async (a) => changed(await datasets.importFolder(a.path, a.title)),
    'datasets.importImages': async (a) => {
      // Keyed by the name the progress events carry, which is all a window knows of the import.
      if (imports.has(a.name)) throw new StudioError('conflict', `Pictures named '${a.name}' are already being imported.`)
      const ctl = new AbortController()
      imports.set(a.name, ctl)
      try {
        const r = await datasets.importImages(a.path, a.name, {
          size: a.size,
          channels: a.channels,
          policy: a.policy,
          testSplit: a.testSplit,
          from: a.from,
          signal: ctl.signal,
          onProgress: (p) => publish('datasets.importProgress', { ...p, name: a.name })
        })
        changed(r.info)
        return r
      } catch (err) {
        // Every window's progress bar for it ends, not only the asking one's.
        publish('datasets.importProgress', { phase: 'stopped', done: 0, total: 0, file: null, name: a.name })
        throw err
      } finally {
        imports.delete(a.name)
      }
    },
    'datasets.cancelImport': (a) => {
      const ctl = imports.get(a.name)
      ctl?.abort()
      return { cancelled: ctl !== undefined }
    },
    'backends.report': async (a) => {
      if (!reportCache || a.refresh) reportCache = (await runChildJob(spawn, { type: 'probe' }, 'report', 120_000)).report
      return reportCache
    },
    'backends.benchmark': async (a) =>
      (await runChildJob(spawn, { type: 'benchmark', seconds: a.seconds }, 'benchmark', (a.seconds * 8 + 120) * 1000)).results,
    'training.start': async (a) => {
      // A preset follows the dataset's channels, size and classes; 'dataset' normalisation becomes numbers.
      const config = await prepareRunConfig(datasets, a.config)
      return training.start(config, {
        name: a.name,
        ...(await checkRunStart(datasets, config)),
        ...(a.initFrom !== undefined ? { initFrom: { runId: a.initFrom, dir: runs.fineTuneSource(a.initFrom) } } : {})
      })
    },
    'training.resume': (a) => training.resume(a.runId),
    'sweeps.start': (a) => sweeps.start(a),
    'sweeps.list': () => sweeps.list(),
    'runs.exportCsv': (a) => runs.exportCsv(a),
    'sweeps.get': (a) => sweeps.get(a.sweepId),
    'sweeps.cancel': (a) => sweeps.cancel(a.sweepId),
    'training.cancel': async (a) => {
      const run = await training.cancel(a.runId)
      return { runId: run.id, status: run.status, error: run.error, run }
    },
    'training.active': () => training.activeRuns(),
    'runs.list': (a) => runs.list(a),
    'runs.get': (a) => runs.get(a.runId),
    'runs.curves': (a) => runs.curves(a.runId, a.maxPoints),
    'runs.summary': (a) => summarize(runs.get(a.runId).config.spec),
    'runs.confusion': (a) => runs.confusion(a.runId, a.epoch),
    'runs.cellExamples': (a) => inspector.cellExamples(a),
    'runs.hardest': (a) => inspector.hardest(a),
    'runs.flips': (a) => inspector.flips(a),
    'runs.histograms': (a) => runs.histograms(a.runId),
    'runs.filters': (a) => runs.filters(a.runId),
    'inspect.image': (a) => inspector.image(a),
    'inspect.example': (a) => inspector.example(a),
    'runs.rename': (a) => runs.rename(a.runId, a.name),
    'runs.setNotes': (a) => runs.setNotes(a.runId, a.notes),
    'runs.setTags': (a) => runs.setTags(a.runId, a.tags),
    'runs.delete': (a) => {
      if (training.activeRuns().some((r) => r.run.id === a.runId))
        throw new StudioError('conflict', `Run ${a.runId} is training; cancel it before deleting it.`)
      return runs.delete(a.runId)
    },
    'runs.compare': (a) => compareRuns(runs, a.runIds),
    'runs.export': async (a) => ({
      path: a.format === 'archive' ? await runs.exportRun(a.runId, a.path) : await exportWeights(runs, a.runId, a.format, a.path, await styleOf(runs.get(a.runId).config.dataset))
    }),
    'runs.import': (a) => runs.importRun(a.path),
    'runs.trainAgain': (a) => runs.trainAgain(a.runId),
    'runs.predictions': (a) => runPredictions(runs, a),
    // Only a socket knows which window calls (websocket.ts answers these two itself).
    'browserGpu.register': () => {
      throw new StudioError('unavailable', 'Only a browser window on the web-mode socket can report its GPU.')
    },
    'browserGpu.post': () => {
      throw new StudioError('unavailable', 'Only the browser window training a run can relay its worker.')
    },
    'browserGpu.list': () => browserWorkers.list(),
    'predict.image': (a) => {
      const bytes = new Uint8Array(Buffer.from(a.data, 'base64'))
      if (bytes.length === 0) throw new StudioError('invalid_argument', `The file '${a.fileName}' is empty.`)
      return models.predictFile(a.runId, a.weights, a.fileName, bytes, a.topK)
    }
  }

  let closed = false
  return {
    runs,
    datasets,
    training,
    browserWorkers,
    sweeps,
    dataDir,
    events: {
      subscribe(fn) {
        subscribers.add(fn)
        return () => subscribers.delete(fn)
      }
    },
    async handle(method: string, rawArgs: unknown): Promise<Reply<unknown>> {
      if (!isMethodName(method)) {
        const shown = typeof method === 'string' ? `'${method.slice(0, 80)}'` : 'a missing method name'
        return { ok: false, error: { code: 'invalid_argument', message: `Unknown method ${shown}.` } }
      }
      if (closed) return { ok: false, error: { code: 'unavailable', message: 'Conv Studio is shutting down.' } }
      const parsed = methods[method].args.safeParse(rawArgs ?? {})
      if (!parsed.success) return { ok: false, error: { code: 'invalid_argument', message: zodMessage(parsed.error, method) } }
      try {
        const handler = handlers[method] as (args: unknown) => unknown
        const value = await handler(parsed.data)
        return { ok: true, value }
      } catch (err) {
        return toErrorReply(err, method)
      }
    },
    async close() {
      if (closed) return
      closed = true
      for (const ctl of downloads.values()) ctl.abort()
      for (const ctl of imports.values()) ctl.abort()
      unsubscribeTraining()
      models.close()
      await training.close()
      subscribers.clear()
      runs.close()
    }
  }
}
