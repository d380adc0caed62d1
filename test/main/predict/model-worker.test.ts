// Predictions for the window leave the host: the model worker is a real child process, answers
// exactly what the in-process Predictor answers, survives being killed, and reports failures as
// the Predictor's own errors.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ModelWorker } from '../../../src/main/services/model-worker'
import { Predictor } from '../../../src/main/services/predict'
import { nodeSpawner } from '../../../src/main/services/training'
import { StudioError } from '../../../src/shared/contract'
import { FIXTURES, setupRun, type ManifestEntry, type Setup } from './helpers'

const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))

let s: Setup
let worker: ModelWorker
beforeAll(() => {
  s = setupRun()
  worker = new ModelWorker({ spawn: nodeSpawner(), runs: s.store, styleOf: async () => 'digits' })
})
afterAll(() => {
  worker.close()
  s.close()
})

describe('model worker', () => {
  it('predicts a dropped file in a child process with the same answer as the in-process predictor', async () => {
    const entry = manifest.find((m) => m.format === 'png') as ManifestEntry
    const bytes = readFileSync(join(FIXTURES, 'images', entry.file))
    const remote = await worker.predictFile(s.runId, 'best', entry.file, bytes, 3)
    expect(worker.pid).toBeGreaterThan(0)
    expect(worker.pid).not.toBe(process.pid)
    const local = await new Predictor({ runs: s.store }).predictFile(s.runId, 'best', entry.file, bytes, 3)
    expect(remote.top.map((t) => t.classIndex)).toEqual(local.top.map((t) => t.classIndex))
    remote.top.forEach((t, i) => expect(t.probability).toBeCloseTo(local.top[i].probability, 4))
    expect(remote.steps.map((x) => x.name)).toEqual(local.steps.map((x) => x.name))
    expect(remote.top[0].classIndex).toBe(entry.label)
  }, 60_000)

  it('returns probabilities for raw images as float32 rows that sum to 1', async () => {
    const images = new Uint8Array(3 * 28 * 28)
    for (let i = 0; i < images.length; i += 7) images[i] = 255
    const probs = await worker.predictPixels(s.runId, 'best', images, 3, 28)
    expect(probs).toBeInstanceOf(Float32Array)
    expect(probs.length).toBe(30)
    for (let r = 0; r < 3; r++) expect(probs.subarray(r * 10, r * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4)
  }, 60_000)

  it("passes the predictor's own errors through with their code", async () => {
    const err = await worker.predictFile(s.runId, 'best', 'empty.txt', new TextEncoder().encode('not an image at all'), 3).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StudioError)
    expect((err as StudioError).code).toBe('invalid_argument')
    expect((err as StudioError).message).toContain('not an image')
    const missing = await worker.predictFile(s.runId, 'last', 'x.png', new Uint8Array([1]), 3).catch((e: unknown) => e)
    expect((missing as StudioError).code).toBe('not_found')
  }, 60_000)

  it('starts a new worker after the old one was killed', async () => {
    const before = worker.pid as number
    process.kill(before, 'SIGKILL')
    await new Promise((r) => setTimeout(r, 300))
    const images = new Uint8Array(28 * 28)
    const probs = await worker.predictPixels(s.runId, 'best', images, 1, 28)
    expect(probs.length).toBe(10)
    expect(worker.pid).not.toBe(before)
  }, 60_000)

  it('fails the calls in flight when the worker dies mid-call, and says so', async () => {
    const images = new Uint8Array(28 * 28)
    await worker.predictPixels(s.runId, 'best', images, 1, 28)
    const pid = worker.pid as number
    const pending = worker.predictPixels(s.runId, 'best', new Uint8Array(512 * 28 * 28), 512, 28).catch((e: unknown) => e)
    process.kill(pid, 'SIGKILL')
    const err = await pending
    expect(err).toBeInstanceOf(StudioError)
    expect((err as StudioError).code).toBe('unavailable')
    expect((err as StudioError).message).toMatch(/model worker was killed by SIGKILL|model worker exited/)
  }, 60_000)
})
