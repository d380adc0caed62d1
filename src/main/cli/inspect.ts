// `conv-studio inspect --run <id> --image <file>`: one image seen through a run's network. The
// forward and backward passes run in the model worker process (as for the window); this command
// only reads the file, prints the JSON or a short table, and writes PNGs.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import sharp from 'sharp'
import { StudioError } from '../../shared/contract'
import type { InspectResult, InspectTensor } from '../../shared/domain'
import { ImageDecodeError, readImageFile } from '../services/image-decode'
import { ModelWorker } from '../services/model-worker'
import { DatasetStore } from '../services/datasets'
import { nodeSpawner } from '../services/training'
import { tensorValues } from '../services/inspect'
import type { WeightsKind } from '../services/predict'
import type { RunStore } from '../services/runs'
import { dataDirOf, printable, reportError, withStore, EXIT_FAILURE } from './common'

interface InspectFlags {
  run: number
  image: string
  weights: WeightsKind
  class?: number
  json?: boolean
  out?: string
}

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`)
    return n
  }
}

const plain = (t: InspectTensor) => ({ shape: t.shape, values: Array.from(tensorValues(t)) })

/** The JSON the issue names: input, layers, predicted, gradcam (raw at the feature map's resolution), plus saliency and top. */
export function inspectJson(runId: number, weights: WeightsKind, r: InspectResult): Record<string, unknown> {
  return {
    run: runId,
    weights,
    input: plain(r.input),
    layers: r.layers.map((l) => ({ name: l.name, ...plain(l) })),
    predicted: r.predicted,
    top: r.top,
    gradcam: r.gradcam ? { layer: r.gradcam.layer, classIndex: r.gradcam.classIndex, raw: plain(r.gradcam.raw), upsampled: plain(r.gradcam.upsampled) } : null,
    saliency: plain(r.saliency),
    milliseconds: r.milliseconds
  }
}

/** 0..255 from min..max (a constant map is mid-grey). */
function normalise(v: Float32Array): Uint8Array {
  let lo = Infinity
  let hi = -Infinity
  for (const x of v) {
    if (x < lo) lo = x
    if (x > hi) hi = x
  }
  const out = new Uint8Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = hi > lo ? Math.round(((v[i] - lo) / (hi - lo)) * 255) : 128
  return out
}

async function png(path: string, gray: Uint8Array | Buffer, width: number, height: number, channels: 1 | 3 = 1, scale = 1): Promise<void> {
  let img = sharp(Buffer.from(gray.buffer, gray.byteOffset, gray.byteLength), { raw: { width, height, channels } })
  if (scale > 1) img = img.resize(width * scale, height * scale, { kernel: 'nearest' })
  writeFileSync(path, await img.png().toBuffer())
}

/** A feature map [C, H, W] as a grid of channel images (each scaled to its own range), 1 px apart. */
function grid(shape: number[], values: Float32Array): { pixels: Uint8Array; width: number; height: number } {
  const [c, h, w] = shape
  const cols = Math.ceil(Math.sqrt(c))
  const rows = Math.ceil(c / cols)
  const width = cols * (w + 1) - 1
  const height = rows * (h + 1) - 1
  const pixels = new Uint8Array(width * height).fill(255)
  for (let k = 0; k < c; k++) {
    const ch = normalise(values.subarray(k * h * w, (k + 1) * h * w))
    const ox = (k % cols) * (w + 1)
    const oy = Math.floor(k / cols) * (h + 1)
    for (let y = 0; y < h; y++) pixels.set(ch.subarray(y * w, (y + 1) * w), (oy + y) * width + ox)
  }
  return { pixels, width, height }
}

/** The input in grey with the heat map (red = high) blended over it. */
function overlay(input: Float32Array, heat: Float32Array): Uint8Array {
  const g = normalise(input)
  const h = normalise(heat)
  const out = new Uint8Array(g.length * 3)
  for (let i = 0; i < g.length; i++) {
    const t = h[i] / 255
    out[i * 3] = Math.round(g[i] * 0.5 + 255 * t * 0.5)
    out[i * 3 + 1] = Math.round(g[i] * 0.5 + 64 * t * 0.5)
    out[i * 3 + 2] = Math.round(g[i] * 0.5 + 255 * (1 - t) * 0.25)
  }
  return out
}

export async function writePngs(dir: string, r: InspectResult): Promise<string[]> {
  mkdirSync(dir, { recursive: true })
  const written: string[] = []
  const put = async (name: string, pixels: Uint8Array, w: number, h: number, channels: 1 | 3 = 1) => {
    const scale = Math.max(1, Math.ceil(112 / Math.max(w, h)))
    await png(join(dir, name), pixels, w, h, channels, scale)
    written.push(name)
  }
  const input = tensorValues(r.input)
  const [, ih, iw] = r.input.shape
  await put('input.png', normalise(input.subarray(0, ih * iw)), iw, ih)
  for (const [i, l] of r.layers.entries()) {
    const v = tensorValues(l)
    const name = `layer-${String(i + 1).padStart(2, '0')}-${l.name}.png`
    if (l.shape.length === 3) {
      const g = grid(l.shape, v)
      await put(name, g.pixels, g.width, g.height)
    } else {
      await put(name, normalise(v), v.length, 1)
    }
  }
  if (r.gradcam) {
    const [rh, rw] = r.gradcam.raw.shape
    await put('gradcam-raw.png', normalise(tensorValues(r.gradcam.raw)), rw, rh)
    await put('gradcam.png', overlay(input.subarray(0, ih * iw), tensorValues(r.gradcam.upsampled)), iw, ih, 3)
  }
  await put('saliency.png', normalise(tensorValues(r.saliency)), iw, ih)
  return written
}

async function inspectCommand(store: RunStore, flags: InspectFlags, cmd: Command): Promise<void> {
  let bytes: Uint8Array
  try {
    bytes = readImageFile(flags.image)
  } catch (err) {
    reportError(err instanceof ImageDecodeError ? err.message : `${flags.image}: cannot be read (${err instanceof Error ? err.message : String(err)})`, EXIT_FAILURE)
    return
  }
  const run = store.get(flags.run)
  if (flags.class !== undefined && flags.class >= run.classes.length)
    throw new StudioError('invalid_argument', `Run ${flags.run} has ${run.classes.length} classes; --class ${flags.class} does not exist.`)
  const datasets = new DatasetStore({ dataDir: dataDirOf(cmd) })
  const styleOf = async (id: string) => (await datasets.list()).find((d) => d.id === id)?.style ?? 'digits'
  const worker = new ModelWorker({ runs: store, spawn: nodeSpawner(), styleOf })
  let r: InspectResult
  try {
    r = await worker.inspectFile(flags.run, flags.weights, flags.image, bytes, flags.class ?? null)
  } catch (err) {
    if (err instanceof ImageDecodeError) {
      reportError(err.message)
      return
    }
    throw err
  } finally {
    worker.close()
  }
  if (flags.out) {
    const files = await writePngs(flags.out, r)
    if (!flags.json) process.stdout.write(`wrote ${files.length} images to ${printable(flags.out)}\n`)
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(inspectJson(flags.run, flags.weights, r)) + '\n')
    return
  }
  const lines = [
    `predicted: ${printable(run.classes[r.predicted] ?? String(r.predicted))} (class ${r.predicted}); top: ${r.top.map((t) => `${printable(t.label)} ${(t.probability * 100).toFixed(1)}%`).join(', ')}`,
    `input: [${r.input.shape.join(', ')}]`,
    ...r.layers.map((l) => `  ${l.name.padEnd(16)} [${l.shape.join(', ')}]`),
    r.gradcam ? `Grad-CAM for class ${r.gradcam.classIndex} on ${r.gradcam.layer}: ${r.gradcam.raw.shape.join('x')}, upsampled to ${r.gradcam.upsampled.shape.join('x')}` : 'Grad-CAM: the network has no convolution',
    `${r.milliseconds.toFixed(1)} ms in the model worker`
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description("See one image through a run's network: every layer's output, Grad-CAM and saliency (--json, --out for PNGs).")
    .requiredOption('--run <id>', 'run id', wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .requiredOption('--image <file>', 'an image file (PNG, JPEG, ...)')
    .addOption(new Option('--weights <kind>', 'which checkpoint').choices(['best', 'last']).default('best'))
    .option('--class <k>', 'the class Grad-CAM and saliency explain (default: the predicted one)', wholeNumber(0, 999))
    .option('--json', 'print one JSON object: input, layers, predicted, gradcam, saliency')
    .option('--out <dir>', 'write the input, every layer, Grad-CAM and saliency as PNGs into this folder')
    .action(withStore((store, flags: InspectFlags, cmd: Command) => inspectCommand(store, flags, cmd), { readOnly: true }))
}
