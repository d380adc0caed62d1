// The promise of the Predict view: a digit photographed or scanned as dark ink on light paper, at
// any size and place, scores as well as the same digit straight from the dataset. The fixture holds
// MNIST test digits (never trained on) rendered by ../../fixtures/predict/make-images.ts as JPEG,
// grayscale PNG, RGB PNG and transparent PNG, with the raw 28x28 digits beside them.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Predictor } from '../../../src/main/services/predict'
import { FIXTURES, setupRun, type ManifestEntry, type Setup } from './helpers'

const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))

describe('accuracy on rendered digits vs the same raw digits', () => {
  let s: Setup
  let predictor: Predictor
  beforeAll(() => {
    s = setupRun()
    predictor = new Predictor({ runs: s.store })
  })
  afterAll(() => s.close())

  it('is within 2 points, for every format together and none far off', async () => {
    expect(new Set(manifest.map((m) => m.format))).toEqual(new Set(['jpeg', 'png', 'rgb-png', 'transparent-png']))
    const raw = Buffer.concat(manifest.map((m) => Buffer.from(m.raw, 'base64')))
    const probs = await predictor.predictPixels(s.runId, 'best', raw, manifest.length, 28)
    let rawRight = 0
    let renderedRight = 0
    const perFormat = new Map<string, { raw: number; rendered: number; n: number }>()
    for (const [i, m] of manifest.entries()) {
      const row = Array.from(probs.subarray(i * 10, i * 10 + 10))
      const rawPred = row.indexOf(Math.max(...row))
      const r = await predictor.predictFile(s.runId, 'best', m.file, readFileSync(join(FIXTURES, 'images', m.file)), 1)
      const f = perFormat.get(m.format) ?? { raw: 0, rendered: 0, n: 0 }
      f.n++
      if (rawPred === m.label) {
        rawRight++
        f.raw++
      }
      if (r.top[0].classIndex === m.label) {
        renderedRight++
        f.rendered++
      }
      perFormat.set(m.format, f)
    }
    const rawAcc = rawRight / manifest.length
    const renderedAcc = renderedRight / manifest.length
    // The model itself must be good, or "as good as raw" says nothing.
    expect(rawAcc).toBeGreaterThanOrEqual(0.9)
    expect(renderedAcc).toBeGreaterThanOrEqual(rawAcc - 0.02)
    for (const [format, f] of perFormat) expect(f.rendered, format).toBeGreaterThanOrEqual(f.raw - 1)
  })
})
