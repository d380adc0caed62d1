// A model spec as the PyTorch source of the nn.Sequential that mirrors it, layer for layer (the
// same indices the exported state_dict uses: LeNet-5 -> 0., 3., 7., 9., 11.). Pure: the PyTorch
// export writes it into model.py, and "Copy as PyTorch code" in New run shows it.
import type { LayerSpec, ModelSpec } from '../../shared/schemas'
import { inferLayers } from './spec'

function torchLayer(l: LayerSpec, inputShape: number[]): string {
  switch (l.type) {
    case 'conv2d':
      return `nn.Conv2d(${inputShape[0]}, ${l.outChannels}, kernel_size=${l.kernelSize}, stride=${l.stride}, padding=${l.padding})`
    case 'avgPool2d':
      return `nn.AvgPool2d(kernel_size=${l.kernelSize}, stride=${l.stride})`
    case 'maxPool2d':
      return `nn.MaxPool2d(kernel_size=${l.kernelSize}, stride=${l.stride})`
    case 'batchNorm2d':
      return `nn.BatchNorm2d(${inputShape[0]})`
    case 'batchNorm1d':
      return `nn.BatchNorm1d(${inputShape[0]})`
    case 'sigmoid':
      return 'nn.Sigmoid()'
    case 'relu':
      return 'nn.ReLU()'
    case 'tanh':
      return 'nn.Tanh()'
    case 'leakyRelu':
      return `nn.LeakyReLU(negative_slope=${l.negativeSlope})`
    case 'flatten':
      return 'nn.Flatten()'
    case 'linear':
      return `nn.Linear(${inputShape[0]}, ${l.outFeatures})`
    case 'dropout':
      return `nn.Dropout(p=${l.p})`
  }
}

/** The nn.Sequential of a spec, as Python source: `def build(): return nn.Sequential(...)`. */
export function pytorchSequential(spec: ModelSpec): string {
  const lines = inferLayers(spec).map((info) => `        ${torchLayer(info.layer, info.inputShape)},  # ${info.index}`)
  return `def build():\n    """${spec.name.replace(/"/g, "'")}: input N x ${spec.inputChannels} x ${spec.inputSize} x ${spec.inputSize}, ${spec.numClasses} logits."""\n    return nn.Sequential(\n${lines.join('\n')}\n    )\n`
}
