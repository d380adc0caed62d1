// Shape inference and validation of a ModelSpec, layer by layer, with PyTorch's arithmetic
// (floor division, no ceil_mode, explicit symmetric padding), so that a spec that validates here
// builds in PyTorch too and the summary rows line up with torchsummary's.
import type { LayerSpec, ModelSpec } from '../../shared/schemas'
import { ModelSpecSchema } from '../../shared/schemas'

export class ModelSpecError extends Error {
  /** 0-based index of the offending layer, or null when the problem is the spec as a whole. */
  readonly layerIndex: number | null
  constructor(message: string, layerIndex: number | null) {
    super(message)
    this.name = 'ModelSpecError'
    this.layerIndex = layerIndex
  }
}

/** A feature map [C, H, W] (before flatten) or a feature vector [F] (after). */
export type Shape = [number, number, number] | [number]

export interface LayerInfo {
  index: number
  layer: LayerSpec
  /** PyTorch class name: 'Conv2d', 'Sigmoid', ... */
  className: string
  inputShape: Shape
  outputShape: Shape
  /** weight + bias element counts, as torchsummary counts them (batch-norm running stats excluded). */
  params: number
  /** Whether the layer has a weight (torchsummary counts trainable params only for those). */
  hasWeight: boolean
}

const classNames: Record<LayerSpec['type'], string> = {
  conv2d: 'Conv2d',
  avgPool2d: 'AvgPool2d',
  maxPool2d: 'MaxPool2d',
  batchNorm2d: 'BatchNorm2d',
  batchNorm1d: 'BatchNorm1d',
  sigmoid: 'Sigmoid',
  relu: 'ReLU',
  tanh: 'Tanh',
  leakyRelu: 'LeakyReLU',
  flatten: 'Flatten',
  linear: 'Linear',
  dropout: 'Dropout'
}

function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`
}

/**
 * Parses (defaults applied) and walks the spec, returning every layer's input/output shape and
 * parameter count. Throws ModelSpecError naming the layer (1-based in the message, as the summary
 * numbers them) and the reason.
 */
export function inferLayers(input: ModelSpec): LayerInfo[] {
  const parsed = ModelSpecSchema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const path = issue.path.join('.')
    const layerIndex = issue.path[0] === 'layers' && typeof issue.path[1] === 'number' ? issue.path[1] : null
    throw new ModelSpecError(`invalid model spec at '${path || '(root)'}': ${issue.message}`, layerIndex)
  }
  const spec = parsed.data
  let shape: Shape = [spec.inputChannels, spec.inputSize, spec.inputSize]
  const infos: LayerInfo[] = []
  spec.layers.forEach((layer, index) => {
    const where = `layer ${index + 1} (${classNames[layer.type]})`
    const fail = (why: string): never => {
      throw new ModelSpecError(`${where}: ${why}`, index)
    }
    const needMap = (): [number, number, number] => {
      if (shape.length !== 3) fail(`needs a [C, H, W] feature map but gets a flat vector ${fmt(shape)}; put it before Flatten`)
      return shape as [number, number, number]
    }
    const inputShape = shape
    let params = 0
    let hasWeight = false
    switch (layer.type) {
      case 'conv2d': {
        const [c, h, w] = needMap()
        const ph = h + 2 * layer.padding
        const pw = w + 2 * layer.padding
        if (layer.kernelSize > ph || layer.kernelSize > pw) {
          fail(`kernel ${layer.kernelSize}x${layer.kernelSize} is larger than its padded input ${ph}x${pw} (input ${fmt(shape)}, padding ${layer.padding})`)
        }
        const oh = Math.floor((ph - layer.kernelSize) / layer.stride) + 1
        const ow = Math.floor((pw - layer.kernelSize) / layer.stride) + 1
        shape = [layer.outChannels, oh, ow]
        params = c * layer.outChannels * layer.kernelSize * layer.kernelSize + layer.outChannels
        hasWeight = true
        break
      }
      case 'avgPool2d':
      case 'maxPool2d': {
        const [c, h, w] = needMap()
        if (layer.kernelSize > h || layer.kernelSize > w) {
          fail(`pooling window ${layer.kernelSize}x${layer.kernelSize} is larger than its input ${h}x${w}`)
        }
        shape = [c, Math.floor((h - layer.kernelSize) / layer.stride) + 1, Math.floor((w - layer.kernelSize) / layer.stride) + 1]
        break
      }
      case 'batchNorm2d': {
        const [c] = needMap()
        params = 2 * c
        hasWeight = true
        break
      }
      case 'batchNorm1d': {
        if (shape.length !== 1) fail(`needs a flat vector [F] but gets ${fmt(shape)}; use BatchNorm2d before Flatten`)
        params = 2 * shape[0]
        hasWeight = true
        break
      }
      case 'flatten': {
        if (shape.length !== 3) fail(`the input ${fmt(shape)} is already flat (two Flatten layers?)`)
        shape = [shape[0] * (shape[1] ?? 1) * (shape[2] ?? 1)]
        break
      }
      case 'linear': {
        if (shape.length !== 1) fail(`needs a flat vector but gets the feature map ${fmt(shape)}; put a Flatten layer before it`)
        params = shape[0] * layer.outFeatures + layer.outFeatures
        shape = [layer.outFeatures]
        hasWeight = true
        break
      }
      case 'sigmoid':
      case 'relu':
      case 'tanh':
      case 'leakyRelu':
      case 'dropout':
        break
    }
    infos.push({ index, layer, className: classNames[layer.type], inputShape, outputShape: shape, params, hasWeight })
  })
  // Widen again: TypeScript narrows `shape` to its initial 3-tuple across the forEach callback.
  const last = shape as Shape
  if (last.length !== 1) {
    throw new ModelSpecError(`the network ends with the feature map ${fmt(last)}; it must end with Linear(…, ${spec.numClasses}) after a Flatten`, null)
  }
  if (last[0] !== spec.numClasses) {
    throw new ModelSpecError(`the network ends with ${last[0]} outputs but numClasses is ${spec.numClasses}`, spec.layers.length - 1)
  }
  return infos
}

/** Throws ModelSpecError when the spec is malformed or its shapes do not fit. */
export function validateSpec(spec: ModelSpec): void {
  inferLayers(spec)
}

export function countParams(spec: ModelSpec): number {
  return inferLayers(spec).reduce((sum, l) => sum + l.params, 0)
}
