import { Command } from 'commander'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { register, UnknownPresetError } from '../../../src/main/cli/models'

async function runCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride()
  register(program)
  const lines: string[] = []
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  try {
    await program.parseAsync(['node', 'conv-studio', ...args])
  } finally {
    spy.mockRestore()
  }
  return lines.join('\n')
}

describe('conv-studio models', () => {
  afterEach(() => vi.restoreAllMocks())

  it('lists every preset with its parameter count', async () => {
    const out = await runCli(['models', 'list'])
    expect(out).toMatch(/lenet5\s+LeNet-5\s+1x28x28\s+61,706\s+sgd, lr 0.9, batch 256, 10 epochs/)
    expect(out).toMatch(/alexnet\s+AlexNet\s+1x224x224\s+46,764,746/)
  })

  it('prints the torchsummary table, and JSON with --json', async () => {
    const text = await runCli(['models', 'summary', 'lenet5'])
    expect(text).toContain('           Linear-12                   [-1, 10]             850')
    expect(text).toContain('Total params: 61,706')
    const json = JSON.parse(await runCli(['models', 'summary', 'alexnet', '--json'])) as { totalParams: number; rows: unknown[] }
    expect(json.totalParams).toBe(46_764_746)
    expect(json.rows.length).toBe(21)
    const list = JSON.parse(await runCli(['models', 'list', '--json'])) as { id: string }[]
    expect(list.map((p) => p.id)).toContain('lenet5-modern')
  })

  it('prints one parameter count for lenet5-modern, with its BatchNorm buffers named apart', async () => {
    const text = await runCli(['models', 'summary', 'lenet5-modern'])
    expect(text).toContain('Total params: 62,158')
    expect(text).toContain('Non-trainable buffers: 452')
    expect(text).not.toContain('62,610')
    const json = JSON.parse(await runCli(['models', 'summary', 'lenet5-modern', '--json'])) as { totalParams: number; buffers: number }
    expect(json).toMatchObject({ totalParams: 62_158, buffers: 452 })
  })

  it('names the known presets when asked for an unknown one', async () => {
    await expect(runCli(['models', 'summary', 'vgg'])).rejects.toThrow(UnknownPresetError)
    await expect(runCli(['models', 'summary', 'vgg'])).rejects.toThrow(/unknown model preset 'vgg'; known: lenet5, /)
  })
})
