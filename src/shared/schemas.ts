// Runtime schemas for everything that crosses a process or network boundary. The TypeScript types of
// the domain are inferred from these, so a type and its validation can never drift apart.
import { z } from 'zod'

// ---------------------------------------------------------------------------------------------
// Models: a network is data, layer for layer as PyTorch's nn.Sequential would list it, so that the
// summary rows line up with torchsummary's one to one.
export const LayerSpecSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('conv2d'),
    outChannels: z.int().min(1).max(4096),
    kernelSize: z.int().min(1).max(31),
    stride: z.int().min(1).max(16).default(1),
    padding: z.int().min(0).max(16).default(0)
  }),
  z.object({ type: z.literal('avgPool2d'), kernelSize: z.int().min(1).max(16), stride: z.int().min(1).max(16) }),
  z.object({ type: z.literal('maxPool2d'), kernelSize: z.int().min(1).max(16), stride: z.int().min(1).max(16) }),
  z.object({ type: z.literal('batchNorm2d') }),
  z.object({ type: z.literal('batchNorm1d') }),
  z.object({ type: z.literal('sigmoid') }),
  z.object({ type: z.literal('relu') }),
  z.object({ type: z.literal('tanh') }),
  z.object({ type: z.literal('leakyRelu'), negativeSlope: z.number().min(0).max(1).default(0.01) }),
  z.object({ type: z.literal('flatten') }),
  z.object({ type: z.literal('linear'), outFeatures: z.int().min(1).max(65536) }),
  z.object({ type: z.literal('dropout'), p: z.number().min(0).max(0.99) })
])
export type LayerSpec = z.infer<typeof LayerSpecSchema>
export type LayerType = LayerSpec['type']

export const ModelSpecSchema = z.object({
  name: z.string().min(1).max(80),
  /** Side of the square input image the network expects; datasets are resized to it on the fly. */
  inputSize: z.int().min(8).max(512),
  /** 1 for gray datasets, 3 for colour ones (image folders, CIFAR-10). */
  inputChannels: z.union([z.literal(1), z.literal(3)]),
  numClasses: z.int().min(2).max(1000),
  layers: z.array(LayerSpecSchema).min(1).max(64)
})
export type ModelSpec = z.infer<typeof ModelSpecSchema>

// ---------------------------------------------------------------------------------------------
// Training configuration, stored with every run ("train again" replays it).
export const BackendNameSchema = z.enum(['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'])
export type BackendName = z.infer<typeof BackendNameSchema>

export const NormalizeSchema = z.object({
  mean: z.array(z.number().min(0).max(1)).min(1).max(3),
  std: z.array(z.number().gt(0).max(1)).min(1).max(3)
})
export type Normalize = z.infer<typeof NormalizeSchema>

export const AugmentSchema = z.object({
  /** torchvision's RandomCrop(size, padding=p): zero-pad p pixels each side, crop back at random. */
  cropPadding: z.int().min(0).max(16).default(0),
  /** RandomHorizontalFlip(0.5). Wrong for digits and letters (a mirrored 2 is not a 2). */
  flip: z.boolean().default(false)
})
export type Augment = z.infer<typeof AugmentSchema>

export const ScheduleSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('constant') }),
  z.object({ type: z.literal('step'), stepEpochs: z.int().min(1), gamma: z.number().gt(0).max(1) }),
  z.object({ type: z.literal('cosine'), minLr: z.number().min(0).default(0) })
])
export type Schedule = z.infer<typeof ScheduleSchema>

export const ValidationSchema = z.discriminatedUnion('source', [
  /** d2l evaluates on the test set after every epoch. */
  z.object({ source: z.literal('test') }),
  /** A held-out fraction of the training set (the train/val/test script uses 0.2). */
  z.object({ source: z.literal('split'), fraction: z.number().gt(0).lt(1), stratified: z.boolean().default(true) })
])
export type Validation = z.infer<typeof ValidationSchema>

/** 'browser-webgpu': the run trains in a browser window's GPU (src/shared/browser-gpu.ts); only a person picks it. */
export const TrainBackendBrowserSchema = z.literal('browser-webgpu')

export const TrainConfigSchema = z.object({
  /** Preset id the spec came from ('lenet5', 'alexnet', ...), or 'custom'. */
  model: z.string().min(1).max(80),
  spec: ModelSpecSchema,
  dataset: z.string().min(1).max(200),
  optimizer: z.enum(['sgd', 'adam']),
  lr: z.number().gt(0).max(10),
  momentum: z.number().min(0).lt(1).default(0),
  weightDecay: z.number().min(0).max(1).default(0),
  schedule: ScheduleSchema.default({ type: 'constant' }),
  batchSize: z.int().min(1).max(8192),
  epochs: z.int().min(1).max(1000),
  seed: z.int().min(0).max(2 ** 31 - 1),
  validation: ValidationSchema,
  init: z.enum(['xavier', 'default']),
  earlyStoppingPatience: z.int().min(1).max(1000).nullable().default(null),
  /** 'auto' picks the best backend that loads and passes its self-check. */
  backend: z.union([z.literal('auto'), BackendNameSchema, TrainBackendBrowserSchema]).default('auto'),
  /** Use only the first N training examples (quick experiments, tests). */
  trainLimit: z.int().min(1).nullable().default(null),
  /** Per-channel (x - mean) / std on the [0, 1] pixels. 'dataset' asks for the numbers of the
      dataset's training split: the host computes them when the run is queued and stores them here,
      so prediction, confusion cells and exports apply the very same numbers. Null: pixels / 255 only. */
  normalize: z.union([z.literal('dataset'), NormalizeSchema]).nullable().default(null),
  /** Training-time augmentation (never at evaluation or prediction); off by default. */
  augment: AugmentSchema.default({ cropPadding: 0, flip: false }),
  /** How the dataset's pictures were made (an image-folder import: its side and resize policy),
      filled in when the run is queued, so a dropped photo is made exactly the same way. */
  imagePrep: z.object({ size: z.int().min(8).max(512), policy: z.enum(['stretch', 'fit', 'crop']) }).nullable().default(null)
})
export type TrainConfig = z.infer<typeof TrainConfigSchema>
export type TrainConfigInput = z.input<typeof TrainConfigSchema>

// ---------------------------------------------------------------------------------------------
// Runs as the store keeps them.
export const RunStatusSchema = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'])
export type RunStatus = z.infer<typeof RunStatusSchema>
/** A run in one of these has a live worker (or is waiting for one). */
export const ACTIVE_STATUSES: readonly RunStatus[] = ['queued', 'running']
/** A run in one of these is over; only a new run (or a resume) trains again. */
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled', 'interrupted']
export function isTerminalStatus(s: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(s)
}

/** Which saved weights: the best validation epoch's, or the last finished epoch's. */
export const CheckpointKindSchema = z.enum(['best', 'last'])
export type CheckpointKind = z.infer<typeof CheckpointKindSchema>

/** How a dataset's images look, which decides how a dropped picture is made to look like them:
    'digits' are centred by their centre of mass (MNIST), 'objects' are fitted (Fashion-MNIST),
    'photos' are resized as the import resized them, colour kept (image folders, CIFAR-10). */
export const DatasetStyleSchema = z.enum(['digits', 'objects', 'photos'])
export type DatasetStyle = z.infer<typeof DatasetStyleSchema>

export const RunSortKeySchema = z.enum([
  'createdAt',
  'name',
  'status',
  'model',
  'dataset',
  'bestValAcc',
  'testAcc',
  'testLoss',
  'examplesPerSec',
  'paramCount'
])
export type RunSortKey = z.infer<typeof RunSortKeySchema>

export const RunQuerySchema = z.object({
  search: z.string().max(200).optional(),
  status: RunStatusSchema.optional(),
  model: z.string().max(80).optional(),
  dataset: z.string().max(200).optional(),
  tag: z.string().max(60).optional(),
  /** Only the runs of this sweep. */
  sweepId: z.int().min(1).optional(),
  sortBy: RunSortKeySchema.default('createdAt'),
  sortDir: z.enum(['asc', 'desc']).default('desc'),
  offset: z.int().min(0).default(0),
  limit: z.int().min(1).max(500).default(50)
})
export type RunQuery = z.input<typeof RunQuerySchema>

export const RunIdSchema = z.int().min(1)
export const TagSchema = z.string().trim().min(1).max(60)
export const TagListSchema = z.array(TagSchema).max(30)
export const RunNameSchema = z.string().trim().min(1).max(120)
export const NotesSchema = z.string().max(20_000)
/** A class name as a run keeps it (archives bring their own). */
export const ClassNameSchema = z.string().trim().min(1).max(100)
/** A catalog or imported dataset's id, never a path: lowercase letters, digits and hyphens. */
export const DatasetIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,79}$/, 'must be a dataset id (lowercase letters, digits, hyphens), not a path')
