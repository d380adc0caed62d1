// Data-layer timings: reading the canonical Fashion-MNIST training set (must stay under 1 s), the
// bundled-package conversion and its cache, and the split/shuffle helpers.
// Reads /work/shared/datasets (or $CONV_STUDIO_BENCH_DATASETS); skips what is not there.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync as fflateGunzip } from 'fflate'
import { epochOrder } from '../src/core/data/batches'
import { parseImages } from '../src/core/data/idx'
import { splitIndices } from '../src/core/data/split'
import type { ImageSet } from '../src/core/data/types'
import { clearDatasetMemory, DatasetStore } from '../src/main/services/datasets'
import { readIdxBytes } from '../src/main/services/datasets-io'

const shared = process.env.CONV_STUDIO_BENCH_DATASETS ?? '/work/shared/datasets'

async function median(times: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const ms: number[] = []
  for (let i = 0; i < times; i++) {
    const t = performance.now()
    await fn()
    ms.push(performance.now() - t)
  }
  ms.sort((a, b) => a - b)
  return Math.round(ms[ms.length >> 1])
}

/** Records (label + pixels) in common between `ours` and `canon`, counted as multisets. */
function compareRecords(ours: ImageSet[], canon: ImageSet): { common: number; onlyOurs: number; onlyCanonical: number } {
  const counts = new Map<string, number>()
  const keyOf = (s: ImageSet, i: number) => {
    const n = s.height * s.width
    return `${s.labels[i]}:${Buffer.from(s.images.buffer, s.images.byteOffset + i * n, n).toString('base64')}`
  }
  for (let i = 0; i < canon.count; i++) counts.set(keyOf(canon, i), (counts.get(keyOf(canon, i)) ?? 0) + 1)
  let common = 0
  let onlyOurs = 0
  for (const s of ours)
    for (let i = 0; i < s.count; i++) {
      const k = keyOf(s, i)
      const left = counts.get(k) ?? 0
      if (left > 0) {
        common++
        counts.set(k, left - 1)
      } else onlyOurs++
    }
  return { common, onlyOurs, onlyCanonical: canon.count - common }
}

export async function run(): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {}
  const rows: [string, string][] = []
  const fashion = join(shared, 'fashion-mnist')
  const trainImages = join(fashion, 'train-images-idx3-ubyte.gz')
  if (existsSync(trainImages)) {
    await readIdxBytes(trainImages) // warm the page cache and the JIT
    const cpu0 = process.cpuUsage()
    figures.fashionTrainImagesReadMs = await median(5, async () => parseImages(await readIdxBytes(trainImages), trainImages))
    const cpu = process.cpuUsage(cpu0)
    // CPU time per read says what the code costs when the machine is shared (wall time includes waiting).
    figures.fashionTrainImagesReadCpuMs = Math.round((cpu.user + cpu.system) / 1000 / 5)
    figures.loadAverage1m = Number((await import('node:os')).loadavg()[0].toFixed(1))
    rows.push(['Fashion-MNIST train images (60k, gz): read + gunzip (zlib) + parse', `${figures.fashionTrainImagesReadMs} ms (CPU ${figures.fashionTrainImagesReadCpuMs} ms; load avg ${figures.loadAverage1m})`])
    const gz = new Uint8Array(readFileSync(trainImages))
    figures.fashionTrainImagesFflateGunzipMs = await median(3, () => fflateGunzip(gz))
    rows.push(['  same gunzip with fflate (for comparison)', `${figures.fashionTrainImagesFflateGunzipMs} ms`])
    const scratch = mkdtempSync(join(tmpdir(), 'cs-bench-data-'))
    const store = new DatasetStore({ dataDir: scratch })
    figures.fashionFolderLoadMs = await median(5, async () => {
      clearDatasetMemory()
      return store.load(fashion)
    })
    rmSync(scratch, { recursive: true, force: true })
    rows.push(['Fashion-MNIST folder, all four files (70k): load', `${figures.fashionFolderLoadMs} ms`])
  } else rows.push([`${fashion}`, 'missing: skipped'])

  const dataDir = mkdtempSync(join(tmpdir(), 'cs-bench-data-'))
  try {
    for (const id of ['mnist-sample', 'fashion-mnist']) {
      clearDatasetMemory()
      const t = performance.now()
      await new DatasetStore({ dataDir }).load(id)
      figures[`${id}FirstLoadMs`] = Math.round(performance.now() - t)
      figures[`${id}CachedLoadMs`] = await median(5, () => {
        clearDatasetMemory()
        return new DatasetStore({ dataDir }).load(id)
      })
      figures[`${id}MemoryLoadMs`] = await median(5, () => new DatasetStore({ dataDir }).load(id))
      rows.push([`${id}: first start (convert npm JSON -> IDX cache)`, `${figures[`${id}FirstLoadMs`]} ms`])
      rows.push([`${id}: later start (IDX cache)`, `${figures[`${id}CachedLoadMs`]} ms`])
      rows.push([`${id}: in memory`, `${figures[`${id}MemoryLoadMs`]} ms`])
    }
    // The package-vs-canonical facts in the catalog notes, re-checked on the converted arrays.
    for (const [id, canonDir, pairs] of [
      ['fashion-mnist', 'fashion-mnist', [['train', 'train'], ['test', 't10k']]],
      ['mnist-sample', 'mnist-10k', [['train+test', 'train']]]
    ] as const) {
      if (!existsSync(join(shared, canonDir))) continue
      const d = await new DatasetStore({ dataDir }).load(id)
      for (const [ours, theirs] of pairs) {
        const sets = ours === 'train' ? [d.train] : ours === 'test' ? [d.test] : [d.train, d.test]
        const canon = await new DatasetStore({ dataDir }).load(join(shared, canonDir))
        const c = theirs === 'train' ? canon.train : canon.test
        const key = `${id}:${ours}VsCanonical${theirs === 'train' ? 'Train' : 'Test'}`
        figures[key] = compareRecords(sets, c)
        rows.push([key, JSON.stringify(figures[key])])
      }
    }
    const data = await new DatasetStore({ dataDir }).load('fashion-mnist')
    figures.split60kStratifiedMs = await median(5, () => splitIndices(data.train.labels, 0.2, 1, true))
    figures.epochOrder60kMs = await median(5, () => epochOrder(data.train.count, 1, 3))
    rows.push(['splitIndices 60k stratified', `${figures.split60kStratifiedMs} ms`])
    rows.push(['epochOrder 60k', `${figures.epochOrder60kMs} ms`])
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
  const w = Math.max(...rows.map((r) => r[0].length))
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`)
  console.log(JSON.stringify({ data: figures }))
  return figures
}
