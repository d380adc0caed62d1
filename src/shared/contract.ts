// The one API between the UI and the services. Every host (Electron IPC, the web-mode WebSocket,
// in-process tests) serves exactly these methods and events, and validates every incoming payload
// with the schema declared here before a service sees it.
import { z } from 'zod'
import type * as D from './domain'
import {
  BackendNameSchema,
  CheckpointKindSchema,
  ModelSpecSchema,
  NotesSchema,
  RunNameSchema,
  RunIdSchema,
  RunQuerySchema,
  TagListSchema,
  TrainConfigSchema,
  type ModelSpec
} from './schemas'
import { SweepRefSchema, SweepSpecSchema, type SweepDetail, type SweepInfo } from './sweeps'
import type { BrowserGpuInfo, ToWorker } from './browser-gpu'

/** Declares a method: its argument schema, and (as a phantom type) its result. */
function method<R>() {
  return <A extends z.ZodType>(args: A) => ({ args, result: undefined as unknown as R })
}

const none = z.object({}).strict()
const runRef = z.object({ runId: RunIdSchema }).strict()
const weightsSchema = CheckpointKindSchema.default('best')
/** Base64 of an image file the user dropped; 40 MB of base64 is a 30 MB file. */
export const MAX_UPLOAD_BASE64 = 40 * 1024 * 1024

export const methods = {
  'app.info': method<D.AppInfo>()(none),

  'models.presets': method<D.ModelPreset[]>()(none),
  'models.summary': method<D.ModelSummary>()(z.object({ spec: ModelSpecSchema }).strict()),
  /** The network a run of preset `model` trains on a listed dataset: fitted to its channels, size and classes (a custom spec comes back as it is, checked). New run shows this one. */
  'models.fit': method<ModelSpec>()(
    z.object({ model: z.string().min(1).max(80), spec: ModelSpecSchema, datasetId: z.string().min(1).max(200) }).strict()
  ),
  /** The nn.Sequential that mirrors a spec, as Python source ("Copy as PyTorch code"). */
  'models.pytorchCode': method<{ code: string }>()(z.object({ spec: ModelSpecSchema }).strict()),
  /** Reads PyTorch weights (.pth/.pt as torch.save writes them, or .safetensors) at `path` onto a preset, evaluates them on the dataset's test set and records an 'imported' run. */
  'models.import': method<D.RunRecord>()(
    z
      .object({
        path: z.string().min(1).max(4096),
        model: z.string().min(1).max(80),
        dataset: z.string().min(1).max(200),
        name: RunNameSchema.optional(),
        /** What the run's notes say it was imported from, instead of the path (web mode's uploads). */
        from: z.string().min(1).max(300).optional()
      })
      .strict()
  ),

  'datasets.list': method<D.DatasetInfo[]>()(none),
  'datasets.info': method<D.DatasetDetail>()(z.object({ datasetId: z.string().min(1).max(200) }).strict()),
  'datasets.samples': method<D.SampleImage[]>()(
    z
      .object({
        datasetId: z.string().min(1).max(200),
        split: z.enum(['train', 'test']).default('train'),
        count: z.int().min(1).max(200).default(40),
        label: z.int().min(0).max(999).optional()
      })
      .strict()
  ),
  'datasets.download': method<D.DatasetInfo>()(z.object({ datasetId: z.string().min(1).max(200) }).strict()),
  /** `path` is on the machine the services run on: a folder holding the four IDX files. */
  'datasets.import': method<D.DatasetInfo>()(
    z.object({ path: z.string().min(1).max(4096), title: z.string().min(1).max(80).optional() }).strict()
  ),
  /** `path` is on the services' machine: a folder or .zip of pictures (ImageFolder layout) or CIFAR-10's batches. */
  'datasets.importImages': method<{ info: D.DatasetInfo; report: D.ImageImportReport | null }>()(
    z
      .object({
        path: z.string().min(1).max(4096),
        name: z.string().trim().min(1).max(80),
        size: z.int().min(8).max(512).optional(),
        channels: z.union([z.literal(1), z.literal(3), z.literal('auto')]).default('auto'),
        policy: z.enum(['stretch', 'fit', 'crop']).default('stretch'),
        testSplit: z.number().gt(0).lt(1).default(0.2),
        /** What the catalog says it was imported from, instead of the path (web mode's uploads). */
        from: z.string().min(1).max(200).optional()
      })
      .strict()
  ),
  /** Stops the picture import named `name` (as its datasets.importProgress events name it); nothing of it is kept. False: none was running. */
  'datasets.cancelImport': method<{ cancelled: boolean }>()(z.object({ name: z.string().trim().min(1).max(80) }).strict()),

  'backends.report': method<D.BackendReport>()(z.object({ refresh: z.boolean().default(false) }).strict()),
  'backends.benchmark': method<D.BenchmarkResult[]>()(
    z.object({ seconds: z.number().min(1).max(30).default(10) }).strict()
  ),

  'training.start': method<D.RunRecord>()(
    z
      .object({
        config: TrainConfigSchema,
        name: z.string().max(120).optional(),
        /** Fine-tune: start from this run's best weights (same shapes) instead of a fresh initialisation. */
        initFrom: RunIdSchema.optional()
      })
      .strict()
  ),
  /** Continues an interrupted, cancelled or failed run in place (same id) after its last finished epoch. */
  'training.resume': method<D.RunRecord>()(runRef),
  'training.cancel': method<D.RunStatusEvent>()(runRef),
  /** Runs queued or training now, with what they logged so far: a reloaded page resumes from this. */
  'training.active': method<D.ActiveRun[]>()(none),

  'runs.list': method<{ rows: D.RunSummary[]; total: number }>()(RunQuerySchema.strict()),
  'runs.get': method<D.RunRecord>()(runRef),
  'runs.curves': method<D.RunCurves>()(
    z.object({ runId: RunIdSchema, maxPoints: z.int().min(10).max(100_000).default(2000) }).strict()
  ),
  'runs.summary': method<D.ModelSummary>()(runRef),
  'runs.confusion': method<D.ConfusionMatrix>()(
    z.object({ runId: RunIdSchema, epoch: z.union([z.int().min(1), z.literal('test')]).default('test') }).strict()
  ),
  'runs.cellExamples': method<D.CellExample[]>()(
    z
      .object({
        runId: RunIdSchema,
        epoch: z.union([z.int().min(1), z.literal('test')]).default('test'),
        trueClass: z.int().min(0),
        predictedClass: z.int().min(0),
        limit: z.int().min(1).max(200).default(48)
      })
      .strict()
  ),
  'runs.rename': method<D.RunRecord>()(z.object({ runId: RunIdSchema, name: RunNameSchema }).strict()),
  'runs.setNotes': method<D.RunRecord>()(z.object({ runId: RunIdSchema, notes: NotesSchema }).strict()),
  'runs.setTags': method<D.RunRecord>()(z.object({ runId: RunIdSchema, tags: TagListSchema }).strict()),
  'runs.delete': method<{ deleted: number }>()(runRef),
  'runs.compare': method<D.CompareResult>()(z.object({ runIds: z.array(RunIdSchema).min(2).max(8) }).strict()),
  /** Writes a zip to `path` (a folder or a .zip path on the services' machine); returns where. */
  'runs.export': method<{ path: string }>()(
    z
      .object({
        runId: RunIdSchema,
        path: z.string().min(1).max(4096),
        /** archive: the run as a zip; pytorch, onnx, tfjs: the best weights as a folder for that framework. */
        format: z.enum(['archive', 'pytorch', 'onnx', 'tfjs']).default('archive')
      })
      .strict()
  ),
  'runs.import': method<D.RunRecord>()(z.object({ path: z.string().min(1).max(4096) }).strict()),
  /** The config of a past run, ready for the New run form. */
  'runs.trainAgain': method<D.TrainConfig>()(runRef),
  /** The predicted class of every example of a split, in the order the run recorded it (test: dataset order; val: the epoch's validation examples). */
  'runs.predictions': method<number[]>()(
    z.object({ runId: RunIdSchema, split: z.enum(['test', 'val']).default('test'), epoch: z.int().min(1).optional() }).strict()
  ),

  /** A page says what GPU its browser has (web mode; the socket names the window). */
  'browserGpu.register': method<null>()(
    z
      .object({
        adapter: z
          .object({ vendor: z.string().max(200), architecture: z.string().max(200), description: z.string().max(500), software: z.boolean() })
          .strict()
          .nullable(),
        reason: z.string().max(500).nullable(),
        examplesPerSec: z.number().min(0).max(1e9).nullable(),
        browser: z.string().max(200)
      })
      .strict()
  ),
  /** A page relays one message of the browser worker training `runId` (only the window holding that run may). */
  'browserGpu.post': method<null>()(
    z.object({ runId: RunIdSchema, message: z.looseObject({ type: z.string().max(40) }) }).strict()
  ),
  /** The browser GPUs the open windows reported (the newest first). */
  'browserGpu.list': method<BrowserGpuInfo[]>()(none),

  /** Issue 18: the examples a run found hardest (lowest probability of the true class), for the test set or one epoch's validation. */
  'runs.hardest': method<D.HardestExamples>()(
    z
      .object({
        runId: RunIdSchema,
        epoch: z.union([z.int().min(1), z.literal('test')]).default('test'),
        trueClass: z.int().min(0).max(999).optional(),
        limit: z.int().min(1).max(500).default(24)
      })
      .strict()
  ),
  /** Validation examples that went from right to wrong (and back) between two epochs. */
  'runs.flips': method<D.ExampleFlips>()(
    z.object({ runId: RunIdSchema, from: z.int().min(1), to: z.int().min(1), limit: z.int().min(1).max(500).default(48) }).strict()
  ),
  /** Per-epoch weight and gradient histograms of every conv and linear layer. */
  'runs.histograms': method<D.EpochHistograms[]>()(runRef),
  /** The first convolution's kernels at the end of every epoch. */
  'runs.filters': method<D.FilterSnapshot[]>()(runRef),

  /** One dropped image seen through a run's network: every layer's output, the top classes, Grad-CAM and saliency. */
  'inspect.image': method<D.InspectResult>()(
    z
      .object({
        runId: RunIdSchema,
        weights: weightsSchema,
        fileName: z.string().min(1).max(500),
        data: z.string().max(MAX_UPLOAD_BASE64),
        classIndex: z.int().min(0).max(999).optional()
      })
      .strict()
  ),
  /** One dataset example (a test example, a confusion cell's, a hardest one) seen through the network. */
  'inspect.example': method<D.InspectResult>()(
    z
      .object({
        runId: RunIdSchema,
        weights: weightsSchema,
        split: z.enum(['test', 'train']),
        index: z.int().min(0),
        classIndex: z.int().min(0).max(999).optional()
      })
      .strict()
  ),

  /** Queues a sweep's runs (grid x random trials x seeds) under one sweep; a bad value refuses it all, nothing queued. */
  'sweeps.start': method<SweepDetail>()(SweepSpecSchema),
  'sweeps.list': method<SweepInfo[]>()(none),
  /** Every run the query matches (its limit and offset aside) x its epochs, as one CSV. */
  'runs.exportCsv': method<{ csv: string; runs: number; rows: number }>()(RunQuerySchema.strict()),
  'sweeps.get': method<SweepDetail>()(SweepRefSchema),
  /** Cancels the sweep's queued and training runs. */
  'sweeps.cancel': method<SweepDetail>()(SweepRefSchema),

  'predict.image': method<D.PredictResult>()(
    z
      .object({
        runId: RunIdSchema,
        weights: weightsSchema,
        fileName: z.string().min(1).max(500),
        /** The file's bytes, base64. */
        data: z.string().max(MAX_UPLOAD_BASE64),
        topK: z.int().min(1).max(10).default(3)
      })
      .strict()
  )
} as const

/**
 * Web mode moves files over plain HTTP beside the socket: a page cannot name paths on the server,
 * and a 400 MB AlexNet archive has no business in a WebSocket message. Electron does the same
 * through main's native dialogs (see src/shared/wire.ts channels).
 */
export const filesHttp = {
  prefix: '/files/',
  /** POST: answers Reply<RunExportLink>. */
  exportPath: (runId: number) => `/files/runs/${runId}/export`,
  /** POST the archive's bytes: answers Reply<RunRecord>. */
  importPath: '/files/runs/import',
  /** POST multipart/form-data: the four IDX files as `files`, an optional `title`; answers Reply<DatasetInfo>. */
  datasetImportPath: '/files/datasets/import',
  /** POST a .zip of pictures (a picked folder is zipped in the page); query: name, size, channels, policy, testSplit. Answers Reply<{ info, report }>. */
  datasetImagesPath: '/files/datasets/import-images',
  /** POST a PyTorch checkpoint's bytes (.pth/.pt or .safetensors; the format is read from the content);
      query: model, dataset, name. Answers Reply<RunRecord> (an 'imported' run). */
  modelImportPath: '/files/models/import',
  /** The header a page sends its access token in (web mode keeps the token out of cookies). */
  tokenHeader: 'x-conv-studio-token',
  /** A browser worker's run: GET dataset, POST checkpoints/<epoch>/<kind> (with its run key, src/shared/browser-gpu.ts). */
  workerRunPath: (runId: number) => `/files/worker/runs/${runId}`
} as const

export type Methods = typeof methods
export type MethodName = keyof Methods
export type MethodArgs<M extends MethodName> = z.input<Methods[M]['args']>
export type ParsedArgs<M extends MethodName> = z.output<Methods[M]['args']>
export type MethodResult<M extends MethodName> = Methods[M]['result']

/** Events the services push to every subscriber. */
export interface Events {
  'training.batch': D.BatchEvent
  'training.epoch': D.EpochEvent
  'training.status': D.RunStatusEvent
  'datasets.progress': D.DownloadProgress
  /** An import of pictures on its way (scanning, then decoding), for the progress bar. */
  'datasets.importProgress': D.ImageImportProgress & { name: string }
  /** A dataset was added or finished downloading, whoever asked (a dialog in main, another window). */
  'datasets.changed': { datasetId: string }
  /** To one window only (the one whose worker trains the run), never published to every subscriber. */
  'browserGpu.toWorker': ToWorker
}
export type EventName = keyof Events

// ---------------------------------------------------------------------------------------------
// Errors cross the boundary as values with a code and a sentence for a person; never a stack.
export const errorCodes = [
  'invalid_argument',
  'not_found',
  'conflict',
  'unavailable',
  'data_error',
  'storage_error',
  'too_large',
  'unauthorized',
  'internal'
] as const
export type ErrorCode = (typeof errorCodes)[number]

export interface StudioErrorValue {
  code: ErrorCode
  message: string
}

export class StudioError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string
  ) {
    super(message)
    this.name = 'StudioError'
  }

  toValue(): StudioErrorValue {
    return { code: this.code, message: this.message }
  }
}

export type Reply<T> = { ok: true; value: T } | { ok: false; error: StudioErrorValue }

/** What the renderer programs against: the preload bridge and the WebSocket client both implement it. */
export interface StudioApi {
  invoke<M extends MethodName>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>>
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void
}

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(methods, name)
}

// ---------------------------------------------------------------------------------------------
// Who may call what. A window (the Electron page, a web-mode socket holding the token) runs code we
// do not fully control, so it never names a path on the services' machine: these methods are for
// hosts only (the CLI; Electron main after a native dialog; web mode's HTTP file routes, which pick
// their own scratch paths). Both window transports refuse them before a service sees the call.

/** Methods that read or write a path the caller names. */
export const hostOnlyMethods = ['runs.export', 'runs.import', 'datasets.import', 'datasets.importImages', 'models.import'] as const satisfies readonly MethodName[]
export type HostOnlyMethod = (typeof hostOnlyMethods)[number]
/** What a window may call. */
export type WindowMethodName = Exclude<MethodName, HostOnlyMethod>

export function isHostOnly(method: unknown): method is HostOnlyMethod {
  return (hostOnlyMethods as readonly unknown[]).includes(method)
}

/** A dataset as a window names it: a catalog or imported id from datasets.list, never a folder. */
export const windowDatasetId = /^[a-z0-9][a-z0-9_-]{0,199}$/i

/**
 * Why a window may not make this call (checked on the raw arguments, before the schema), or null.
 * The transports add one check that needs the services: the dataset must be a known id.
 */
export function windowCallRefusal(method: unknown, rawArgs: unknown): StudioErrorValue | null {
  if (isHostOnly(method))
    return { code: 'unauthorized', message: `${method} takes a path on the Conv Studio machine, so only the app itself may call it, not a window.` }
  if (method === 'training.start') {
    const dataset = (rawArgs as { config?: { dataset?: unknown } } | null)?.config?.dataset
    if (typeof dataset === 'string' && !windowDatasetId.test(dataset))
      return { code: 'invalid_argument', message: 'config.dataset must be a dataset id from the Datasets page, not a folder path; import the folder there first.' }
  }
  return null
}

export { BackendNameSchema }
