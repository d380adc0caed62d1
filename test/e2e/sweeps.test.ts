// Issue 19 end to end in a real Chromium over web mode: start a small sweep from the Sweep form,
// watch its runs fill the sweep page, open parallel coordinates and the scatter, cancel a longer
// sweep part way and resume its run from the run page; screenshots (sweep-*.png) and axe on each.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startStudio, type Studio } from './harness'

let studio: Studio

beforeAll(async () => {
  studio = await startStudio()
}, 120_000)
afterAll(async () => {
  await studio?.close()
})

it('a sweep from the UI fills its page; parallel coordinates; a cancelled run resumes in place', async () => {
  const { page } = studio
  // Through the sidebar, as a person gets there. The view's chunk loads on first visit; a busy
  // machine needs more than the default 30 s.
  await page.getByRole('link', { name: 'Sweeps', exact: true }).click()
  await studio.waitForTestId('sweep-form', 120_000)
  await page.getByLabel('Epochs').fill('1')
  await page.getByLabel('First N training examples').fill('256')
  await page.getByTestId('grid-values-0').fill('0.3, 0.9')
  await page.getByTestId('grid-add').click()
  await page.getByTestId('grid-values-1').fill('32, 64')
  await page.getByTestId('sweep-seeds').fill('0')
  await page.getByText('Start sweep (4 runs)').waitFor()
  await studio.shot('sweep-form')
  await page.getByTestId('sweep-start').click()
  await page.waitForURL(/#\/sweeps\/\d+$/)
  await page.getByTestId('sweep-runs').waitFor()
  expect(await page.locator('[data-testid^="sweep-run-"]').count()).toBe(4)
  // The runs fill in as they train: wait for the first finished one, then for all four.
  await page.locator('[data-testid="sweep-runs"] td.num', { hasText: '%' }).first().waitFor({ timeout: 180_000 })
  await page.getByTestId('sweep-status').filter({ hasText: 'completed' }).waitFor({ timeout: 300_000 })
  await studio.shot('sweep-page')
  const vals = await page.locator('[data-testid^="sweep-run-"] td:nth-child(5)').allTextContents()
  const nums = vals.map((v) => parseFloat(v))
  expect(nums.every((n) => Number.isFinite(n))).toBe(true)
  expect([...nums].sort((a, b) => b - a)).toEqual(nums)

  await page.getByTestId('sweep-tab-parallel').click()
  await page.locator('[data-testid="sweep-parallel"] svg polyline').first().waitFor()
  expect(await page.locator('[data-testid="sweep-parallel"] svg polyline').count()).toBe(4)
  await studio.shot('sweep-parallel')
  await page.getByTestId('sweep-tab-scatter').click()
  expect(await page.locator('[data-testid="sweep-scatter"] circle').count()).toBe(4)
  await studio.shot('sweep-scatter')

  // A longer one-run sweep, cancelled after its first epoch, then resumed from the run page.
  await studio.go('#/sweeps')
  await page.getByTestId('sweep-form').waitFor()
  await page.getByLabel('Epochs').fill('40')
  await page.getByLabel('First N training examples').fill('8000')
  await page.getByTestId('grid-values-0').fill('0.9')
  await page.getByRole('button', { name: 'Remove option batch-size' }).click().catch(() => undefined)
  await page.getByTestId('sweep-seeds').fill('')
  await page.getByTestId('sweep-start').click()
  await page.waitForURL(/#\/sweeps\/\d+$/)
  await page.getByTestId('sweep-runs').waitFor()
  const row = page.locator('[data-testid^="sweep-run-"]').first()
  await row
    .locator('td', { hasText: /^([1-9]|[1-3]\d)\/40$/ })
    .waitFor({ timeout: 180_000 })
    .catch(async (e: unknown) => {
      await page.screenshot({ path: '/tmp/sweeps-e2e-failure.png' })
      throw e
    })
  await page.getByTestId('sweep-cancel').click()
  await page.getByTestId('sweep-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 30_000 })
  const runId = Number(await row.locator('td a').first().textContent())
  await studio.go(`#/runs/${runId}`)
  const resume = page.getByTestId('resume-run')
  await resume.waitFor()
  expect(await resume.textContent()).toMatch(/Resume \(([1-9]|[1-3]\d)\/40\)/)
  await studio.shot('sweep-run-resume')
  await resume.click()
  await page.waitForURL(new RegExp(`#/live/${runId}$`))
  // Same run id, through to its planned epochs.
  await studio.go(`#/runs/${runId}`)
  // The run page reads the run once: reload it until the resumed run is done.
  let completed = false
  for (let i = 0; i < 120 && !completed; i++) {
    await page.waitForTimeout(3000)
    await page.reload()
    await page.getByTestId('run-chart').waitFor({ timeout: 60_000 }).catch(() => undefined)
    completed = await page.locator('header').getByText('completed', { exact: true }).isVisible().catch(() => false)
  }
  expect(completed).toBe(true)
  expect(page.url()).toContain(`#/runs/${runId}`)
  await page.getByTestId('run-chart').waitFor()
  await page.getByTestId('chart-controls').waitFor()
  await studio.shot('sweep-run-resumed')

  expect(studio.pageErrors).toEqual([])
  expect(studio.a11yViolations).toEqual([])
}, 900_000)
