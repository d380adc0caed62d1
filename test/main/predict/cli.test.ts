import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../../helpers/cli'
import { register, type PredictRow } from '../../../src/main/cli/predict'
import { FIXTURES, setupRun, type ManifestEntry, type Setup } from './helpers'

const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))

/** Runs `conv-studio <args>` in this process against a real data folder; returns what it printed. */
const cli = (dataDir: string, args: string[]): Promise<CliResult> => runCli(register, dataDir, args)

describe('conv-studio predict', () => {
  let s: Setup
  let folder: string
  beforeAll(() => {
    s = setupRun()
    folder = mkdtempSync(join(tmpdir(), 'predict-cli-'))
    mkdirSync(join(folder, 'sub'))
    for (const m of manifest.slice(0, 3)) cpSync(join(FIXTURES, 'images', m.file), join(folder, 'sub', m.file))
    writeFileSync(join(folder, 'notes.txt'), 'not an image, and not picked up from a folder')
    writeFileSync(join(folder, 'fake.png'), 'text pretending to be a png')
  })
  afterAll(() => {
    s.close()
    rmSync(folder, { recursive: true, force: true })
  })

  it('walks folders for images and prints JSON rows with top-k and per-file errors', async () => {
    const r = await cli(s.dir, ['predict', '--run', String(s.runId), '--top', '2', '--json', folder])
    const rows = JSON.parse(r.stdout) as PredictRow[]
    expect(rows.map((x) => x.file.split('/').pop())).toEqual(['fake.png', ...manifest.slice(0, 3).map((m) => m.file)])
    expect(rows[0]).toMatchObject({ top: null })
    expect(rows[0].error).toMatch(/fake\.png: this is not an image/)
    for (const [i, m] of manifest.slice(0, 3).entries()) {
      expect(rows[i + 1].top).toHaveLength(2)
      expect(rows[i + 1].top?.[0].classIndex).toBe(m.label)
    }
    expect(r.code).toBe(1) // one file failed
  })

  it('prints a table for files', async () => {
    const m = manifest[0]
    const r = await cli(s.dir, ['predict', '--run', String(s.runId), join(FIXTURES, 'images', m.file)])
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^file\s+label\s+prob\s+top\s+ms$/)
    expect(lines[1]).toContain(m.file)
    expect(lines[1]).toMatch(new RegExp(`\\s${['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'][m.label]}\\s+[01]\\.\\d{3}\\s`))
  })

  it('stops with one clear line when the weights are missing or the run does not exist', async () => {
    const file = join(FIXTURES, 'images', manifest[0].file)
    const a = await cli(s.dir, ['predict', '--run', String(s.runId), '--weights', 'last', file])
    expect(a).toMatchObject({ stdout: '', code: 1 })
    expect(a.stderr).toMatch(/^error: Run \d+ has no last weights/)
    const b = await cli(s.dir, ['predict', '--run', '999', file])
    expect(b.stderr).toMatch(/^error: There is no run 999\./)
    const c = await cli(s.dir, ['predict', '--run', String(s.runId), join(folder, 'nothing-here')])
    expect(c.stderr).toMatch(/nothing-here: no such file or folder/)
    expect(c.code).toBe(1)
  })
})
