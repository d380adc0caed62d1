/// <reference lib="dom" />
// End to end, issue 16: the user's own pictures in the Datasets view (web mode). A generated
// folder of colour shapes (PNG, JPEG, WebP, BMP at mixed sizes, Unicode and spaces in class names,
// a stray text file and a duplicate) is picked with the folder picker, zipped in the page and
// uploaded; the view shows the progress bar, per-class counts, a sample row per class, the skipped
// list and the duplicate report. Screenshot datasets-folder; axe must find nothing, the page no error.
// Then New run on it shows LeNet fitted to 3x32x32 and 4 classes, and a bigger import cancelled
// from its progress bar leaves no dataset and nothing in the data folder.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright-core'
import { makeShapesFolder } from '../helpers/shapes'
import { startStudio, type Studio } from './harness'

let studio: Studio
let page: Page
let folder: string
let tmp: string

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'cs-e2e-pics-'))
  folder = join(tmp, 'my shapes')
  await makeShapesFolder(folder, {
    classes: { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'], 'grün kreuz': ['cross', 'green'], 'yellow ring': ['ring', 'yellow'] },
    perClass: 15,
    side: [24, 90],
    formats: ['png', 'jpeg', 'webp', 'bmp']
  })
  writeFileSync(join(folder, 'red circle', 'notes.txt'), 'taken on holiday')
  copyFileSync(join(folder, 'red circle', '00000.png'), join(folder, 'red circle', 'copy of 00000.png'))
  studio = await startStudio()
  page = studio.page
}, 120_000)
afterAll(async () => {
  await studio?.close()
  rmSync(tmp, { recursive: true, force: true })
})

describe('importing a folder of pictures', () => {
  it('picks a folder, shows progress, then counts, samples per class, skipped files and duplicates', async () => {
    await studio.go('/datasets')
    await page.locator('[data-testid="pictures-import"]').waitFor()
    await page.locator('[data-testid="pictures-folder"]').setInputFiles(folder)
    await expect.poll(() => page.locator('[data-testid="pictures-name"]').inputValue()).toBe('my-shapes')
    await page.locator('[data-testid="pictures-import-button"]').click()
    await page.locator('[data-testid="import-report"]').waitFor({ timeout: 60_000 }).catch(async (err) => {
      console.log('DEBUG form:', await page.locator('[data-testid="pictures-import"]').textContent(), '\nSERVER:', studio.serverLog().slice(-3000), '\nERRORS:', studio.pageErrors)
      throw err
    })
    await expect.poll(() => page.locator('[role="status"]').textContent()).toMatch(/Imported 49 training and 12 test pictures in 4 classes; 1 skipped, 1 duplicate group/)
    const counts = await page.locator('table.counts tbody tr').allTextContents()
    expect(counts).toHaveLength(4)
    expect(counts.join('|')).toMatch(/grün kreuz/)
    expect(await page.locator('[data-testid="class-samples"] .class-row').count()).toBe(4)
    expect(await page.locator('[data-testid="class-samples"] canvas').count()).toBe(32)
    const report = await page.locator('[data-testid="import-report"]').textContent()
    expect(report).toMatch(/red circle\/notes\.txt/)
    expect(report).toMatch(/not an image/)
    expect(report).toMatch(/The same picture twice in one class:.*red circle\/00000\.png/)
    // The set is in the catalog for a new run, and nothing on the page shows where the server kept the upload.
    expect(await page.locator('[data-testid="datasets-table"]').textContent()).toMatch(/my-shapes/)
    expect(await page.locator('body').textContent()).not.toMatch(/web-transfers|upload\.zip/)
    // From the class counts and the Samples heading down: counts, a row per class, skipped files, duplicates.
    await studio.shot('datasets-folder', '.grid-2:has([data-testid="class-samples"])')
    expect(studio.pageErrors).toEqual([])
    expect(studio.a11yViolations).toEqual([])
  }, 120_000)

  it('New run on the imported colour set shows lenet5-modern fitted to 3x32x32 and its 4 classes', async () => {
    await studio.go('/new')
    await page.selectOption('[data-testid="preset"]', 'lenet5-modern')
    await page.selectOption('[data-testid="dataset"]', 'my-shapes')
    // PyTorch's count for 3x32x32 and 4 classes: 456 + 12 + 2,416 + 32 + 48,120 + 240 + 10,164 + 168 + (84 * 4 + 4).
    await expect.poll(() => page.locator('section[aria-labelledby="model-h"]').textContent(), { timeout: 15_000 }).toMatch(/61,948\s*parameters/)
    expect(await page.locator('[data-testid="summary-error"]').count()).toBe(0)
    expect(studio.pageErrors).toEqual([])
  }, 60_000)

  it('an import cancelled from its progress bar keeps nothing', async () => {
    const big = join(tmp, 'big shapes')
    await makeShapesFolder(big, { classes: { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'] }, perClass: 400, side: 48, formats: ['png'] })
    const before = readdirSync(join(studio.dataDir, 'datasets'))
    await studio.go('/datasets')
    await page.locator('[data-testid="pictures-folder"]').setInputFiles(big)
    await expect.poll(() => page.locator('[data-testid="pictures-name"]').inputValue()).toBe('big-shapes')
    await page.locator('[data-testid="pictures-import-button"]').click()
    await page.locator('[data-testid="pictures-cancel"]').waitFor()
    await page.locator('[data-testid="pictures-cancel"]').click()
    await expect.poll(() => page.locator('[data-testid="pictures-cancelled"]').textContent(), { timeout: 30_000 }).toMatch(/Import cancelled; nothing was kept/)
    await studio.shot('datasets-folder-cancelled', '[data-testid="pictures-import"]')
    expect(await page.locator('[data-testid="pictures-import"] [role="alert"]').count()).toBe(0)
    expect(await page.locator('[data-testid="pictures-progress"]').count()).toBe(0)
    await studio.go('/datasets')
    await page.locator('[data-testid="datasets-table"]').waitFor()
    expect(await page.locator('[data-testid="datasets-table"]').textContent()).not.toMatch(/big-shapes/)
    expect(existsSync(join(studio.dataDir, 'datasets', 'big-shapes'))).toBe(false)
    expect(readdirSync(join(studio.dataDir, 'datasets'))).toEqual(before)
    expect(studio.pageErrors).toEqual([])
  }, 120_000)

  it('a zip that is not one says so on the page', async () => {
    writeFileSync(join(tmp, 'bad.zip'), 'not a zip at all')
    await page.locator('[data-testid="pictures-zip"]').setInputFiles(join(tmp, 'bad.zip'))
    await page.locator('[data-testid="pictures-name"]').fill('bad')
    await page.locator('[data-testid="pictures-import-button"]').click()
    await expect.poll(() => page.locator('[data-testid="pictures-import"] [role="alert"]').textContent(), { timeout: 30_000 }).toMatch(/the uploaded zip: not a readable zip/)
  }, 60_000)
})
