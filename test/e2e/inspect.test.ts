/// <reference lib="dom" />
// End to end, issue 18: a real run (LeNet-5 with ReLU, 4 epochs on 1,200 MNIST-sample images,
// trained through the services with the real worker before the server opens the folder) seen
// from the inside: a confusion-cell image opened in Inspect, the hardest examples, the filters and
// histograms in Run detail, and a dropped PNG inspected from Predict. Screenshots inspect-cell,
// run-detail-inspection and inspect-predict; axe must find nothing and the page must log no error.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { createServices } from '../../src/main/services'
import { getPreset } from '../../src/core/models/presets'
import { summarize } from '../../src/core/models/summary'
import type { RunRecord } from '../../src/shared/domain'
import { root, startStudio, type Studio } from './harness'

let studio: Studio
let page: Page
let runId = 0
/** Rows of the run's model summary: Inspect draws one output per row. */
const LAYERS = summarize(getPreset('lenet5-modern')!.spec).rows.length

/** Trains the run through the real services (worker process and all), then closes them. */
async function trainRun(dataDir: string): Promise<void> {
  const services = await createServices({ dataDir, host: 'cli' })
  try {
    const preset = getPreset('lenet5-modern')!
    const config = {
      model: preset.id,
      spec: preset.spec,
      dataset: 'mnist-sample',
      optimizer: 'adam',
      lr: 0.002,
      batchSize: 32,
      epochs: 4,
      seed: 4,
      init: 'default',
      trainLimit: 1200,
      validation: { source: 'split', fraction: 0.2, stratified: true }
    }
    let run: RunRecord | null = null
    const done = new Promise<void>((resolve) =>
      services.events.subscribe((event, payload) => {
        const p = payload as { runId?: number; status?: string }
        if (event === 'training.status' && run && p.runId === run.id && ['completed', 'failed', 'cancelled'].includes(p.status ?? '')) resolve()
      })
    )
    const reply = await services.handle('training.start', { config, name: 'inspect e2e' })
    if (!reply.ok) throw new Error(reply.error.message)
    run = reply.value as RunRecord
    await done
    runId = run.id
  } finally {
    await services.close()
  }
}

beforeAll(async () => {
  studio = await startStudio({ seed: trainRun })
  page = studio.page
}, 300_000)
afterAll(async () => {
  await studio?.close()
})

describe('inspection', () => {
  it('opens a confusion-cell image in Inspect: input, top classes, Grad-CAM, saliency, layer outputs', async () => {
    await studio.go(`/runs/${runId}`)
    await page.locator('[data-testid="confusion"]').waitFor({ timeout: 30_000 })
    // The off-diagonal cell with the most mistakes.
    const cell = await page.evaluate(() => {
      let best = ''
      let most = 0
      for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-testid="confusion"] button[data-cell]'))) {
        const [t, p] = b.dataset.cell!.split('-')
        const n = Number(b.textContent)
        if (t !== p && n > most) [best, most] = [b.dataset.cell!, n]
      }
      return best
    })
    expect(cell).not.toBe('')
    await page.click(`[data-cell="${cell}"]`)
    await page.locator('[data-testid="cell-examples"] button').first().click()
    const panel = page.locator('[data-testid="run-inspect"]')
    await panel.locator('[data-testid="gradcam"]').waitFor({ timeout: 60_000 })
    const predicted = await panel.locator('[data-testid="inspect-predicted"]').textContent()
    expect(predicted).toBe(cell.split('-')[1])
    // Every row of the model summary, in order, is drawn.
    expect(await panel.locator('[data-layer]').count()).toBe(LAYERS)
    expect(await panel.locator('[data-layer="Conv2d-1"] canvas').count()).toBe(6)
    // Explain the true class instead: Grad-CAM follows the picked class.
    await panel.locator('[data-testid="gradcam-class"]').selectOption({ label: cell.split('-')[0] })
    await expect.poll(async () => (await panel.locator('[data-testid="gradcam"] canvas').first().getAttribute('aria-label')) ?? '', { timeout: 30_000 }).toContain(`for ${cell.split('-')[0]} `)
    await studio.shot('inspect-cell', '[data-testid="run-inspect"]')
    // The dark theme: the same panel, checked by axe for contrast too.
    await page.emulateMedia({ colorScheme: 'dark' })
    await studio.shot('inspect-cell-dark', '[data-testid="run-inspect"]')
    await page.emulateMedia({ colorScheme: 'light' })
  })

  it('shows the hardest examples, flips, first-layer filters and histograms in Run detail', async () => {
    const hardest = page.locator('[data-testid="hardest-panel"]')
    await hardest.locator('[data-testid="hardest-mistakes"] button').first().waitFor({ timeout: 30_000 })
    // Filter by a class: every listed example is of that class.
    await hardest.locator('[data-testid="hardest-class"]').selectOption({ label: '7' })
    await expect.poll(async () => await hardest.locator('[data-testid="hardest-mistakes"] button').first().getAttribute('data-true-class'), { timeout: 30_000 }).toBe('7')
    const listed = await hardest.locator('[data-testid="hardest-mistakes"] button, [data-testid="hardest-unsure"] button').evaluateAll((els) => els.map((e) => e.getAttribute('data-true-class')))
    expect(listed.length).toBeGreaterThan(1)
    expect(new Set(listed)).toEqual(new Set(['7']))
    await hardest.locator('[data-testid="hardest-class"]').selectOption({ label: 'all classes' })
    await page.locator('[data-testid="filter-evolution"] canvas').first().waitFor()
    expect(await page.locator('[data-testid="filter-evolution"] canvas').count()).toBe(6)
    await page.locator('[data-testid="filter-epoch"]').fill('0')
    await expect.poll(() => page.locator('[data-testid="filter-evolution"] strong').textContent()).toBe('epoch 1')
    await page.locator('[data-testid="histograms"] [data-layer="Conv2d-1"] canvas').waitFor()
    // The view opens on epoch 4 of the filters again for the picture.
    await page.locator('[data-testid="filter-epoch"]').fill('3')
    // One tall picture: hardest examples, flips, filters and histograms together.
    await page.setViewportSize({ width: 1280, height: 1500 })
    await studio.shot('run-detail-inspection', '[data-testid="hardest-panel"]')
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  it('inspects a PNG dropped on Predict', async () => {
    await studio.go('/predict')
    await page.locator('[data-testid="predict-run"] option').first().waitFor({ state: 'attached' })
    const manifest = JSON.parse(readFileSync(join(root, 'test/fixtures/predict/images/manifest.json'), 'utf8')) as { file: string; format: string; label: number }[]
    const entry = manifest.find((m) => m.format === 'png')!
    const png = readFileSync(join(root, 'test/fixtures/predict/images', entry.file))
    await page.evaluate(
      async ([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
        const dt = new DataTransfer()
        dt.items.add(new File([bytes], name, { type: 'image/png' }))
        const zone = document.querySelector('[data-testid="drop-zone"]')!
        zone.dispatchEvent(new DragEvent('dragenter', { bubbles: true, cancelable: true, dataTransfer: dt }))
        zone.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }))
        zone.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }))
      },
      [png.toString('base64'), entry.file]
    )
    await page.locator('[data-testid="inspect-file"]').click({ timeout: 60_000 })
    const panel = page.locator('[data-testid="predict-inspect"]')
    await panel.locator('[data-testid="gradcam"]').waitFor({ timeout: 60_000 })
    expect(await panel.locator('[data-layer]').count()).toBe(LAYERS)
    expect(await panel.locator('[data-testid="inspect-predicted"]').textContent()).toBe(String(entry.label))
    await studio.shot('inspect-predict', '[data-testid="predict-inspect"]')
  })

  it('ends with no console error and nothing for axe', () => {
    expect(studio.pageErrors).toEqual([])
    expect(studio.a11yViolations).toEqual([])
  })
})
