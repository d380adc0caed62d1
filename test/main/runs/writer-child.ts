// A process that records a training run as the service host would, forever, until it is killed.
// Used by faults.test.ts: `node --import tsx test/main/runs/writer-child.ts <dataDir>`.
import { join } from 'node:path'
import { RunStore } from '../../../src/main/services/runs'
import { CLASSES, config, confusion, epochRecord, writeCheckpoint } from './helpers'

const dataDir = process.argv[2]
if (!dataDir) throw new Error('usage: writer-child.ts <dataDir>')
const store = RunStore.open(dataDir)
const run = store.create(config({ epochs: 1000 }), { name: 'killed mid-run', classes: CLASSES, paramCount: 65536 })
store.markStarted(run.id, { backend: 'cpu', device: null, libVersions: {} })
process.stdout.write(`run ${run.id}\n`)
const preds = new Uint8Array(10_000)
for (let epoch = 1; ; epoch++) {
  for (let b = 0; b < 20; b++)
    store.recordSteps(run.id, Array.from({ length: 10 }, (_, i) => ({ x: epoch - 1 + (b * 10 + i + 1) / 200, loss: 1 / epoch, acc: 0.5 })))
  preds.fill(epoch % 10)
  const staging = store.stagingDir(run.id)
  // 256 KiB of weights per checkpoint, so a kill often lands inside a file write or a rename.
  const checkpoints: { kind: 'best' | 'last'; stagedDir: string }[] = [
    { kind: 'last', stagedDir: writeCheckpoint(join(staging, `last-${epoch}`), 65536, epoch) }
  ]
  if (epoch % 2 === 1) checkpoints.push({ kind: 'best', stagedDir: writeCheckpoint(join(staging, `best-${epoch}`), 65536, epoch) })
  store.recordEpoch(run.id, epochRecord(epoch), confusion(), preds, checkpoints)
  process.stdout.write(`epoch ${epoch}\n`)
}
