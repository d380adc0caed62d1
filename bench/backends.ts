// LeNet-5 training examples/s (batch 256, synthetic data) on every backend this machine can load,
// the same measurement as `conv-studio doctor`, and Chromium's WebGPU through the training worker
// (browser-gpu.ts, batch 64 as the Device view measures it). BENCH_BACKEND_SECONDS sets the seconds per backend.
import { benchmarkBackends, probeBackends, recommend, releaseBackends } from '../src/main/backends'
import { measureBrowserGpu } from './browser-gpu'

export async function run(): Promise<Record<string, unknown>> {
  const seconds = Number(process.env.BENCH_BACKEND_SECONDS ?? 10)
  const report = await probeBackends()
  try {
    const available = report.candidates.filter((c) => c.available).map((c) => c.name)
    const results = await benchmarkBackends(seconds, available)
    const browser = await measureBrowserGpu(seconds)
    const all = [...results, browser, ...report.candidates.filter((c) => !c.available).map((c) => ({ backend: c.name, device: c.device, examplesPerSec: null, batchSize: 0, steps: 0, seconds: 0, error: c.reason }))]
    const rows = all.map((r) => [r.backend, r.examplesPerSec === null ? '-' : Math.round(r.examplesPerSec).toLocaleString('en-US'), r.batchSize ? String(r.batchSize) : '-', r.device ?? '', r.error ?? ''])
    const header = ['backend', 'examples/s', 'batch', 'device', 'note']
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
    const line = (cells: string[]): string => cells.map((c, i) => (i === 1 || i === 2 ? c.padStart(w[i]) : i === 4 ? c : c.padEnd(w[i]))).join('  ').trimEnd()
    console.log(`LeNet-5 training, SGD, synthetic data, ~${seconds} s per backend (auto picks ${report.chosen})`)
    console.log(line(header))
    for (const row of rows) console.log(line(row))
    const recommendation = recommend(report, results)
    console.log(`Recommendation: ${recommendation}`)
    const figures = {
      chosen: report.chosen,
      secondsPerBackend: seconds,
      examplesPerSec: Object.fromEntries(all.map((r) => [r.backend, r.examplesPerSec === null ? null : Math.round(r.examplesPerSec)])),
      batchSize: Object.fromEntries(all.filter((r) => r.examplesPerSec !== null).map((r) => [r.backend, r.batchSize])),
      unavailable: Object.fromEntries(all.filter((r) => r.examplesPerSec === null).map((r) => [r.backend, r.error])),
      recommendation
    }
    console.log('BENCH_BACKENDS_JSON ' + JSON.stringify(figures))
    return figures
  } finally {
    releaseBackends()
  }
}
