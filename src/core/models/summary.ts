// The torchsummary table (github.com/sksq96/pytorch-summary), computed from the spec alone: the
// same row names, output shapes, parameter counts, totals and memory formulas, so that the studio
// and PyTorch print identical tables (test/fixtures/models holds PyTorch's).
import type { ModelSummary, SummaryRow } from '../../shared/domain'
import type { ModelSpec } from '../../shared/schemas'
import { inferLayers } from './spec'

const MB = 1024 ** 2

export function summarize(spec: ModelSpec): ModelSummary {
  const layers = inferLayers(spec)
  const rows: SummaryRow[] = layers.map((l) => ({
    name: `${l.className}-${l.index + 1}`,
    outputShape: [-1, ...l.outputShape],
    params: l.params,
    // torchsummary marks a row trainable only when the module has a weight that requires grad.
    trainable: l.hasWeight
  }))
  const totalParams = rows.reduce((s, r) => s + r.params, 0)
  const trainableParams = rows.reduce((s, r) => s + (r.trainable ? r.params : 0), 0)
  // torchsummary multiplies by batch_size = -1 and takes abs(): a batch of one, float32.
  const totalOutput = rows.reduce((s, r) => s + r.outputShape.reduce((p, d) => p * Math.abs(d), 1), 0)
  const inputElements = spec.inputChannels * spec.inputSize * spec.inputSize
  const inputSizeMb = (inputElements * 4) / MB
  const forwardBackwardMb = (2 * totalOutput * 4) / MB
  const paramsMb = (totalParams * 4) / MB
  return {
    rows,
    totalParams,
    trainableParams,
    nonTrainableParams: totalParams - trainableParams,
    inputSizeMb,
    forwardBackwardMb,
    paramsMb,
    totalMb: inputSizeMb + forwardBackwardMb + paramsMb
  }
}

/**
 * Values a network keeps that are not parameters: BatchNorm's running mean and variance, one pair per
 * channel. PyTorch holds them as buffers (outside parameters(), so outside torchsummary's totals);
 * tfjs holds them as non-trainable weights, so its countParams() is totalParams + buffers.
 */
export function bufferCount(spec: ModelSpec): number {
  return inferLayers(spec).reduce((s, l) => s + (l.layer.type === 'batchNorm2d' || l.layer.type === 'batchNorm1d' ? l.params : 0), 0)
}

/** The line printed under the torchsummary table when the network has buffers, else null. */
export function formatBuffers(spec: ModelSpec): string | null {
  const buffers = bufferCount(spec)
  if (buffers === 0) return null
  return `Non-trainable buffers: ${thousands(buffers)} (BatchNorm running mean and variance; not parameters, as in PyTorch)`
}

const pad = (s: string, width: number): string => s.padStart(width)
const thousands = (n: number): string => n.toLocaleString('en-US')
const rule = '-'.repeat(64)
const doubleRule = '='.repeat(64)

/** The table exactly as torchsummary prints it (Python's "{:>20}  {:>25} {:>15}" rows). */
export function formatSummary(summary: ModelSummary): string {
  const lines: string[] = [rule, `${pad('Layer (type)', 20)}  ${pad('Output Shape', 25)} ${pad('Param #', 15)}`, doubleRule]
  for (const row of summary.rows) {
    lines.push(`${pad(row.name, 20)}  ${pad(`[${row.outputShape.join(', ')}]`, 25)} ${pad(thousands(row.params), 15)}`)
  }
  lines.push(
    doubleRule,
    `Total params: ${thousands(summary.totalParams)}`,
    `Trainable params: ${thousands(summary.trainableParams)}`,
    `Non-trainable params: ${thousands(summary.nonTrainableParams)}`,
    rule,
    `Input size (MB): ${summary.inputSizeMb.toFixed(2)}`,
    `Forward/backward pass size (MB): ${summary.forwardBackwardMb.toFixed(2)}`,
    `Params size (MB): ${summary.paramsMb.toFixed(2)}`,
    `Estimated Total Size (MB): ${summary.totalMb.toFixed(2)}`,
    rule
  )
  return lines.join('\n')
}
