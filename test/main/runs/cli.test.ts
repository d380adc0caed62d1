// The `runs` commands as a user runs them: a real child process on a real data folder.
import { execFile } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../../helpers/cli'
import { register } from '../../../src/main/cli/runs'
import { RunStore } from '../../../src/main/services/runs'
import { CLASSES, config, confusion, epochRecord, tempDir, writeCheckpoint } from './helpers'

let dir: string
beforeAll(() => {
  dir = tempDir('cli-')
  const store = RunStore.open(dir)
  for (const name of ['alpha', 'beta']) {
    const r = store.create(config({ epochs: 2, model: name === 'beta' ? 'alexnet' : 'lenet5' }), { name, classes: CLASSES, paramCount: 61706 })
    store.markStarted(r.id, { backend: 'tensorflow', device: 'cpu', libVersions: {} })
    for (let e = 1; e <= 2; e++)
      store.recordEpoch(r.id, epochRecord(e), confusion(), new Uint8Array(4), [{ kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(r.id), `b${e}`)) }])
    store.finish(r.id, {
      status: 'completed',
      bestEpoch: 2,
      test: { loss: 0.3, acc: name === 'alpha' ? 0.91 : 0.95, confusion: confusion(), precision: [], recall: [], predictions: new Uint8Array(4) }
    })
  }
  store.setTags(1, ['keep'])
  store.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** In process, as most tests do it: the same program, output captured, exit code read and reset. */
const cli = (...args: string[]): Promise<CliResult> => runCli(register, dir, ['runs', ...args])

/** As a user runs it: a separate Node process. */
function spawnCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(__dirname, 'cli-runner.ts'), '--data-dir', dir, 'runs', ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

describe('conv-studio runs', () => {
  it('lists with filters, sorting and JSON', async () => {
    const table = await cli('list', '--sort', 'testAcc', '--desc')
    const json = await cli('list', '--sort', 'testAcc', '--asc', '--json')
    const filtered = await cli('list', '--tag', 'keep', '--model', 'lenet5', '--json')
    expect(table.code).toBe(0)
    const lines = table.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^id\s+name\s+status\s+model/)
    expect(lines[1]).toMatch(/^\s*2\s+beta\s+completed\s+alexnet.*95\.00%/)
    expect(lines.at(-1)).toBe('2 of 2 run(s)')
    expect(JSON.parse(json.stdout).rows.map((r: { id: number }) => r.id)).toEqual([1, 2])
    expect(JSON.parse(filtered.stdout)).toMatchObject({ total: 1, rows: [{ id: 1, tags: ['keep'] }] })
  })

  it('shows a run and reports a missing one', async () => {
    const text = await cli('show', '1')
    const json = await cli('show', '1', '--json')
    const missing = await cli('show', '99')
    const bad = await cli('show', 'x')
    expect(text.stdout).toMatch(/Run 1: alpha {2}\[completed\]/)
    expect(text.stdout).toMatch(/optimizer\s+sgd/)
    expect(text.stdout).toMatch(/\n2\*\s+1\.0000\s+51\.00%/)
    expect(text.stdout).toMatch(/test: loss 0\.3000 {2}accuracy 91\.00%/)
    expect(JSON.parse(json.stdout).epochs).toHaveLength(2)
    expect(missing).toMatchObject({ code: 1, stderr: 'error: There is no run 99.\n' })
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toMatch(/a run id is a whole number/)
  })

  it('exports, imports and removes', async () => {
    const zip = join(dir, 'alpha.zip')
    const exp = await spawnCli('export', '1', zip)
    expect(exp).toMatchObject({ code: 0, stdout: `${zip}\n` })
    expect(await spawnCli('show', '99')).toMatchObject({ code: 1, stderr: 'error: There is no run 99.\n' })
    const imp = await cli('import', zip)
    expect(imp.stdout).toBe('Imported as run 3 (alpha).\n')
    const refused = await cli('rm', '3')
    // Missing --yes is a usage error.
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/pass --yes/)
    const rm = await cli('rm', '3', '--yes')
    expect(rm.stdout).toBe('Deleted run 3 (alpha).\n')
    expect(existsSync(join(dir, 'runs', '3'))).toBe(false)
    const bad = await cli('import', join(dir, 'nope.zip'))
    expect(bad.stderr).toMatch(/There is no file .*nope\.zip/)
  })
})
