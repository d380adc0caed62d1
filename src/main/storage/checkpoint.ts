// The tfjs checkpoint format, in one place: a folder with model.json (topology + weightsManifest)
// and the weight files it names, the layout tf.io.fileSystem reads. The training process writes it,
// the run store and the archive importer check it, the predictor reads it.
import { closeSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { io } from '@tensorflow/tfjs'
import { readRegularFile } from './safe-read'
import type { TrainState } from '../../core/training/resume-state'

export const MODEL_JSON = 'model.json'
export const WEIGHTS_FILE = 'weights.bin'
/** A topology plus its weights manifest; AlexNet's is a few KB, so this is far from any real one. */
export const MAX_MODEL_JSON_BYTES = 16 * 1024 * 1024
/** AlexNet at 224 px is ~230 MB of float32 weights; leave room, refuse absurd declarations. */
export const MAX_WEIGHTS_BYTES = 1024 ** 3

/**
 * Bytes per stored value. A weight is stored in its quantization dtype when it has one (uint8,
 * uint16, float16), else in its own dtype. 'string' has no fixed size and never appears in a
 * layers model's weights, so it is refused like any other unknown dtype.
 */
const BYTES_PER_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, uint8: 1, uint16: 2, float16: 2 }

/** A weight file name: one plain segment, as tfjs writes them ('weights.bin', 'group1-shard1of2.bin'). */
const WEIGHTS_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

export interface ModelJson {
  modelTopology: object
  weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[]
  format?: string
  generatedBy?: string
  convertedBy?: string | null
}

/** What is wrong with a checkpoint, as a phrase ("model.json has no weightsManifest"). */
export class CheckpointError extends Error {
  constructor(
    message: string,
    /** A weight file or model.json is absent, as opposed to present and wrong. */
    readonly missing = false
  ) {
    super(message)
    this.name = 'CheckpointError'
  }
}

const shown = (v: unknown) => JSON.stringify(v)?.slice(0, 80) ?? String(v)

/** Parses and checks model.json; returns it with the byte count each weight file group must have. */
export function parseModelJson(bytes: Uint8Array): { model: ModelJson; groupBytes: number[] } {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new CheckpointError(`${MODEL_JSON} is not valid JSON (${(err as Error).message})`)
  }
  const m = raw as Partial<ModelJson> | null
  if (!m || typeof m !== 'object' || !Array.isArray(m.weightsManifest)) throw new CheckpointError(`${MODEL_JSON} has no weightsManifest`)
  if (!m.modelTopology || typeof m.modelTopology !== 'object') throw new CheckpointError(`${MODEL_JSON} has no modelTopology`)
  const groupBytes: number[] = []
  const seen = new Set<string>()
  for (const group of m.weightsManifest as unknown[]) {
    const g = group as { paths?: unknown; weights?: unknown }
    if (!g || !Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new CheckpointError(`${MODEL_JSON} has a malformed weightsManifest group`)
    let declared = 0
    for (const w of g.weights as { shape?: unknown; dtype?: unknown; quantization?: { dtype?: unknown } }[]) {
      const stored = w?.quantization ? w.quantization.dtype : w?.dtype
      if (!w || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new CheckpointError(`${MODEL_JSON} has a malformed weight spec`)
      if (typeof stored !== 'string' || !Object.hasOwn(BYTES_PER_VALUE, stored)) throw new CheckpointError(`${MODEL_JSON} has a weight of unknown dtype ${shown(stored)}`)
      declared += (w.shape as number[]).reduce((a, b) => a * b, 1) * BYTES_PER_VALUE[stored]
    }
    if (declared > MAX_WEIGHTS_BYTES) throw new CheckpointError(`${MODEL_JSON} declares more than ${MAX_WEIGHTS_BYTES / 1024 ** 3} GB of weights`)
    for (const p of g.paths as unknown[]) {
      if (typeof p !== 'string' || !WEIGHTS_PATH.test(p) || p === MODEL_JSON) throw new CheckpointError(`${MODEL_JSON} names a bad weights path ${shown(p)}`)
      if (seen.has(p.toLowerCase())) throw new CheckpointError(`${MODEL_JSON} names the weights file ${p} twice`)
      seen.add(p.toLowerCase())
    }
    groupBytes.push(declared)
  }
  return { model: m as ModelJson, groupBytes }
}

/**
 * Checks that a checkpoint can be loaded from model.json's bytes and the size of each file
 * (undefined: absent): the weight files it names exist with exactly the bytes its specs declare.
 */
export function checkpointFilesProblem(modelJson: Uint8Array | undefined, sizeOf: (name: string) => number | undefined): string | null {
  if (!modelJson) return `${MODEL_JSON} is missing`
  try {
    const { model, groupBytes } = parseModelJson(modelJson)
    model.weightsManifest.forEach((group, i) => {
      let actual = 0
      for (const p of group.paths) {
        const size = sizeOf(p)
        if (size === undefined) throw new CheckpointError(`weights file ${p} is missing`, true)
        actual += size
      }
      if (actual !== groupBytes[i]) throw new CheckpointError(`weights are ${actual} bytes but ${MODEL_JSON} declares ${groupBytes[i]}`)
    })
    return null
  } catch (err) {
    if (err instanceof CheckpointError) return err.message
    throw err
  }
}

function fileSize(path: string): number | undefined {
  try {
    const st = statSync(path)
    return st.isFile() ? st.size : undefined
  } catch {
    return undefined
  }
}

function readModelJson(dir: string): Uint8Array | undefined {
  try {
    return readRegularFile(join(dir, MODEL_JSON), MAX_MODEL_JSON_BYTES)
  } catch (err) {
    if ((err as { problem?: string }).problem === 'missing') return undefined
    throw new CheckpointError(`${MODEL_JSON} cannot be read (${(err as Error & { reason?: string }).reason ?? (err as Error).message})`)
  }
}

/** A checkpoint folder's problem, or null. Weight files are stat'ed, not read (AlexNet's are 200 MB). */
export function checkpointProblem(dir: string): string | null {
  try {
    return checkpointFilesProblem(readModelJson(dir), (name) => fileSize(join(dir, name)))
  } catch (err) {
    if (err instanceof CheckpointError) return err.message
    throw err
  }
}

/** Everything of a checkpoint but its weights' bytes. */
export interface CheckpointHead {
  modelTopology: object
  weightSpecs: io.WeightsManifestEntry[]
  format?: string
  generatedBy?: string
  convertedBy?: string | null
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0
  while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off)
}

function writeModelJson(dir: string, head: CheckpointHead): void {
  const modelJson: ModelJson = {
    format: head.format ?? 'layers-model',
    generatedBy: head.generatedBy,
    convertedBy: head.convertedBy ?? null,
    modelTopology: head.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: head.weightSpecs }]
  }
  writeFileSync(join(dir, MODEL_JSON), JSON.stringify(modelJson))
}

/**
 * Writes tfjs's file format: model.json + one weights.bin holding every weight, in spec order.
 * The buffers are written one after the other, never concatenated: AlexNet's are 187 MB.
 */
export function writeCheckpoint(dir: string, artifacts: io.ModelArtifacts): void {
  mkdirSync(dir, { recursive: true })
  const data = artifacts.weightData
  const parts: ArrayBuffer[] = data === undefined ? [] : Array.isArray(data) ? data : [data]
  const fd = openSync(join(dir, WEIGHTS_FILE), 'w')
  try {
    for (const p of parts) writeAll(fd, new Uint8Array(p))
  } finally {
    closeSync(fd)
  }
  writeModelJson(dir, {
    modelTopology: artifacts.modelTopology as object,
    weightSpecs: artifacts.weightSpecs ?? [],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy
  })
}

/**
 * The same files from weights handed over one at a time (`weights` yields each spec's bytes, in
 * spec order), so a live model is written without a second copy of it in memory. Throws when the
 * bytes do not add up to what the specs declare.
 */
export async function writeCheckpointStreamed(dir: string, head: CheckpointHead, weights: AsyncIterable<Uint8Array>): Promise<void> {
  mkdirSync(dir, { recursive: true })
  const declared = head.weightSpecs.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1) * BYTES_PER_VALUE[w.quantization?.dtype ?? w.dtype], 0)
  let written = 0
  const fd = openSync(join(dir, WEIGHTS_FILE), 'w')
  try {
    for await (const bytes of weights) {
      writeAll(fd, bytes)
      written += bytes.byteLength
    }
  } finally {
    closeSync(fd)
  }
  if (written !== declared) throw new CheckpointError(`${written} bytes of weights were written, the specs declare ${declared}`)
  writeModelJson(dir, head)
}

/** Reads a checkpoint folder into the artifacts tfjs loads a model from; throws CheckpointError. */
export function readCheckpoint(dir: string): io.ModelArtifacts {
  const raw = readModelJson(dir)
  if (!raw) throw new CheckpointError(`${MODEL_JSON} is missing`, true)
  const { model, groupBytes } = parseModelJson(raw)
  const total = groupBytes.reduce((a, b) => a + b, 0)
  const data = new Uint8Array(total)
  let at = 0
  model.weightsManifest.forEach((group, i) => {
    const start = at
    for (const p of group.paths) {
      let bytes: Buffer
      try {
        // The group's declared size bounds every read: a file larger than that is damage, not data.
        bytes = readRegularFile(join(dir, p), groupBytes[i])
      } catch (err) {
        const e = err as { problem?: string; reason?: string }
        if (e.problem === 'missing') throw new CheckpointError(`weights file ${p} is missing`, true)
        throw new CheckpointError(`weights file ${p}: ${e.reason ?? (err as Error).message}`)
      }
      if (at - start + bytes.length > groupBytes[i]) throw new CheckpointError(`the weight files hold more bytes than ${MODEL_JSON} describes (${groupBytes[i]})`)
      data.set(bytes, at)
      at += bytes.length
    }
    if (at - start !== groupBytes[i]) throw new CheckpointError(`the weight files hold ${at - start} bytes, ${MODEL_JSON} describes ${groupBytes[i]}`)
  })
  return {
    modelTopology: model.modelTopology,
    weightSpecs: model.weightsManifest.flatMap((g) => g.weights),
    weightData: data.buffer,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy ?? undefined
  }
}

// ---------------------------------------------------------------------------------------------
// The training state beside a 'last' checkpoint's weights (exact resume: core/training/resume-state.ts):
// train-state.json (everything but the optimizer's numbers) and optimizer.bin (its slots as float32
// little endian, in the JSON's slot order). Not part of the tfjs format: loaders ignore both files.

export const TRAIN_STATE_JSON = 'train-state.json'
export const OPTIMIZER_BIN = 'optimizer.bin'
const MAX_TRAIN_STATE_JSON_BYTES = 4 * 1024 * 1024

type StoredTrainState = Omit<TrainState, 'optimizer'> & { optimizer: Omit<TrainState['optimizer'], 'slots'> & { slots: { name: string; shape: number[] }[] } }

export function writeTrainState(dir: string, state: TrainState): void {
  mkdirSync(dir, { recursive: true })
  const slots = state.optimizer.slots
  writeFileSync(join(dir, OPTIMIZER_BIN), Buffer.concat(slots.map((s) => Buffer.from(s.values.buffer, s.values.byteOffset, s.values.byteLength))))
  const stored: StoredTrainState = { ...state, optimizer: { ...state.optimizer, slots: slots.map((s) => ({ name: s.name, shape: s.shape })) } }
  writeFileSync(join(dir, TRAIN_STATE_JSON), JSON.stringify(stored))
}

/** The state saved beside a checkpoint; null when the folder has none (runs recorded before exact resume). Throws CheckpointError when it is damaged. */
export function readTrainState(dir: string): TrainState | null {
  let raw: Uint8Array
  try {
    raw = readRegularFile(join(dir, TRAIN_STATE_JSON), MAX_TRAIN_STATE_JSON_BYTES)
  } catch (err) {
    if ((err as { problem?: string }).problem === 'missing') return null
    throw new CheckpointError(`${TRAIN_STATE_JSON} cannot be read (${(err as Error & { reason?: string }).reason ?? (err as Error).message})`)
  }
  let s: StoredTrainState
  try {
    s = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw)) as StoredTrainState
  } catch (err) {
    throw new CheckpointError(`${TRAIN_STATE_JSON} is not valid JSON (${(err as Error).message})`)
  }
  if (s?.version !== 1 || !Number.isInteger(s.epoch) || s.epoch < 1 || !Array.isArray(s.optimizer?.slots) || !Array.isArray(s.dropoutCalls))
    throw new CheckpointError(`${TRAIN_STATE_JSON} is not a training state this version can read`)
  const counts = s.optimizer.slots.map((slot) => {
    if (!Array.isArray(slot.shape) || !slot.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new CheckpointError(`${TRAIN_STATE_JSON} has a malformed slot shape`)
    return slot.shape.reduce((a, b) => a * b, 1)
  })
  const total = counts.reduce((a, b) => a + b, 0) * 4
  if (total > 2 * MAX_WEIGHTS_BYTES) throw new CheckpointError(`${TRAIN_STATE_JSON} declares more optimizer state than any model here has`)
  let bin: Uint8Array
  try {
    bin = readRegularFile(join(dir, OPTIMIZER_BIN), total)
  } catch (err) {
    throw new CheckpointError(`${OPTIMIZER_BIN}: ${(err as Error & { reason?: string }).reason ?? (err as Error).message}`, (err as { problem?: string }).problem === 'missing')
  }
  if (bin.length !== total) throw new CheckpointError(`${OPTIMIZER_BIN} holds ${bin.length} bytes, ${TRAIN_STATE_JSON} describes ${total}`)
  // Copied out: a Float32Array view needs 4-byte alignment, which a Buffer from a pool may not have.
  const all = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength))
  let at = 0
  const slots = s.optimizer.slots.map((slot, i) => {
    const values = all.slice(at, at + counts[i])
    at += counts[i]
    return { name: slot.name, shape: slot.shape, values }
  })
  return { ...s, optimizer: { ...s.optimizer, slots } }
}
