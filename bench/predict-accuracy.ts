// Accuracy of a trained run on rendered test images (the way people photograph or scan them) against
// the same images raw, through the app's own Predictor: decode, the dataset's preprocessing style
// (digits: centre of mass; objects: fit), the run's best weights. The raw side is the run's own test
// predictions, so the gap is what rendering and preprocessing cost.
//   npx tsx test/fixtures/predict/make-images.ts --per-format 250 --seed 5 --out /tmp/rendered --mnist <idx dir>
//   npx tsx bench/predict-accuracy.ts <data dir> <run id> /tmp/rendered
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { RunStore } from '../src/main/services/runs'
import { defaultStyleOf, Predictor } from '../src/main/services/predict'

const [dataDir, runIdText, renderedDir] = process.argv.slice(2)
if (!dataDir || !runIdText || !renderedDir) {
  console.error('usage: npx tsx bench/predict-accuracy.ts <data dir> <run id> <rendered images dir>')
  process.exit(2)
}
const runId = Number(runIdText)
const store = RunStore.open(dataDir)
const run = store.get(runId)
const predictor = new Predictor({ runs: store })
const rawPredictions = store.predictions(runId, 'test')
const manifest: { file: string; format: string; label: number; index: number }[] = JSON.parse(readFileSync(join(renderedDir, 'manifest.json'), 'utf8'))

const stats = new Map<string, { raw: number; rendered: number; n: number; failed: number }>()
for (const m of manifest) {
  const s = stats.get(m.format) ?? { raw: 0, rendered: 0, n: 0, failed: 0 }
  stats.set(m.format, s)
  s.n++
  if (rawPredictions[m.index] === m.label) s.raw++
  try {
    const r = await predictor.predictFile(runId, 'best', m.file, new Uint8Array(readFileSync(join(renderedDir, m.file))), 1)
    if (r.top[0].classIndex === m.label) s.rendered++
  } catch {
    s.failed++
  }
}
const pct = (a: number, n: number) => `${((100 * a) / n).toFixed(2)}%`
console.log(`run ${runId} (${run.model} on ${run.dataset}, style ${defaultStyleOf(run.dataset)}), test accuracy ${pct(run.testAcc ?? 0, 1)}`)
console.log('format            n      raw   rendered   failed')
let raw = 0
let rendered = 0
for (const [f, s] of stats) {
  raw += s.raw
  rendered += s.rendered
  console.log(`${f.padEnd(16)} ${String(s.n).padStart(3)} ${pct(s.raw, s.n).padStart(8)} ${pct(s.rendered, s.n).padStart(10)} ${String(s.failed).padStart(8)}`)
}
console.log(`${'all'.padEnd(16)} ${String(manifest.length).padStart(3)} ${pct(raw, manifest.length).padStart(8)} ${pct(rendered, manifest.length).padStart(10)}`)
store.close()
