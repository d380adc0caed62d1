// `conv-studio predict` on paths that are not image files (review D5): a FIFO hung the command
// forever and /dev/zero grew to gigabytes; each now gets its own error row at once.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../../helpers/cli'
import { register, type PredictRow } from '../../../src/main/cli/predict'
import { readImageFile } from '../../../src/main/services/image-decode'
import { FIXTURES, setupRun, type ManifestEntry, type Setup } from './helpers'

const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))

describe('predict on FIFOs and devices', () => {
  let s: Setup
  let folder: string
  beforeAll(() => {
    s = setupRun()
    folder = mkdtempSync(join(tmpdir(), 'predict-hostile-'))
    execFileSync('mkfifo', [join(folder, 'pipe.png')])
    symlinkSync('/dev/zero', join(folder, 'zero.png'))
    cpSync(join(FIXTURES, 'images', manifest[0].file), join(folder, manifest[0].file))
  })
  afterAll(() => {
    s.close()
    rmSync(folder, { recursive: true, force: true })
  })

  it('reads image files through the safe reader', { timeout: 3000 }, () => {
    expect(() => readImageFile(join(folder, 'pipe.png'))).toThrow(/pipe\.png: is a named pipe \(FIFO\), not a regular file\./)
    expect(() => readImageFile('/dev/zero')).toThrow(/\/dev\/zero: is a character device, not a regular file\./)
    expect(readImageFile(join(folder, manifest[0].file)).length).toBeGreaterThan(0)
  })

  it('gives a FIFO and /dev/zero named on the command line an error row each, and predicts the rest', { timeout: 15000 }, async () => {
    const r = await runCli(register, s.dir, ['predict', '--run', String(s.runId), '--json', join(folder, 'pipe.png'), '/dev/zero', join(folder, 'zero.png'), join(folder, manifest[0].file)])
    const rows = JSON.parse(r.stdout) as PredictRow[]
    expect(rows.map((x) => x.error)).toEqual([
      `${join(folder, 'pipe.png')}: is a named pipe (FIFO), not a regular file.`,
      '/dev/zero: is a character device, not a regular file.',
      `${join(folder, 'zero.png')}: is a character device, not a regular file.`,
      null
    ])
    expect(rows[3].top?.[0].classIndex).toBe(manifest[0].label)
    expect(r.code).toBe(1)
  })
})
