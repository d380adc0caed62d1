// Training in this browser's GPU, end to end: Debian's Chromium with WebGPU on SwiftShader (a
// software Vulkan) on the http://127.0.0.1 page, the real web-mode server and its database. The
// worker (out/web/worker.js, built from src/worker) is checked layer by layer against the cpu
// backend, a LeNet-5 run trains through the UI with the browser-GPU choice and is recorded like a
// child's (inspection data and resume state included), and closing the tab mid-run ends a run
// 'interrupted' with its finished epochs kept; resumed from its run page, it goes on where it stopped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import Database from 'better-sqlite3'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { dataPaths } from '../../src/main/paths'
import { DatasetStore } from '../../src/main/services/datasets'
import { root, startStudio, WEBGPU_ARGS, type Studio } from './harness'

let studio: Studio
let page: Page

beforeAll(async () => {
  // SwiftShader trains a few LeNet-5 examples per second on a loaded 2-core machine: the runs use
  // the tiny IDX fixture (20 train, 10 test images) imported into the data folder beforehand.
  studio = await startStudio({
    chromiumArgs: WEBGPU_ARGS,
    seed: async (dir) => void (await new DatasetStore({ dataDir: dir }).importFolder(join(root, 'test/fixtures/data/tiny-raw'), 'Tiny digits'))
  })
  page = studio.page
})

afterAll(async () => {
  await studio?.close()
})

/** Reads the run as the host recorded it (the database is the host's; this only reads). */
function recorded(runId: number): {
  status: string
  backend: string | null
  device: string | null
  error: string | null
  epochs: number
  lastEpoch: number | null
  steps: number
  inspected: number
  testProbabilities: number
} {
  const db = new Database(dataPaths(studio.dataDir).database, { readonly: true, fileMustExist: true })
  try {
    const r = db.prepare('SELECT status, backend, device, error FROM runs WHERE id = ?').get(runId) as { status: string; backend: string | null; device: string | null; error: string | null }
    const epochs = (db.prepare('SELECT COUNT(*) AS n, MAX(epoch) AS last FROM epochs WHERE run_id = ?').get(runId) as { n: number; last: number | null })
    const steps = (db.prepare('SELECT COUNT(*) AS n FROM steps WHERE run_id = ?').get(runId) as { n: number }).n
    // Inspection data (histograms, filters per epoch; the test set's true-class probabilities, epoch 0).
    const inspected = (db.prepare("SELECT COUNT(*) AS n FROM epoch_inspection WHERE run_id = ? AND histograms != '[]'").get(runId) as { n: number }).n
    const testProbabilities = (db.prepare('SELECT COUNT(*) AS n FROM true_probabilities WHERE run_id = ? AND epoch = 0').get(runId) as { n: number }).n
    return { ...r, epochs: epochs.n, lastEpoch: epochs.last, steps, inspected, testProbabilities }
  } finally {
    db.close()
  }
}

async function waitForStatus(p: Page, done: (s: string) => boolean, ms: number): Promise<string> {
  const deadline = Date.now() + ms
  for (;;) {
    const status = (await p.locator('[data-testid="live-status"]').textContent())?.trim() ?? ''
    if (done(status)) return status
    if (Date.now() > deadline) throw new Error(`status is still '${status}' after ${ms / 1000} s`)
    await p.waitForTimeout(200)
  }
}

async function fillRun(p: Page, opts: { name: string; epochs: number }): Promise<void> {
  await p.locator('[data-testid="total-params"]').waitFor({ timeout: 60_000 })
  await p.selectOption('[data-testid="preset"]', 'lenet5')
  await p.selectOption('[data-testid="dataset"]', 'imported-tiny-digits')
  await p.fill('[data-testid="epochs"]', String(opts.epochs))
  await p.fill('[data-testid="batch-size"]', '10')
  await p.fill('input[placeholder="e.g. lenet lr 0.9"]', opts.name)
}

describe("Training in this browser's GPU (Chromium WebGPU on SwiftShader)", () => {
  it('the page gets a SwiftShader WebGPU adapter, flagged as a fallback (software) adapter', async () => {
    const a = await page.evaluate(async () => {
      type Adapter = { info: { architecture: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean }
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter | null> } }).gpu
      const adapter = gpu ? await gpu.requestAdapter() : null
      return adapter ? { architecture: adapter.info.architecture, fallback: adapter.info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? null } : null
    })
    expect(a).toEqual({ architecture: 'swiftshader', fallback: true })
  })

  it('parity: forward and gradients of every layer type on the Chromium worker equal the cpu backend', async () => {
    const results = (await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const w = new Worker(new URL('./worker.js', document.baseURI), { type: 'module' })
          w.onmessage = (e) => {
            if (e.data.type === 'parity') {
              w.terminate()
              resolve(e.data.result)
            }
          }
          w.onerror = (e) => reject(new Error(e.message))
          w.postMessage({ type: 'parity' })
        })
    )) as { layer: string; forward: number; gradients: number; compared: number; worst: string; error: string | null }[]
    console.log('[webgpu parity]', results.map((r) => `${r.layer} fwd ${r.forward.toExponential(1)} grad ${r.gradients.toExponential(1)} (${r.worst})`).join('; '))
    expect(results.map((r) => r.layer).sort()).toEqual(
      ['avgPool2d', 'batchNorm1d', 'batchNorm2d', 'conv2d', 'dropout', 'flatten', 'leakyRelu', 'linear', 'maxPool2d', 'relu', 'sigmoid', 'tanh'].sort()
    )
    for (const r of results) {
      expect(r.error, r.layer).toBeNull()
      expect(r.compared, r.layer).toBeGreaterThanOrEqual(2)
      expect(r.forward, `${r.layer} forward`).toBeLessThan(1e-4)
      expect(r.gradients, `${r.layer} gradients (worst: ${r.worst})`).toBeLessThan(1e-3)
    }
  }, 240_000)

  it('the Device view shows the adapter, that it is a software adapter, and a measured LeNet-5 throughput', async () => {
    await studio.go('#/device')
    await expect.poll(() => page.locator('[data-testid="browser-adapter"]').textContent(), { timeout: 30_000 }).toContain('swiftshader')
    await expect(page.locator('[data-testid="browser-gpu"]').textContent()).resolves.toContain('software adapter')
    await page.click('[data-testid="measure-browser-gpu"]')
    await expect.poll(() => page.locator('[data-testid="browser-throughput"]').textContent(), { timeout: 240_000 }).toMatch(/\d examples\/s/)
    console.log('[webgpu] LeNet-5 on SwiftShader:', await page.locator('[data-testid="browser-throughput"]').textContent())
    await studio.shot('webgpu-device', '[data-testid="browser-gpu"]')
  }, 300_000)

  it('a software adapter is never the automatic choice; picking it says so; the estimate says how long an epoch takes', async () => {
    await studio.go('#/new')
    await fillRun(page, { name: 'browser gpu lenet', epochs: 2 })
    // The form starts on auto, and auto is a backend of the host (the probe's choice), never the browser's.
    expect(await page.locator('select:has(option[value="browser-webgpu"])').inputValue()).toBe('auto')
    const option = page.locator('option[value="browser-webgpu"]')
    expect(await option.textContent()).toContain('software adapter')
    await page.selectOption('select:has(option[value="browser-webgpu"])', 'browser-webgpu')
    await page.locator('[data-testid="software-adapter"]').waitFor()
    // Measured a moment ago on the Device view: the estimate is there for this backend.
    await expect.poll(() => page.locator('[data-testid="epoch-estimate"]').textContent(), { timeout: 10_000 }).toMatch(/About .+ per epoch of 20 examples on this browser's GPU/)
    await studio.shot('webgpu-new-run', '[data-testid="epoch-estimate"]')
  })

  it('trains LeNet-5 through the web UI in the browser worker; the run is recorded with backend, adapter and curves', async () => {
    await page.click('[data-testid="start"]')
    await page.waitForURL(/#\/live\/\d+/)
    const runId = Number(/#\/live\/(\d+)/.exec(page.url())![1])
    const status = await waitForStatus(page, (s) => ['completed', 'failed', 'cancelled', 'interrupted'].includes(s), 240_000)
    const r = recorded(runId)
    expect(r.error).toBeNull()
    expect(status).toBe('completed')
    expect(r.backend).toBe('browser-webgpu')
    expect(r.device).toMatch(/swiftshader.*software adapter/)
    expect(r.epochs).toBe(2)
    expect(r.steps).toBeGreaterThan(0)
    // Inspection data as a Node child's run keeps it, and the optimizer state an exact resume needs.
    expect([r.inspected, r.testProbabilities]).toEqual([2, 1])
    expect(existsSync(join(dataPaths(studio.dataDir).runDir(runId), 'last', 'train-state.json'))).toBe(true)
    await studio.shot('webgpu-live')
    await studio.go('#/runs')
    await expect.poll(() => page.locator('[data-testid="runs-table"]').textContent(), { timeout: 10_000 }).toContain('browser gpu lenet')
    await expect(page.locator('[data-testid="runs-table"]').textContent()).resolves.toContain('browser-webgpu')
    await studio.go(`#/runs/${runId}`)
    await page.locator('[data-testid="run-chart"]').waitFor()
    await expect.poll(() => page.locator('body').textContent(), { timeout: 10_000 }).toContain('swiftshader')
    await studio.shot('webgpu-run-detail')
  }, 300_000)

  it('closing the tab mid-run ends the run interrupted with the finished epochs kept', async () => {
    const tab = await studio.browser.newPage({ viewport: { width: 1280, height: 800 } })
    await tab.goto(`${studio.url}#/new`)
    await fillRun(tab, { name: 'tab closed mid-run', epochs: 200 })
    // The newest window with an adapter trains the run: this tab registered after the first page.
    await tab.locator('option[value="browser-webgpu"]:not([disabled])').waitFor({ state: 'attached', timeout: 30_000 })
    await tab.selectOption('select:has(option[value="browser-webgpu"])', 'browser-webgpu')
    await tab.click('[data-testid="start"]')
    await tab.waitForURL(/#\/live\/\d+/)
    const runId = Number(/#\/live\/(\d+)/.exec(tab.url())![1])
    const deadline = Date.now() + 180_000
    while (recorded(runId).epochs < 1) {
      if (Date.now() > deadline) throw new Error(`no epoch was recorded: ${JSON.stringify(recorded(runId))}`)
      await tab.waitForTimeout(250)
    }
    await tab.close()
    await expect.poll(() => recorded(runId).status, { timeout: 10_000 }).toBe('interrupted')
    const r = recorded(runId)
    expect(r.error).toMatch(/tab .* was closed/)
    expect(r.epochs).toBeGreaterThanOrEqual(1)
    // The best weights of the finished epochs are on disk.
    expect(existsSync(join(dataPaths(studio.dataDir).runDir(runId), 'best', 'model.json'))).toBe(true)

    // Resumed from its run page (the first page trains it now): the saved weights and optimizer
    // state reach the worker, and the next epoch is recorded after the last one, same run id.
    const before = recorded(runId).lastEpoch ?? 0
    await studio.go(`#/runs/${runId}`)
    await page.click('[data-testid="resume-run"]')
    await page.waitForURL(new RegExp(`#/live/${runId}$`))
    const until = Date.now() + 180_000
    while ((recorded(runId).lastEpoch ?? 0) <= before) {
      const now = recorded(runId)
      if (Date.now() > until || ['failed', 'completed'].includes(now.status)) throw new Error(`the resumed run recorded no further epoch: ${JSON.stringify(now)}`)
      await page.waitForTimeout(250)
    }
    const resumed = recorded(runId)
    expect(resumed.lastEpoch).toBe(before + 1)
    expect(resumed.epochs).toBe(before + 1)
    // The host commits an epoch, then its inspection data, one after the other: this reader can
    // land between the two (a fresh-clone CI run did), so it waits for the second.
    await expect.poll(() => recorded(runId).inspected, { timeout: 10_000 }).toBe(before + 1)
    await page.click('[data-testid="cancel"]')
    await expect.poll(() => recorded(runId).status, { timeout: 10_000 }).toBe('cancelled')
  }, 420_000)

  it('no page errors and axe found nothing', () => {
    expect(studio.pageErrors).toEqual([])
    expect(studio.a11yViolations).toEqual([])
  })
})
