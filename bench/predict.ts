// End-to-end time of one dropped image (decode -> preprocess -> LeNet-5 -> top-k) once the model is
// loaded, on the pure-JS `cpu` backend and on native TensorFlow when it loads. The goal: < 50 ms.
// Images: a rendered test digit from the fixture (JPEG, a few hundred pixels) and a 12-megapixel
// phone-sized photo of a digit (decoded with JPEG shrink-on-load to 1024 px).
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import * as tf from '@tensorflow/tfjs'
import { getPreset } from '../src/core/models/presets'
import { Predictor } from '../src/main/services/predict'
import { decodeImage } from '../src/main/services/image-decode'
import { preprocess } from '../src/core/predict/pipeline'
import { RunStore } from '../src/main/services/runs'
import { TrainConfigSchema } from '../src/shared/schemas'

const FIXTURES = join(import.meta.dirname, '../test/fixtures/predict')
const ITERATIONS = 200

interface Row {
  backend: string
  image: string
  pixels: string
  p50: number
  p95: number
  mean: number
  /** p50 of the two stages before the network, measured on their own. */
  decodeP50: number
  preprocessP50: number
}

async function stages(name: string, bytes: Buffer): Promise<{ decode: number; pre: number }> {
  const dec: number[] = []
  const pre: number[] = []
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now()
    const d = await decodeImage(name, bytes)
    const t1 = performance.now()
    preprocess(d.rgba, d.width, d.height, { style: 'digits' })
    pre.push(performance.now() - t1)
    dec.push(t1 - t0)
  }
  return { decode: percentile(dec.sort((a, b) => a - b), 0.5), pre: percentile(pre.sort((a, b) => a - b), 0.5) }
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))]
}

async function photo(digit: Buffer): Promise<Buffer> {
  // A 4000x3000 "photo": grey paper with a light vignette, the digit 600 px tall, off-centre.
  const ink = await sharp(digit).resize(600, 600, { fit: 'inside' }).toBuffer()
  return sharp({ create: { width: 4000, height: 3000, channels: 3, background: { r: 214, g: 210, b: 200 } } })
    .composite([{ input: ink, left: 2300, top: 900 }])
    .jpeg({ quality: 88 })
    .toBuffer()
}

async function time(predictor: Predictor, runId: number, name: string, bytes: Buffer): Promise<number[]> {
  // Warm up: first calls compile kernels and fill caches.
  for (let i = 0; i < 5; i++) await predictor.predictFile(runId, 'best', name, bytes, 3)
  const ms: number[] = []
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now()
    await predictor.predictFile(runId, 'best', name, bytes, 3)
    ms.push(performance.now() - t0)
  }
  return ms.sort((a, b) => a - b)
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-predict-'))
  const store = RunStore.open(dir)
  const rows: Row[] = []
  try {
    const preset = getPreset('lenet5-modern')
    if (!preset) throw new Error('preset lenet5-modern is missing')
    const config = TrainConfigSchema.parse({
      model: 'lenet5-modern', spec: preset.spec, dataset: 'mnist', optimizer: 'adam', lr: 0.001,
      batchSize: 64, epochs: 8, seed: 1, validation: { source: 'test' }, init: 'default'
    })
    const runId = store.create(config, { classes: [...'0123456789'], paramCount: 0 }).id
    cpSync(join(FIXTURES, 'model'), store.weightsDir(runId, 'best'), { recursive: true })

    const manifest: { file: string; format: string }[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))
    const jpegName = manifest.find((m) => m.format === 'jpeg')!.file
    const rendered = readFileSync(join(FIXTURES, 'images', jpegName))
    const big = await photo(rendered)
    const images: [string, Buffer][] = [
      [jpegName, rendered],
      ['photo-4000x3000.jpg', big]
    ]
    const sizes = new Map<string, string>()
    for (const [name, b] of images) {
      const m = await sharp(b).metadata()
      sizes.set(name, `${m.width}x${m.height}`)
    }

    const backends: string[] = ['cpu']
    try {
      const { selectBackend } = await import('../src/main/backends')
      await selectBackend('tensorflow')
      backends.push('tensorflow')
    } catch (err) {
      console.log(`native tensorflow backend not loadable: ${err instanceof Error ? err.message : String(err)}`)
    }
    for (const backend of backends) {
      await tf.setBackend(backend)
      await tf.ready()
      // A fresh predictor per backend, so the model's weights live on that backend.
      const predictor = new Predictor({ runs: store })
      for (const [name, bytes] of images) {
        const ms = await time(predictor, runId, name, bytes)
        const st = await stages(name, bytes)
        rows.push({
          backend,
          image: name,
          pixels: sizes.get(name) ?? '?',
          p50: +percentile(ms, 0.5).toFixed(2),
          p95: +percentile(ms, 0.95).toFixed(2),
          mean: +(ms.reduce((a, b) => a + b, 0) / ms.length).toFixed(2),
          decodeP50: +st.decode.toFixed(2),
          preprocessP50: +st.pre.toFixed(2)
        })
      }
      predictor.evict()
    }
  } finally {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  }
  // The machine's load says how far these are from an idle machine's figures.
  const load = loadavg()[0]
  console.log(`one dropped image end to end (decode, preprocess, LeNet-5, top-3), ${ITERATIONS} iterations, model loaded; load average ${load.toFixed(1)}`)
  const head = ['backend'.padEnd(11), 'image'.padEnd(34), 'size'.padEnd(10), 'p50 ms', 'p95 ms', 'mean ms', 'decode p50', 'prep p50']
  console.log(head.map((h, i) => (i < 3 ? h : h.padStart(10))).join(' '))
  for (const r of rows) {
    console.log(
      [r.backend.padEnd(11), r.image.padEnd(34), r.pixels.padEnd(10), ...[r.p50, r.p95, r.mean, r.decodeP50, r.preprocessP50].map((v) => String(v).padStart(10))].join(' ')
    )
  }
  const result = { iterations: ITERATIONS, targetMs: 50, loadAverage: +load.toFixed(2), cpus: (await import('node:os')).cpus().length, rows }
  console.log('PREDICT_JSON ' + JSON.stringify(result))
  return result
}
