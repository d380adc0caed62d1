// `conv-studio doctor` through commander, with the real backends of this machine (no benchmark:
// that is measured in benchmark.test.ts).
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { parseSeconds, register } from '../../../src/main/cli/doctor'

async function doctor(args: string[]): Promise<string> {
  const program = new Command().name('conv-studio').exitOverride()
  register(program)
  const lines: string[] = []
  const log = console.log
  console.log = (...a: unknown[]) => void lines.push(a.map(String).join(' '))
  try {
    await program.parseAsync(['node', 'conv-studio', 'doctor', ...args])
  } finally {
    console.log = log
  }
  return lines.join('\n')
}

describe('conv-studio doctor', () => {
  it('--json lists every backend with its reason, the CUDA libraries and a recommendation', async () => {
    const result = JSON.parse(await doctor(['--seconds', '0', '--json'])) as {
      report: { chosen: string; candidates: { name: string; available: boolean; reason: string | null }[] }
      cuda: { found: string[]; missing: string[] }
      benchmark: unknown[]
      recommendation: string
    }
    expect(result.report.candidates.map((c) => c.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'])
    for (const c of result.report.candidates) if (!c.available) expect(c.reason, c.name).toBeTruthy()
    expect(result.benchmark).toEqual([])
    expect(result.recommendation).toContain(`Use ${result.report.chosen}`)
  })

  it('prints a plain report', async () => {
    const text = await doctor(['--seconds', '0'])
    expect(text).toMatch(/^Backends, in the order auto tries them \(auto picks: \S+\)/)
    expect(text).toMatch(/\n {2}wasm +works/)
    expect(text).toMatch(/GPUs seen: /)
    expect(text).toMatch(/Recommendation: Use /)
  })

  it('rejects a bad --seconds value with the allowed range', () => {
    expect(() => parseSeconds('ten')).toThrow(/--seconds must be a number from 0/)
    expect(() => parseSeconds('-1')).toThrow(/got '-1'/)
    expect(parseSeconds('2.5')).toBe(2.5)
  })
})
