// `conv-studio datasets ...` in process: the same commander program shape as src/main/cli.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../../helpers/cli'
import { register } from '../../../src/main/cli/datasets'
import type { DatasetDetail, DatasetInfo } from '../../../src/shared/domain'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-dcli-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const cli = (...args: string[]): Promise<CliResult> => runCli(register, dir, args)

describe('conv-studio datasets', () => {
  it('lists the catalog as a table and as JSON', async () => {
    const table = await cli('datasets', 'list')
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+title\s+source\s+status\s+train\s+test\s+classes$/)
    expect(table.stdout).toMatch(/fashion-mnist\s+Fashion-MNIST \(bundled\)\s+bundled\s+ready\s+59,999\s+10,000\s+10/)
    const json = JSON.parse((await cli('datasets', 'list', '--json')).stdout) as DatasetInfo[]
    expect(json.map((d) => d.id)).toContain('kmnist')
  })

  it('imports a folder and shows it with per-class counts', async () => {
    const imported = await cli('datasets', 'import', join(__dirname, '../../fixtures/data/tiny-raw'), '--title', 'Tiny digits')
    expect(imported.code).toBe(0)
    expect(imported.stdout).toBe('imported imported-tiny-digits: 20 train, 10 test, 10 classes\n')
    const info = await cli('datasets', 'info', 'imported-tiny-digits')
    expect(info.stdout).toMatch(/^class\s+name\s+train\s+test$/m)
    expect(info.stdout).toMatch(/^\s+9\s+9\s+2\s+1$/m)
    const json = JSON.parse((await cli('datasets', 'info', 'imported-tiny-digits', '--json')).stdout) as DatasetDetail
    expect(json.testClassCounts).toEqual(new Array(10).fill(1))
  })

  it('says what is wrong on stderr with exit code 1', async () => {
    const missing = await cli('datasets', 'import', join(dir, 'nowhere'))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toBe(`error: ${join(dir, 'nowhere')}: no such folder\n`)
    const unknown = await cli('datasets', 'download', 'emnist')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/^error: No dataset 'emnist'\. Downloadable: mnist, fashion-mnist-full, kmnist, cifar-10\.\n$/)
  })
})

describe('conv-studio datasets download --mirror', () => {
  it('downloads through the given mirror and refuses bytes whose md5 is wrong', async () => {
    const { createServer } = await import('node:http')
    const { readFileSync } = await import('node:fs')
    const served: string[] = []
    const server = createServer((req, res) => {
      served.push(req.url ?? '')
      // The tiny fixture under MNIST's names: right format, wrong md5s for the real MNIST.
      const body = readFileSync(join(__dirname, '../../fixtures/data/tiny-gz', (req.url ?? '').replace('/m/', '')))
      res.writeHead(200, { 'Content-Length': body.length }).end(body)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const port = (server.address() as { port: number }).port
      const r = await cli('datasets', 'download', 'mnist', '--mirror', `http://127.0.0.1:${port}/m/`)
      expect(served).toEqual(['/m/train-images-idx3-ubyte.gz'])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/error: Could not download train-images-idx3-ubyte\.gz: .*md5 [0-9a-f]{32} does not match the expected f68b3c2dcbeaaa9fbdd348bbdeb94873/)
      const list = JSON.parse((await cli('datasets', 'list', '--json')).stdout) as DatasetInfo[]
      expect(list.find((d) => d.id === 'mnist')!.status).toBe('available')
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})
