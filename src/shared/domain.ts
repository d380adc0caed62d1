// Plain data the hosts send to the UI. Everything here is JSON-safe (numbers, strings, arrays),
// because it crosses Electron IPC, a WebSocket and the training process's IPC channel unchanged.
import type { BackendName, DatasetStyle, ModelSpec, RunStatus, TrainConfig } from './schemas'

export type { BackendName, ModelSpec, RunStatus, TrainConfig } from './schemas'

// ---------------------------------------------------------------------------------------------
// Models
export interface ModelPreset {
  id: string
  title: string
  description: string
  spec: ModelSpec
  /** Training settings the preset's tutorial uses (d2l or the train/val/test script). */
  recommended: Partial<TrainConfig>
}

/** One row of the torchsummary-style table. */
export interface SummaryRow {
  /** 'Conv2d-1', 'Sigmoid-2', ... exactly as torchsummary names them. */
  name: string
  /** PyTorch order, batch first: [-1, C, H, W] or [-1, F]. */
  outputShape: number[]
  params: number
  trainable: boolean
}

export interface ModelSummary {
  rows: SummaryRow[]
  totalParams: number
  trainableParams: number
  nonTrainableParams: number
  /** torchsummary's estimates, for a batch of one, in MB. */
  inputSizeMb: number
  forwardBackwardMb: number
  paramsMb: number
  totalMb: number
}

// ---------------------------------------------------------------------------------------------
// Datasets
export type DatasetStatus = 'ready' | 'available' | 'downloading' | 'error'
export type DatasetSource = 'bundled' | 'download' | 'imported'

export interface DatasetInfo {
  id: string
  title: string
  /** 'digits' datasets are placed by centre of mass when predicting; 'objects' are fitted. */
  style: DatasetStyle
  classes: string[]
  source: DatasetSource
  status: DatasetStatus
  trainCount: number | null
  testCount: number | null
  imageSize: number
  /** 1 (gray) or 3 (RGB). Absent: 1, as every IDX set. */
  channels?: 1 | 3
  /** Anything the user should know: a sample subset, duplicates found in a package, an error. */
  note: string | null
}

export interface DatasetDetail extends DatasetInfo {
  trainClassCounts: number[]
  testClassCounts: number[]
  /** For a set imported from a folder of pictures: what the import skipped and found twice. */
  importReport?: ImageImportReport
}

/** A file an image import did not take, and why. */
export interface SkippedFile {
  file: string
  reason: string
}

/** Byte-identical pictures. 'class': twice in one class; 'classes': in two classes (conflicting
    labels); 'leak': in train and in test (test accuracy then partly measures memory). */
export interface DuplicateGroup {
  kind: 'class' | 'classes' | 'leak'
  files: string[]
}

/** What importing a folder (or zip) of pictures did, kept beside the cached pixels. */
export interface ImageImportReport {
  layout: 'split' | 'classes'
  classes: string[]
  size: number
  channels: 1 | 3
  policy: 'stretch' | 'fit' | 'crop'
  /** The held-out share for a <class>/* folder; null when the folder brought its own test split. */
  testSplit: number | null
  seed: number
  train: { count: number; perClass: number[] }
  test: { count: number; perClass: number[] }
  /** Pictures of a val/ folder, added to train (runs hold their validation split out of train). */
  valMerged: number
  skipped: SkippedFile[]
  duplicates: DuplicateGroup[]
}

export interface ImageImportProgress {
  /** 'stopped': the import failed or was cancelled, and nothing of it was kept. */
  phase: 'scanning' | 'decoding' | 'writing' | 'done' | 'stopped'
  done: number
  total: number
  file: string | null
}

/** An image: `pixels` is base64 of width*height*channels bytes (RGB interleaved when 3), 0 = black. */
export interface GrayImage {
  width: number
  height: number
  pixels: string
  /** Absent: 1 (gray). */
  channels?: 1 | 3
}

export interface SampleImage extends GrayImage {
  index: number
  label: number
}

export interface DownloadProgress {
  datasetId: string
  file: string
  receivedBytes: number
  totalBytes: number | null
  phase: 'downloading' | 'verifying' | 'done' | 'error'
  message: string | null
}

// ---------------------------------------------------------------------------------------------
// Backends
export interface BackendCandidate {
  name: BackendName
  /** Loaded and passed the forward/backward self-check. */
  available: boolean
  /** Why it is not available, or why it was not chosen; the real error, shortened. */
  reason: string | null
  device: string | null
  versions: Record<string, string>
}

export interface BackendReport {
  chosen: BackendName
  reason: string
  candidates: BackendCandidate[]
}

export interface BenchmarkResult {
  backend: BackendName
  device: string | null
  examplesPerSec: number | null
  error: string | null
}

// ---------------------------------------------------------------------------------------------
// Runs
export interface RunSummary {
  id: number
  name: string
  status: RunStatus
  model: string
  dataset: string
  tags: string[]
  createdAt: string
  finishedAt: string | null
  backend: string | null
  paramCount: number | null
  bestEpoch: number | null
  bestValAcc: number | null
  testAcc: number | null
  testLoss: number | null
  examplesPerSec: number | null
  epochsDone: number
  epochsPlanned: number
  /** The sweep that queued this run, or null. */
  sweepId: number | null
}

export interface RunRecord extends RunSummary {
  notes: string
  config: TrainConfig
  device: string | null
  libVersions: Record<string, string>
  startedAt: string | null
  error: string | null
  /** Per-class precision/recall on the test set, when the run finished. */
  /** null for a class without predictions (precision) or without examples (recall). */
  testPrecision: (number | null)[] | null
  testRecall: (number | null)[] | null
  classes: string[]
  /** Fine-tune: the run whose weights this one started from, or null. */
  initFrom: number | null
}

export interface EpochRecord {
  epoch: number
  trainLoss: number
  trainAcc: number
  valLoss: number
  valAcc: number
  seconds: number
  examplesPerSec: number
}

/** A point of the per-batch curve; `x` is the fractional epoch (1.5 = half way through epoch 2). */
export interface StepPoint {
  x: number
  loss: number
  acc: number
}

export interface RunCurves {
  runId: number
  steps: StepPoint[]
  /** How many step rows the store holds; `steps` is decimated to at most the requested count. */
  totalSteps: number
  epochs: EpochRecord[]
}

export interface ConfusionMatrix {
  runId: number
  /** An epoch number, or 'test' for the final evaluation of the best checkpoint. */
  epoch: number | 'test'
  classes: string[]
  /** matrix[true][predicted] */
  matrix: number[][]
  /** null for an empty matrix. */
  accuracy: number | null
  /** Per class, computed once in core (metrics/classification.ts): null where undefined. */
  precision: (number | null)[]
  recall: (number | null)[]
  support: number[]
}

export interface CellExample extends GrayImage {
  index: number
  /** Which dataset split `index` counts in (a split validation draws from the training set). */
  split: 'test' | 'train'
  trueClass: number
  predictedClass: number
  /** Probabilities from the run's best weights, when they can be loaded. */
  probabilities: number[] | null
}

export interface CompareResult {
  runs: RunRecord[]
  curves: RunCurves[]
  /** Only the config fields whose values differ, dotted paths ('spec.layers', 'lr'). */
  configDiff: { field: string; values: unknown[] }[]
  /** Test confusion of runs[1] minus runs[0] when both have one on the same classes. */
  confusionDiff: number[][] | null
  /** Test examples that exactly one of the first two runs gets right. */
  disagreements: { index: number; trueClass: number; predicted: number[] }[]
}

// ---------------------------------------------------------------------------------------------
// Live training events. The trainer (core), the training process, the host and the contract all
// speak these shapes; each is declared here once and the others add only their envelope.

/** What a run is about to train on, reported once its data and model are ready. */
export interface TrainStartInfo {
  paramCount: number
  trainCount: number
  valCount: number
  testCount: number
  stepsPerEpoch: number
}

/** One point of the live batch curve. */
export interface BatchPoint {
  epoch: number
  batch: number
  /** Fractional epoch: 1.5 = half way through epoch 2 (the animator's x axis). */
  x: number
  /** Averages over the batches since the previous point. */
  loss: number
  acc: number
  examplesPerSec: number
  etaSeconds: number | null
}

export type BatchEvent = { runId: number } & BatchPoint

export interface EpochEvent extends EpochRecord {
  runId: number
}

export interface RunStatusEvent {
  runId: number
  status: RunStatus
  error: string | null
  /** The record as the host has it at this change: backend and device once running, the test
      results once finished. A listener needs no runs.get after a status event. */
  run: RunRecord
}

export interface ActiveRun {
  run: RunRecord
  steps: StepPoint[]
  epochs: EpochRecord[]
}

// ---------------------------------------------------------------------------------------------
// Prediction
export interface PreprocessStep {
  name: string
  image: GrayImage
}

export interface PredictResult {
  fileName: string
  top: { classIndex: number; label: string; probability: number }[]
  steps: PreprocessStep[]
  milliseconds: number
}

export interface AppInfo {
  version: string
  host: 'electron' | 'web'
  dataDir: string
}

/** Web mode: where the page fetches an exported run archive, once. */
export interface RunExportLink {
  url: string
  fileName: string
  bytes: number
}

// ---------------------------------------------------------------------------------------------
// Inspection (issue 18): what a run's network sees in one image, and what it kept per epoch.
/** Float32 values in PyTorch order (C, H, W or features; no batch axis), base64 little-endian. */
export interface InspectTensor {
  shape: number[]
  values: string
}

export interface InspectResult {
  /** The exact tensor fed to the network, [C, H, W]. */
  input: InspectTensor
  /** Every layer's output in summary order, named as torchsummary names it (Conv2d-1, Sigmoid-2, ...). */
  layers: (InspectTensor & { name: string })[]
  top: { classIndex: number; label: string; probability: number }[]
  predicted: number
  /** Grad-CAM for `classIndex` on the activated output of the last convolution; null without a convolution. */
  gradcam: { layer: string; classIndex: number; raw: InspectTensor; upsampled: InspectTensor } | null
  /** max over channels of |d logit / d input|, [H, W], for the same class as Grad-CAM. */
  saliency: InspectTensor
  /** The image as the preprocessing left it (dataset examples: the stored pixels). */
  image: GrayImage
  milliseconds: number
}

/** One layer's weights or gradients at the end of an epoch: `bins` equal-width counts over [min, max]. */
export interface LayerHistogram {
  layer: string
  kind: 'weight' | 'gradient'
  min: number
  max: number
  counts: number[]
}

export interface EpochHistograms {
  epoch: number
  histograms: LayerHistogram[]
}

/** The first convolution's kernels at the end of an epoch, [out, in, k, k] values. */
export interface FilterSnapshot {
  epoch: number
  layer: string
  shape: [number, number, number, number]
  values: number[]
}

/** A test (or one epoch's validation) example and the probability the run gave its true class. */
export interface HardExample {
  /** Index in the dataset split (test set, or the training set for a split validation). */
  index: number
  split: 'test' | 'train'
  trueClass: number
  predictedClass: number
  /** null where the run recorded no probabilities for that evaluation (runs made before issue 18). */
  trueProbability: number | null
}

/** A HardExample with its image (as the dataset stores it), as runs.hardest and runs.flips list them. */
export interface HardExampleImage extends HardExample, GrayImage {}

export interface HardestExamples {
  confidentMistakes: HardExampleImage[]
  leastConfidentCorrect: HardExampleImage[]
}

/** Validation examples whose correctness changed between two epochs. */
export interface ExampleFlips {
  from: number
  to: number
  rightToWrong: HardExampleImage[]
  wrongToRight: HardExampleImage[]
}
