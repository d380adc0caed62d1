// `npm run bench -- images`: importing a folder of pictures, and training on one.
//  1. Import speed (images/s) and peak memory (the import runs in a child process of its own, so
//     its peak RSS is the import's) for a generated 20,000-image folder of 32x32 colour PNGs.
//  2. lenet5-modern, Adam 1e-3, batch 128, 10 epochs on a generated 5,000-photo folder of 10
//     classes (4,000 train / 1,000 test, its own train/ and test/), against PyTorch trained the
//     same way on the same files (bench/torch_folder.py, whose docstring lists every choice that
//     makes it "the same way"). Both sides validate on the test split after every epoch and report
//     the best epoch's test accuracy (what the studio keeps with validation source 'test') and the
//     last epoch's: a best-of-10 on one side against a last-epoch figure on the other is what
//     made the first measurement look 6 points apart. BENCH_IMAGES_EPOCHS changes the epochs,
//     BENCH_IMAGES_SEEDS (default "1,2,3") the seeds; each seed trains both sides.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeShapesFolder, type Shape } from '../test/helpers/shapes'
import { fitSpecToData } from '../src/core/models/fit'
import { getPreset } from '../src/core/models/presets'
import { train } from '../src/core/training/trainer'
import { selectBackend } from '../src/main/backends'
import { DatasetStore } from '../src/main/services/datasets'
import { channelStats } from '../src/core/data/normalise'

/** One side's figures for one seed: test accuracy of the best epoch (= testAcc) and of the last. */
interface Side {
  testAcc: number
  bestAcc: number
  bestEpoch: number
  lastAcc: number
  perEpoch: number[]
  seconds: number
}

const pct = (a: number): string => `${(a * 100).toFixed(2)}%`

const TEN: Record<string, [Shape, 'red' | 'blue' | 'green' | 'yellow']> = {
  'red circle': ['circle', 'red'],
  'red square': ['square', 'red'],
  'red triangle': ['triangle', 'red'],
  'red cross': ['cross', 'red'],
  'red ring': ['ring', 'red'],
  'blue circle': ['circle', 'blue'],
  'blue square': ['square', 'blue'],
  'blue triangle': ['triangle', 'blue'],
  'blue cross': ['cross', 'blue'],
  'blue ring': ['ring', 'blue']
}

async function child(folder: string, dataDir: string): Promise<void> {
  const store = new DatasetStore({ dataDir })
  const t = performance.now()
  const { report } = await store.importImages(folder, 'bench')
  const seconds = (performance.now() - t) / 1000
  const images = report!.train.count + report!.test.count
  process.stdout.write(JSON.stringify({ images, seconds, imagesPerSec: images / seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n')
}

export async function run(): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'cs-bench-images-'))
  try {
    const figures: Record<string, unknown> = {}
    // 1. Import (BENCH_IMAGES_SKIP_IMPORT=1 skips it).
    if (!process.env.BENCH_IMAGES_SKIP_IMPORT) {
    const big = join(root, 'big')
    const t = performance.now()
    await makeShapesFolder(big, { classes: TEN, perClass: 2000, side: 32, seed: 5, jitter: 0.5, square: true })
    console.log(`generated 20,000 PNGs in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'images.ts'), '--child', big, join(root, 'data')], { encoding: 'utf8', maxBuffer: 1 << 24 })
    const imp = JSON.parse(out.trim().split('\n').pop()!) as { images: number; seconds: number; imagesPerSec: number; peakRssMb: number }
    console.log(`import: ${imp.images} images in ${imp.seconds.toFixed(1)} s = ${imp.imagesPerSec.toFixed(0)} images/s, peak RSS ${imp.peakRssMb.toFixed(0)} MB`)
    figures.import = imp
    rmSync(big, { recursive: true, force: true })
    }

    // 2. Training, ours and PyTorch's, on the same files (BENCH_IMAGES_SKIP_TRAIN=1 skips it).
    if (process.env.BENCH_IMAGES_SKIP_TRAIN) return figures
    const photos = join(root, 'photos')
    await makeShapesFolder(photos, { classes: TEN, perClass: 400, side: 32, seed: 11, sub: 'train', jitter: 0.5, square: true })
    await makeShapesFolder(photos, { classes: TEN, perClass: 100, side: 32, seed: 12, sub: 'test', jitter: 0.5, square: true })
    const epochs = Number(process.env.BENCH_IMAGES_EPOCHS ?? 10)
    const seeds = (process.env.BENCH_IMAGES_SEEDS ?? '1,2,3').split(',').map(Number)
    const store = new DatasetStore({ dataDir: join(root, 'data2') })
    await store.importImages(photos, 'photos')
    const data = await store.load('photos')
    const backend = await selectBackend('auto')
    const spec = fitSpecToData(getPreset('lenet5-modern')!.spec, { channels: 3, size: 32, numClasses: 10 })
    // Printed by torch_folder.py for its own decoding of the same files: equal means, same pixels.
    const trainPixelMean = channelStats(data.train).mean
    console.log(`train pixel mean per channel: ${trainPixelMean.join(', ')}`)
    const ourSides: Side[] = []
    for (const seed of seeds) {
      const perEpoch: number[] = []
      const t = performance.now()
      const result = await train(
        { model: 'lenet5-modern', spec, dataset: 'photos', optimizer: 'adam', lr: 1e-3, batchSize: 128, epochs, seed, validation: { source: 'test' }, init: 'default' },
        data,
        { onEpoch: (e) => void perEpoch.push(e.valAcc) }
      )
      const ours: Side = { testAcc: result.test!.acc, bestAcc: result.bestValAcc!, bestEpoch: result.bestEpoch!, lastAcc: perEpoch[perEpoch.length - 1], perEpoch: perEpoch.map((a) => Number(a.toFixed(4))), seconds: (performance.now() - t) / 1000 }
      console.log(`seed ${seed} ours (${backend.name}): best ${pct(ours.bestAcc)} (epoch ${ours.bestEpoch}), last ${pct(ours.lastAcc)}, ${ours.seconds.toFixed(1)} s`)
      ourSides.push(ours)
    }
    // One PyTorch process for every seed: the files are decoded once (its PNG reader is pure Python).
    const torchSides = await new Promise<(Side & { trainPixelMean?: number[] })[] | { error: string }>((resolve) =>
      execFile('python3', [join(import.meta.dirname, 'torch_folder.py'), photos, String(epochs)], { maxBuffer: 1 << 24, env: { ...process.env, SEEDS: seeds.join(',') } }, (err, stdout, stderr) =>
        resolve(err ? { error: stderr.trim().split('\n').pop() ?? 'failed' } : stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Side))
      )
    )
    if ('error' in torchSides) console.log(`PyTorch: ${torchSides.error}`)
    else {
      console.log(`PyTorch's train pixel mean per channel: ${torchSides[0]?.trainPixelMean?.join(', ')}`)
      torchSides.forEach((t, i) => console.log(`seed ${seeds[i]} PyTorch: best ${pct(t.bestAcc)} (epoch ${t.bestEpoch}), last ${pct(t.lastAcc)}, ${t.seconds.toFixed(1)} s`))
    }
    const rows = seeds.map((seed, i) => ({ seed, ours: ourSides[i], torch: 'error' in torchSides ? null : (torchSides[i] ?? null) }))
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    const means = {
      ours: { bestAcc: mean(ourSides.map((o) => o.bestAcc)), lastAcc: mean(ourSides.map((o) => o.lastAcc)) },
      torch: !('error' in torchSides) && torchSides.length === seeds.length ? { bestAcc: mean(torchSides.map((t) => t.bestAcc)), lastAcc: mean(torchSides.map((t) => t.lastAcc)) } : null
    }
    if (means.torch)
      console.log(`means over seeds ${seeds.join(',')}: best ours ${pct(means.ours.bestAcc)} vs PyTorch ${pct(means.torch.bestAcc)}; last ours ${pct(means.ours.lastAcc)} vs PyTorch ${pct(means.torch.lastAcc)}`)
    figures.training = { epochs, backend: backend.name, images: { train: data.train.count, test: data.test.count }, trainPixelMean, rows, means }
    return figures
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--child') void child(process.argv[3], process.argv[4])
