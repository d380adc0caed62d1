// `conv-studio datasets import <folder|zip>` then `conv-studio train --dataset <id>`: the real CLI
// in a child process, on a generated colour folder (drawn shapes, mixed formats, a broken file).
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { makeShapesFolder } from '../../helpers/shapes'

const cli = join(__dirname, '../../../src/main/cli.ts')
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-icli-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function run(args: string[], timeout = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, '--data-dir', join(dir, 'data'), ...args], { timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

describe('conv-studio datasets import (pictures) and train', () => {
  it('imports a folder with --json (one object), then trains lenet5-modern on it in colour with normalisation', async () => {
    const root = join(dir, 'pets')
    await makeShapesFolder(root, { classes: { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'], 'green cross': ['cross', 'green'] }, perClass: 20, side: [24, 48], formats: ['png', 'jpeg', 'webp', 'bmp'] })
    writeFileSync(join(root, 'red circle', 'notes.txt'), 'not a picture')
    const imported = await run(['datasets', 'import', root, '--name', 'pets', '--json'])
    expect(imported.code, imported.stderr).toBe(0)
    const lines = imported.stdout.trim().split('\n')
    expect(lines).toHaveLength(1)
    const json = JSON.parse(lines[0]) as { id: string; classes: string[]; train: { count: number }; test: { count: number }; skipped: { file: string; reason: string }[] }
    expect(json).toMatchObject({ id: 'pets', classes: ['blue square', 'green cross', 'red circle'], train: { count: 48 }, test: { count: 12 } })
    expect(json.skipped).toEqual([{ file: 'red circle/notes.txt', reason: expect.stringMatching(/not an image/) }])

    const trained = await run(['train', '--model', 'lenet5-modern', '--dataset', 'pets', '--epochs', '2', '--batch-size', '16', '--optimizer', 'adam', '--lr', '0.001', '--normalize', '--augment', 'crop:2,flip', '--backend', 'cpu', '--json'])
    expect(trained.code, trained.stderr).toBe(0)
    const store = RunStore.open(join(dir, 'data'))
    try {
      const runRecord = store.get(1)
      expect(runRecord.status).toBe('completed')
      expect(runRecord.classes).toEqual(json.classes)
      expect(runRecord.config.spec).toMatchObject({ inputChannels: 3, inputSize: 32, numClasses: 3 })
      const n = runRecord.config.normalize as { mean: number[]; std: number[] }
      expect(n.mean).toHaveLength(3)
      expect(n.std.every((s) => s > 0 && s < 1)).toBe(true)
      expect(runRecord.config.augment).toEqual({ cropPadding: 2, flip: true })
    } finally {
      store.close()
    }
  }, 300_000)

  it('the IDX import still works, a bad --channels is a usage error, augmentation on digits is refused', async () => {
    const idx = await run(['datasets', 'import', join(__dirname, '../../fixtures/data/tiny-raw'), '--title', 'Tiny digits'])
    expect(idx.stdout).toBe('imported imported-tiny-digits: 20 train, 10 test, 10 classes\n')
    const bad = await run(['datasets', 'import', dir, '--channels', '2'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--channels must be 1, 3 or auto/)
    const digits = await run(['train', '--dataset', 'mnist-sample', '--augment', 'flip', '--epochs', '1'])
    expect(digits.code).toBe(2)
    expect(digits.stderr).toMatch(/Augmentation is off for digit sets/)
    expect(readFileSync(join(dir, 'data', 'datasets', 'imported.json'), 'utf8')).not.toMatch(/"id": "cs-icli/)
  }, 120_000)
})
