// Predicts with a run's saved weights: a dropped file (decode -> preprocess -> network -> top-k) or
// raw dataset images (the confusion-matrix cells). Loaded models are kept in a small LRU, keyed by
// the checkpoint files' modification times, so a "best" checkpoint rewritten by a training run in
// progress is picked up on the next prediction instead of served stale.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { tf } from '../tfjs'
import { StudioError } from '../../shared/contract'
import type { GrayImage, PredictResult, PreprocessStep } from '../../shared/domain'
import type { ModelSpec, TrainConfig } from '../../shared/schemas'
import { modelFromArtifacts, toInputTensor } from '../../core/models/io'
import { NoInkError, preprocess, type PipelineImage, type PreprocessStyle } from '../../core/predict/pipeline'
import { decodeForDataset, decodeImage, ImageDecodeError } from './image-decode'
import { inspectImage } from '../../core/inspect/inspect'
import { toInspectResult } from './inspect'
import type { InspectResult } from '../../shared/domain'
import { CheckpointError, readCheckpoint } from '../storage/checkpoint'
import type { RunStore } from './runs'

export type WeightsKind = 'best' | 'last'

/** What the predictor needs of the run store; the real RunStore satisfies it. */
export type PredictorRuns = Pick<RunStore, 'get' | 'weightsDir'>

export interface PredictorOptions {
  runs: PredictorRuns
  /** How many loaded models to keep (LeNet-5 is 250 KB, AlexNet 190 MB). */
  cacheSize?: number
  /** How a dataset's images were made; decides centre-of-mass placement vs fitting. */
  styleOf?: (datasetId: string) => PreprocessStyle
  /** Longest side of the step images sent to the UI. */
  previewSide?: number
}

/** The datasets this studio knows: Fashion-MNIST's objects are fitted, everything else is MNIST-like. */
export function defaultStyleOf(datasetId: string): PreprocessStyle {
  return /fashion/i.test(datasetId) ? 'objects' : 'digits'
}

/** Side of the images the catalog's datasets hold (IDX, 28x28); the model resizes from there. */
const SOURCE_SIZE = 28
const BATCH = 256

interface Loaded {
  model: tf.LayersModel
  spec: ModelSpec
  classes: string[]
  style: PreprocessStyle
  /** The run's (x - mean) / std, applied to every input as in training. */
  normalize: TrainConfig['normalize']
  /** A photo set's import side and policy: dropped pictures are made the same way. */
  prep: TrainConfig['imagePrep']
}

export class Predictor {
  private readonly runs: PredictorRuns
  private readonly cacheSize: number
  private readonly styleOf: (datasetId: string) => PreprocessStyle
  private readonly previewSide: number
  /** key -> loading or loaded model; Map order is recency. */
  private readonly cache = new Map<string, { stamp: string; loaded: Promise<Loaded> }>()

  constructor(opts: PredictorOptions) {
    this.runs = opts.runs
    this.cacheSize = Math.max(1, opts.cacheSize ?? 3)
    this.styleOf = opts.styleOf ?? defaultStyleOf
    this.previewSide = opts.previewSide ?? 280
  }

  async predictFile(runId: number, weights: WeightsKind, fileName: string, bytes: Uint8Array, topK: number): Promise<PredictResult> {
    const m = await this.load(runId, weights)
    const started = performance.now()
    if (m.prep) {
      // A photo set: the picture is made as the import made the dataset's (one function for both),
      // colour kept; the network then resizes and normalises it as it did in training.
      const { size, policy } = m.prep
      const channels = m.spec.inputChannels
      const decoded = await decodeImage(fileName, bytes)
      const input = await decodeForDataset(fileName, bytes, { size, channels, policy })
      const steps: PipelineImage[] = [
        { name: `decoded (${decoded.originalWidth}x${decoded.originalHeight})`, width: decoded.width, height: decoded.height, pixels: rgbOf(decoded.rgba), channels: 3 },
        { name: `resized to ${size}x${size} (${policy})${channels === 1 ? ', gray' : ''}`, width: size, height: size, pixels: input, channels }
      ]
      if (m.normalize && m.normalize !== 'dataset')
        steps.push({ name: `normalised: mean ${m.normalize.mean.map((v) => v.toFixed(3)).join('/')}, std ${m.normalize.std.map((v) => v.toFixed(3)).join('/')}`, width: size, height: size, pixels: input, channels })
      const probs = this.forward(m, input, 1, size)
      return { fileName, top: topClasses(probs, m.classes, topK), steps: steps.map((st) => this.toStep(st)), milliseconds: performance.now() - started }
    }
    const decoded = await decodeImage(fileName, bytes)
    let pre
    try {
      pre = preprocess(decoded.rgba, decoded.width, decoded.height, { style: m.style, size: SOURCE_SIZE })
    } catch (err) {
      if (err instanceof NoInkError) {
        throw new ImageDecodeError('no_ink', fileName, 'no ink found: nothing in the picture stands out from its background (a blank page?).')
      }
      throw err
    }
    const probs = this.forward(m, pre.input, 1)
    const top = topClasses(probs, m.classes, topK)
    return {
      fileName,
      top,
      steps: pre.steps.map((s) => this.toStep(s)),
      milliseconds: performance.now() - started
    }
  }

  /** Probabilities for raw dataset images (count*size*size*channels bytes, IDX convention), count*numClasses floats. */
  async predictPixels(runId: number, weights: WeightsKind, images: Uint8Array, count: number, size: number): Promise<Float32Array> {
    const m = await this.load(runId, weights)
    const per = size * size * m.spec.inputChannels
    if (!Number.isInteger(count) || count < 0 || !Number.isInteger(size) || size < 1 || images.length < count * per) {
      throw new StudioError('invalid_argument', `predictPixels: ${images.length} bytes do not hold ${count} images of ${size}x${size}x${m.spec.inputChannels}.`)
    }
    const classes = m.spec.numClasses
    const out = new Float32Array(count * classes)
    for (let start = 0; start < count; start += BATCH) {
      const n = Math.min(BATCH, count - start)
      out.set(this.forward(m, images.subarray(start * per, (start + n) * per), n, size), start * classes)
    }
    return out
  }

  /**
   * What the network sees in one image: a dropped file (preprocessed as predictFile does) or a
   * dataset example's raw pixels (size x size x channels bytes). `classIndex`: the class Grad-CAM explains.
   */
  async inspect(
    runId: number,
    weights: WeightsKind,
    source: { fileName: string; bytes: Uint8Array } | { pixels: Uint8Array; size: number },
    classIndex: number | null
  ): Promise<InspectResult> {
    const m = await this.load(runId, weights)
    const started = performance.now()
    let image: PipelineImage
    const channels = m.spec.inputChannels
    if ('fileName' in source && m.prep) {
      // A photo set: the picture made as predictFile (and the import) makes it, colour kept.
      const { size, policy } = m.prep
      image = { name: source.fileName, width: size, height: size, pixels: await decodeForDataset(source.fileName, source.bytes, { size, channels, policy }), channels }
    } else if ('fileName' in source) {
      const decoded = await decodeImage(source.fileName, source.bytes)
      try {
        const pre = preprocess(decoded.rgba, decoded.width, decoded.height, { style: m.style, size: SOURCE_SIZE })
        image = { name: source.fileName, width: SOURCE_SIZE, height: SOURCE_SIZE, pixels: pre.input }
      } catch (err) {
        if (err instanceof NoInkError) throw new ImageDecodeError('no_ink', source.fileName, 'no ink found: nothing in the picture stands out from its background (a blank page?).')
        throw err
      }
    } else {
      if (!Number.isInteger(source.size) || source.size < 1 || source.pixels.length !== source.size * source.size * channels)
        throw new StudioError('invalid_argument', `inspect: ${source.pixels.length} bytes are not one ${source.size}x${source.size}${channels === 3 ? 'x3' : ''} image.`)
      image = { name: 'example', width: source.size, height: source.size, pixels: source.pixels, ...(channels === 3 ? { channels: 3 as const } : {}) }
    }
    if (classIndex !== null && classIndex >= m.spec.numClasses)
      throw new StudioError('invalid_argument', `Run ${runId} has ${m.spec.numClasses} classes; class ${classIndex} does not exist.`)
    const x = toInputTensor(image.pixels, 1, image.width, m.spec, m.normalize)
    try {
      const r = inspectImage(m.model, m.spec, x, classIndex ?? undefined)
      return toInspectResult(r, m.classes, image, performance.now() - started)
    } finally {
      x.dispose()
    }
  }

  /** Forgets loaded models (all, or one run's), freeing their tensors. */
  evict(runId?: number): void {
    for (const [key, entry] of [...this.cache]) {
      if (runId === undefined || key.startsWith(`${runId}:`)) {
        this.cache.delete(key)
        void entry.loaded.then((l) => l.model.dispose(), () => undefined)
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  private forward(m: Loaded, images: Uint8Array, count: number, size = SOURCE_SIZE): Float32Array {
    return tf.tidy(() => {
      const x = toInputTensor(images, count, size, m.spec, m.normalize)
      const logits = m.model.predict(x) as tf.Tensor
      // The networks end in a linear layer (logits); training applies softmax inside the loss.
      return tf.softmax(logits).dataSync() as Float32Array
    })
  }

  private async load(runId: number, kind: WeightsKind): Promise<Loaded> {
    const run = this.runs.get(runId)
    const dir = this.runs.weightsDir(runId, kind)
    const modelPath = join(dir, 'model.json')
    let stamp: string
    try {
      // A checkpoint is replaced by moving a new folder in: a new inode, or at least a new mtime.
      const st = statSync(modelPath)
      stamp = `${st.ino}:${st.mtimeMs}`
    } catch {
      throw new StudioError(
        'not_found',
        `Run ${runId} has no ${kind} weights (${modelPath} is missing)${run.status === 'running' || run.status === 'queued' ? '; it has not finished an epoch yet' : ''}.`
      )
    }
    const key = `${runId}:${kind}`
    const hit = this.cache.get(key)
    if (hit && hit.stamp === stamp) {
      this.cache.delete(key)
      this.cache.set(key, hit)
      return hit.loaded
    }
    if (hit) this.evictKey(key)
    const loaded = (async (): Promise<Loaded> => {
      // A host may have registered a backend (wasm) without initialising it; tfjs refuses to
      // build a model until the active backend is ready.
      await tf.ready()
      const artifacts = readArtifacts(runId, kind, dir)
      let model: tf.LayersModel
      try {
        model = await modelFromArtifacts(artifacts)
      } catch (err) {
        throw new StudioError('data_error', `Run ${runId}: the ${kind} weights in ${dir} cannot be loaded (${err instanceof Error ? err.message : String(err)}).`)
      }
      return {
        model,
        spec: run.config.spec,
        classes: run.classes,
        style: this.styleOf(run.config.dataset),
        normalize: run.config.normalize ?? null,
        prep: run.config.imagePrep ?? null
      }
    })()
    this.cache.set(key, { stamp, loaded })
    // A failed load is not cached: the next call tries again (the files may be being written).
    loaded.catch(() => {
      if (this.cache.get(key)?.loaded === loaded) this.cache.delete(key)
    })
    while (this.cache.size > this.cacheSize) this.evictKey(this.cache.keys().next().value as string)
    return loaded
  }

  private evictKey(key: string): void {
    const entry = this.cache.get(key)
    if (!entry) return
    this.cache.delete(key)
    void entry.loaded.then((l) => l.model.dispose(), () => undefined)
  }

  private toStep(s: PipelineImage): PreprocessStep {
    const preview = shrinkForPreview(s, this.previewSide)
    const image: GrayImage = {
      width: preview.width,
      height: preview.height,
      pixels: Buffer.from(preview.pixels.buffer, preview.pixels.byteOffset, preview.pixels.byteLength).toString('base64'),
      ...(preview.channels === 3 ? { channels: 3 as const } : {})
    }
    return { name: s.name, image }
  }
}

/**
 * A step image small enough to send to the UI: the mean of each k x k block, k the smallest whole
 * factor that brings the longest side within `side`. One pass over bytes; it only has to look right.
 */
export function shrinkForPreview(s: PipelineImage, side: number): PipelineImage {
  const k = Math.ceil(Math.max(s.width, s.height) / side)
  if (k <= 1) return s
  // Colour steps: each channel is a plane of its own here (HWC, so a stride of c).
  const c = s.channels ?? 1
  const w = Math.ceil(s.width / k)
  const h = Math.ceil(s.height / k)
  const sum = new Uint32Array(w * h * c)
  const count = new Uint32Array(w * h)
  const col = new Int32Array(s.width)
  for (let x = 0; x < s.width; x++) col[x] = (x / k) | 0
  const px = s.pixels
  for (let y = 0, i = 0; y < s.height; y++) {
    const row = ((y / k) | 0) * w
    for (let x = 0; x < s.width; x++, i++) for (let ch = 0; ch < c; ch++) sum[(row + col[x]) * c + ch] += px[i * c + ch]
  }
  for (let y = 0; y < h; y++) {
    const rows = Math.min(k, s.height - y * k)
    for (let x = 0; x < w; x++) count[y * w + x] = rows * Math.min(k, s.width - x * k)
  }
  const pixels = new Uint8Array(w * h * c)
  for (let o = 0; o < pixels.length; o++) pixels[o] = Math.round(sum[o] / count[(o / c) | 0])
  return { name: s.name, width: w, height: h, pixels, ...(c === 3 ? { channels: 3 as const } : {}) }
}

/** The checkpoint's artifacts, or a one-line error that names the run and the folder. */
function readArtifacts(runId: number, kind: WeightsKind, dir: string): tf.io.ModelArtifacts {
  try {
    return readCheckpoint(dir)
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err
    if (err.missing) throw new StudioError('not_found', `Run ${runId}: the ${kind} weights in ${dir} are incomplete: ${err.message}.`)
    throw new StudioError('data_error', `Run ${runId}: the ${kind} weights in ${dir} are damaged: ${err.message}.`)
  }
}

export function topClasses(probs: Float32Array, classes: string[], k: number): PredictResult['top'] {
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a])
  return order.slice(0, Math.max(1, Math.min(k, probs.length))).map((i) => ({
    classIndex: i,
    label: classes[i] ?? String(i),
    probability: probs[i]
  }))
}

export { ImageDecodeError, NoInkError }

/** The RGB bytes of RGBA pixels (step images carry no alpha). */
function rgbOf(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array((rgba.length / 4) * 3)
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    out[j] = rgba[i]
    out[j + 1] = rgba[i + 1]
    out[j + 2] = rgba[i + 2]
  }
  return out
}
