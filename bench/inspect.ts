// Issue 18: one image seen through LeNet-5 (every layer's output, Grad-CAM, saliency), measured as
// the window gets it: a call to the model worker process, warm (model loaded), round trip included.
// Goal: < 100 ms. Also the same work in-process on the core alone, to show what the IPC costs.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getPreset } from '../src/core/models/presets'
import { ModelWorker } from '../src/main/services/model-worker'
import { nodeSpawner } from '../src/main/services/training'
import { RunStore } from '../src/main/services/runs'
import { TrainConfigSchema } from '../src/shared/schemas'

const FIXTURES = join(import.meta.dirname, '../test/fixtures/predict')
const ITERATIONS = 50

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-inspect-'))
  const store = RunStore.open(dir)
  const worker = new ModelWorker({ spawn: nodeSpawner(), runs: store, styleOf: async () => 'digits' })
  try {
    const preset = getPreset('lenet5-modern')!
    const config = TrainConfigSchema.parse({ model: preset.id, spec: preset.spec, dataset: 'mnist', optimizer: 'adam', lr: 0.001, batchSize: 64, epochs: 1, seed: 1, init: 'default', validation: { source: 'test' } })
    const runRec = store.create(config, { classes: Array.from({ length: 10 }, (_, i) => String(i)), paramCount: 0 })
    cpSync(join(FIXTURES, 'model'), store.weightsDir(runRec.id, 'best'), { recursive: true })
    const manifest = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8')) as { file: string; format: string }[]
    const file = manifest.find((m) => m.format === 'png')!.file
    const bytes = readFileSync(join(FIXTURES, 'images', file))
    // Warm: the first call starts the worker, picks its backend and loads the model.
    const t0 = performance.now()
    await worker.inspectFile(runRec.id, 'best', file, bytes, null)
    const coldMs = performance.now() - t0
    const round: number[] = []
    const inside: number[] = []
    for (let i = 0; i < ITERATIONS; i++) {
      const t = performance.now()
      const r = await worker.inspectFile(runRec.id, 'best', file, bytes, null)
      round.push(performance.now() - t)
      inside.push(r.milliseconds)
    }
    const row = { model: 'lenet5-modern', image: file, coldMs, p50: pct(round, 0.5), p95: pct(round, 0.95), workerP50: pct(inside, 0.5) }
    console.log(`inspect through the model worker (${ITERATIONS} calls, warm): p50 ${row.p50.toFixed(1)} ms, p95 ${row.p95.toFixed(1)} ms; inside the worker p50 ${row.workerP50.toFixed(1)} ms; first call ${coldMs.toFixed(0)} ms`)
    return row
  } finally {
    worker.close()
    store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
