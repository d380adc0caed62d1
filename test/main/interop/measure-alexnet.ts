// Peak memory of AlexNet (46,764,746 parameters, 187 MB of float32) through the interop paths, each
// in a fresh process so its VmHWM (the kernel's peak resident set) is that path's alone:
//   npx tsx test/main/interop/measure-alexnet.ts all
// prints one JSON line per step: the process's baseline (tfjs and the backend loaded) and its peak,
// in MB. Not a test (numbers vary with the machine); the figures go to the interop notes.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const mb = (kb: number) => Math.round(kb / 1024)
function status(): { rss: number; hwm: number } {
  const s = readFileSync('/proc/self/status', 'utf8')
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1])
  return { rss: mb(kb('VmRSS')), hwm: mb(kb('VmHWM')) }
}

async function step(mode: string, dir: string, arg: string): Promise<void> {
  const tf = await import('@tensorflow/tfjs')
  const { selectBackend } = await import('../../../src/main/backends')
  const backend = (await selectBackend('auto')).name
  const { RunStore } = await import('../../../src/main/services/runs')
  const { getPreset } = await import('../../../src/core/models/presets')
  const { TrainConfigSchema } = await import('../../../src/shared/schemas')
  const spec = getPreset('alexnet')!.spec
  const base = status()
  const started = performance.now()
  if (mode === 'make') {
    const { buildModel } = await import('../../../src/core/models/build')
    const { modelToArtifacts } = await import('../../../src/core/models/io')
    const { writeCheckpoint } = await import('../../../src/main/storage/checkpoint')
    const store = RunStore.open(dir)
    const config = TrainConfigSchema.parse({ model: 'alexnet', spec, dataset: 'mnist', optimizer: 'sgd', lr: 0.01, batchSize: 128, epochs: 1, seed: 1, validation: { source: 'test' }, init: 'default' })
    const run = store.create(config, { classes: [...'0123456789'], paramCount: 46_764_746 })
    const model = buildModel(spec, { init: 'default', seed: 1 })
    writeCheckpoint(store.weightsDir(run.id, 'best'), await modelToArtifacts(model))
    store.close()
  } else if (mode === 'export') {
    const { exportWeights } = await import('../../../src/main/interop/export')
    const store = RunStore.open(dir)
    await exportWeights(store, 1, arg as 'pytorch', join(dir, `export-${arg}`), 'digits')
    store.close()
  } else if (mode === 'import') {
    const { evaluateImport } = await import('../../../src/main/interop/evaluate')
    const { DatasetStore } = await import('../../../src/main/services/datasets')
    const data = await new DatasetStore({ dataDir: join(dir, 'data') }).load(join(import.meta.dirname, '../../fixtures/data/tiny-raw'))
    const r = await evaluateImport({ file: arg, spec, stagingDir: join(dir, `staged-${Date.now()}`) }, data)
    if (r.test.confusion.flat().reduce((a, b) => a + b, 0) !== data.test.count) throw new Error('evaluation lost examples')
  }
  const end = status()
  console.log(JSON.stringify({ mode, arg, backend, tensors: tf.memory().numTensors, baselineMB: base.rss, peakMB: end.hwm, aboveBaselineMB: end.hwm - base.rss, seconds: Math.round((performance.now() - started) / 100) / 10 }))
}

const [mode, dir, arg] = process.argv.slice(2)
if (mode === 'all') {
  const work = mkdtempSync(join(tmpdir(), 'alexnet-memory-'))
  mkdirSync(join(work, 'data'))
  const run = (...a: string[]) => process.stdout.write(execFileSync('npx', ['tsx', import.meta.filename, ...a], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('{')).join('\n') + '\n')
  try {
    run('make', work, '')
    for (const f of ['pytorch', 'onnx', 'tfjs']) run('export', work, f)
    run('import', work, join(work, 'export-pytorch', 'model.safetensors'))
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
} else await step(mode, dir, arg)
