// `npm run bench -- images`: importing a folder of pictures, and training on one.
//  1. Import speed (images/s) and peak memory (the import runs in a child process of its own, so
//     its peak RSS is the import's) for a generated 20,000-image folder of 32x32 colour PNGs.
//  2. lenet5-modern, Adam 1e-3, batch 128, 10 epochs on a generated 5,000-photo folder of 10
//     classes (4,000 train / 1,000 test, its own train/ and test/), against PyTorch trained the
//     same way on the same files (bench/torch_folder.py). BENCH_IMAGES_EPOCHS changes the epochs;
//     torch_folder.py reads SEED for other seeds.
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeShapesFolder, type Shape } from '../test/helpers/shapes'
import { fitSpecToData } from '../src/core/models/fit'
import { getPreset } from '../src/core/models/presets'
import { train } from '../src/core/training/trainer'
import { selectBackend } from '../src/main/backends'
import { DatasetStore } from '../src/main/services/datasets'

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
    const store = new DatasetStore({ dataDir: join(root, 'data2') })
    await store.importImages(photos, 'photos')
    const data = await store.load('photos')
    const backend = await selectBackend('auto')
    const spec = fitSpecToData(getPreset('lenet5-modern')!.spec, { channels: 3, size: 32, numClasses: 10 })
    const t = performance.now()
    const result = await train(
      { model: 'lenet5-modern', spec, dataset: 'photos', optimizer: 'adam', lr: 1e-3, batchSize: 128, epochs, seed: 1, validation: { source: 'test' }, init: 'default' },
      data,
      {}
    )
    const oursSeconds = (performance.now() - t) / 1000
    const ours = { testAcc: result.test?.acc ?? null, lastEpochVal: result.bestValAcc, seconds: oursSeconds, backend: backend.name }
    console.log(`ours (${backend.name}): test accuracy ${(ours.testAcc! * 100).toFixed(2)}% after ${epochs} epochs, ${oursSeconds.toFixed(1)} s`)
    let torch: unknown = null
    if (existsSync('/usr/bin/python3')) {
      torch = await new Promise((resolve) =>
        execFile('python3', [join(import.meta.dirname, 'torch_folder.py'), photos, String(epochs)], { maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
          resolve(err ? { error: stderr.trim().split('\n').pop() } : JSON.parse(stdout.trim().split('\n').pop()!))
        )
      )
      console.log(`PyTorch: ${JSON.stringify(torch)}`)
    }
    figures.training = { epochs, images: { train: data.train.count, test: data.test.count }, ours, torch }
    return figures
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--child') void child(process.argv[3], process.argv[4])
