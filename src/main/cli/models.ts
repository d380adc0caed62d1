// `conv-studio models list` and `conv-studio models summary <preset>`: the preset catalogue and the
// torchsummary table of a network, plain or as JSON.
import type { Command } from 'commander'
import { getPreset, presets } from '../../core/models/presets'
import { bufferCount, formatBuffers, formatSummary, summarize } from '../../core/models/summary'
import { CliUsageError } from './common'

export class UnknownPresetError extends CliUsageError {
  constructor(id: string) {
    super(`unknown model preset '${id}'; known: ${presets.map((p) => p.id).join(', ')}`)
    this.name = 'UnknownPresetError'
  }
}

export function listText(): string {
  const rows = presets.map((p) => {
    const s = summarize(p.spec)
    const r = p.recommended
    const recipe = [r.optimizer, r.lr !== undefined ? `lr ${r.lr}` : null, r.batchSize ? `batch ${r.batchSize}` : null, r.epochs ? `${r.epochs} epochs` : null]
      .filter(Boolean)
      .join(', ')
    return [p.id, p.title, `${p.spec.inputChannels}x${p.spec.inputSize}x${p.spec.inputSize}`, s.totalParams.toLocaleString('en-US'), recipe]
  })
  const header = ['id', 'title', 'input', 'params', 'recommended']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

export function summaryText(id: string): string {
  const preset = getPreset(id)
  if (!preset) throw new UnknownPresetError(id)
  const buffers = formatBuffers(preset.spec)
  return `${preset.title} (${preset.id}), input ${preset.spec.inputChannels}x${preset.spec.inputSize}x${preset.spec.inputSize}\n${formatSummary(summarize(preset.spec))}${buffers ? `\n${buffers}` : ''}`
}

export function register(program: Command): void {
  const models = program.command('models').description('model presets and their summaries')
  models
    .command('list')
    .description('list the model presets with their parameter counts and recommended settings')
    .option('--json', 'print the presets (spec and recommended settings) as JSON')
    .action((opts: { json?: boolean }) => {
      if (opts.json) {
        console.log(JSON.stringify(presets.map((p) => ({ ...p, paramCount: summarize(p.spec).totalParams })), null, 2))
      } else {
        console.log(listText())
      }
    })
  models
    .command('summary <preset>')
    .description('print the layer table of a preset as torchsummary prints it')
    .option('--json', 'print the summary as JSON')
    .action((id: string, opts: { json?: boolean }) => {
      const preset = getPreset(id)
      if (!preset) throw new UnknownPresetError(id)
      if (opts.json) console.log(JSON.stringify({ preset: id, ...summarize(preset.spec), buffers: bufferCount(preset.spec) }, null, 2))
      else console.log(summaryText(id))
    })
}
