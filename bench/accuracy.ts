// Accuracy runs of issue 4 (minutes each; not part of CI):
//   npx tsx bench/accuracy.ts <idx-folder> d2l [seeds...]   lenet5, d2l settings (SGD 0.9, batch 256, Xavier, 10 epochs,
//                                                          validation = test set), default seeds 0 1 2
//   npx tsx bench/accuracy.ts <idx-folder> adam [seeds...]  lenet5, train/val/test script settings (Adam 1e-3, batch 128,
//                                                          80/20 split, best epoch by val acc, 10 epochs)
//   key=value arguments override the recipe's settings, e.g. init=xavier lr=0.002 model=lenet5-leaky
// Prints one line per epoch and a JSON line per run, then the median test accuracy.
import * as tf from '@tensorflow/tfjs'
import { getPreset } from '../src/core/models/presets'
import { train } from '../src/core/training/trainer'
import type { TrainConfigInput } from '../src/shared/schemas'
import { loadNative, readIdxFolder } from './training-support'

async function main(): Promise<void> {
  const [folder, recipe = 'd2l', ...rest] = process.argv.slice(2)
  // key=value arguments override the recipe (init=xavier, lr=0.002, epochs=20, ...); numbers are seeds.
  const overrides = Object.fromEntries(
    rest.filter((a) => a.includes('=')).map((a) => {
      const [k, v] = a.split('=')
      return [k, Number.isNaN(Number(v)) ? v : Number(v)]
    })
  )
  const seedArgs = rest.filter((a) => !a.includes('='))
  if (!folder || (recipe !== 'd2l' && recipe !== 'adam')) {
    console.error('usage: npx tsx bench/accuracy.ts <idx-folder> d2l|adam [seeds...]')
    process.exit(2)
  }
  const native = await loadNative()
  console.log(`backend: ${tf.getBackend()}${native.ok ? '' : ` (native not loaded: ${native.reason})`}`)
  const data = await readIdxFolder(folder)
  const preset = getPreset(recipe === 'd2l' ? 'lenet5' : 'lenet5-adam')!
  // `model=<preset>` trains another network with the recipe's settings (e.g. model=lenet5-leaky).
  const network = typeof overrides.model === 'string' ? getPreset(overrides.model) : preset
  if (!network) {
    console.error(`unknown model preset '${overrides.model}'`)
    process.exit(2)
  }
  const seeds = seedArgs.length > 0 ? seedArgs.map(Number) : [0, 1, 2]
  const accs: number[] = []
  for (const seed of seeds) {
    const config: TrainConfigInput = {
      ...(preset.recommended as TrainConfigInput),
      model: network.id,
      spec: network.spec,
      dataset: folder,
      seed,
      ...overrides
    }
    const t0 = performance.now()
    const result = await train(config, data, {
      onEpoch: (e) =>
        console.log(
          `seed ${seed} epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(3)} acc ${e.trainAcc.toFixed(3)}, val loss ${e.valLoss.toFixed(3)} acc ${e.valAcc.toFixed(3)}, ${Math.round(e.examplesPerSec)} ex/s${e.isBest ? ' *' : ''}`
        )
    })
    const line = {
      recipe,
      seed,
      backend: tf.getBackend(),
      testAcc: result.test?.acc ?? null,
      testLoss: result.test?.loss ?? null,
      bestEpoch: result.bestEpoch,
      bestValAcc: result.bestValAcc,
      examplesPerSec: Math.round(result.examplesPerSec),
      seconds: Math.round((performance.now() - t0) / 1000)
    }
    console.log('ACCURACY_JSON ' + JSON.stringify(line))
    if (result.test) accs.push(result.test.acc)
  }
  const sorted = [...accs].sort((a, b) => a - b)
  console.log(`median test acc over ${accs.length} seed(s): ${sorted[Math.floor(sorted.length / 2)]?.toFixed(4)} (all: ${accs.map((a) => a.toFixed(4)).join(', ')})`)
}

void main()
