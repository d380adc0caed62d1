// `conv-studio doctor [--seconds N] [--json]`: every tfjs backend, loadable or not and why, the GPUs
// seen, which CUDA libraries tfjs-node-gpu would find, a measured LeNet-5 training benchmark on each
// working backend, and the recommendation that follows.
import { InvalidArgumentError, Option, type Command } from 'commander'
import {
  benchmarkBackends,
  probeBackends,
  recommend,
  releaseBackends,
  type BackendBenchmark,
  type FullBackendReport
} from '../backends'
import { diagnoseCuda, type CudaDiagnosis } from '../backends/gpus'
import { browserGpuReportFile, readSavedBrowserGpu, type SavedBrowserGpu } from '../transports/browser-worker'
import { adapterLabel } from '../../shared/browser-gpu'
import { dataDirOf } from './common'

export interface DoctorResult {
  report: FullBackendReport
  cuda: CudaDiagnosis
  /** Empty when run with --seconds 0. */
  benchmark: BackendBenchmark[]
  benchmarkSeconds: number
  recommendation: string
  /** Chromium's WebGPU as the last browser window of the web UI reported it (doctor has no browser). */
  browserGpu: SavedBrowserGpu | null
}

export function parseSeconds(value: string): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || n > 120) {
    throw new InvalidArgumentError(`--seconds must be a number from 0 (no benchmark) to 120, got '${value}'`)
  }
  return n
}

export async function runDoctor(seconds: number, dataDir?: string): Promise<DoctorResult> {
  const report = await probeBackends()
  const cuda = diagnoseCuda()
  const available = report.candidates.filter((c) => c.available).map((c) => c.name)
  const benchmark = seconds > 0 ? await benchmarkBackends(seconds, available) : []
  const recommendation = seconds > 0
    ? recommend(report, benchmark)
    : `Use ${report.chosen} (the automatic choice); run with --seconds N to measure.`
  const browserGpu = dataDir ? readSavedBrowserGpu(browserGpuReportFile(dataDir)) : null
  return { report, cuda, benchmark, benchmarkSeconds: seconds, recommendation, browserGpu }
}

function versionsText(versions: Record<string, string>): string {
  return Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')
}

export function formatDoctor(r: DoctorResult): string {
  const out: string[] = []
  out.push(`Backends, in the order auto tries them (auto picks: ${r.report.chosen})`)
  const width = Math.max(...r.report.candidates.map((c) => c.name.length))
  for (const c of r.report.candidates) {
    const status = c.available ? (c.reason ? 'works, not for auto' : 'works') : 'unavailable'
    out.push(`  ${c.name.padEnd(width)}  ${status}${c.device ? `  ${c.device}` : ''}`)
    if (c.reason) out.push(`  ${' '.repeat(width)}  why: ${c.reason}`)
    if (Object.keys(c.versions).length > 0) out.push(`  ${' '.repeat(width)}  versions: ${versionsText(c.versions)}`)
  }
  out.push('')
  out.push(`GPUs seen: ${r.report.gpus.length === 0 ? 'none' : r.report.gpus.map((g) => `${g.name} [${g.source}]`).join('; ')}`)
  if (r.cuda.found.length + r.cuda.missing.length > 0) {
    out.push(`CUDA libraries for tfjs-node-gpu 4.x (CUDA 11.2 + cuDNN 8.1): found ${r.cuda.found.join(', ') || 'none'}; missing ${r.cuda.missing.join(', ') || 'none'}`)
  }
  if (r.cuda.explanation) out.push(`  ${r.cuda.explanation}`)
  out.push('')
  if (r.benchmark.length > 0) {
    out.push(`LeNet-5 training (SGD, synthetic data), about ${r.benchmarkSeconds} s per backend`)
    const rows = r.benchmark.map((b) => [
      b.backend,
      b.examplesPerSec === null ? '-' : Math.round(b.examplesPerSec).toLocaleString('en-US'),
      b.batchSize ? String(b.batchSize) : '-',
      b.steps ? String(b.steps) : '-',
      b.error ?? ''
    ])
    const header = ['backend', 'examples/s', 'batch', 'steps', 'error']
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
    const line = (cells: string[]): string =>
      cells.map((c, i) => (i >= 1 && i <= 3 ? c.padStart(w[i]) : i === 4 ? c : c.padEnd(w[i]))).join('  ').trimEnd()
    out.push(`  ${line(header)}`)
    for (const row of rows) out.push(`  ${line(row)}`)
    if (r.benchmark.some((b) => b.batchSize > 0 && b.batchSize < 256)) {
      out.push('  (a backend too slow for a step of 256 within a quarter of the time is measured at a smaller batch)')
    }
    out.push('')
  }
  const b = r.browserGpu
  out.push(
    !b
      ? "Chromium WebGPU (browser-webgpu): trains in a browser tab's GPU in web mode; open `conv-studio serve` in Chrome or Edge (its Device view measures it)."
      : !b.adapter
        ? `Chromium WebGPU (browser-webgpu): ${b.browser} reported no adapter on ${b.reportedAt.slice(0, 10)}: ${b.reason ?? ''}`
        : `Chromium WebGPU (browser-webgpu, reported by ${b.browser} on ${b.reportedAt.slice(0, 10)}): ${adapterLabel(b.adapter)}${b.adapter.software ? ', a software adapter (never chosen automatically)' : ''}; LeNet-5 ${b.examplesPerSec ? `${Math.round(b.examplesPerSec).toLocaleString('en-US')} examples/s` : 'not measured'}`
  )
  out.push('')
  out.push(`Recommendation: ${r.recommendation}`)
  return out.join('\n')
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check every tfjs backend (native CUDA/CPU, WebGPU, wasm, cpu), the GPUs seen, and benchmark LeNet-5 training on each')
    .addOption(new Option('--seconds <n>', 'seconds of LeNet-5 training per working backend; 0 skips the benchmark').default(10).argParser(parseSeconds))
    .option('--json', 'print one JSON object instead of the report')
    .action(async (opts: { seconds: number; json?: boolean }, cmd: Command) => {
      try {
        const result = await runDoctor(opts.seconds, dataDirOf(cmd))
        console.log(opts.json ? JSON.stringify(result, null, 2) : formatDoctor(result))
      } finally {
        releaseBackends()
      }
    })
}
