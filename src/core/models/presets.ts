// The networks of the tutorials this studio reproduces, as data. Layers mirror PyTorch's
// nn.Sequential one to one (activations are layers of their own), so that summaries compare row by
// row with torchsummary's and a spec can be rebuilt in PyTorch by hand.
import type { ModelPreset } from '../../shared/domain'
import type { LayerSpec, ModelSpec, TrainConfig } from '../../shared/schemas'

const conv = (outChannels: number, kernelSize: number, stride = 1, padding = 0): LayerSpec => ({
  type: 'conv2d',
  outChannels,
  kernelSize,
  stride,
  padding
})
const linear = (outFeatures: number): LayerSpec => ({ type: 'linear', outFeatures })
const avgPool = (kernelSize: number, stride: number): LayerSpec => ({ type: 'avgPool2d', kernelSize, stride })
const maxPool = (kernelSize: number, stride: number): LayerSpec => ({ type: 'maxPool2d', kernelSize, stride })
const sigmoid: LayerSpec = { type: 'sigmoid' }
const relu: LayerSpec = { type: 'relu' }
const leaky: LayerSpec = { type: 'leakyRelu', negativeSlope: 0.01 }
const flatten: LayerSpec = { type: 'flatten' }
const bn2d: LayerSpec = { type: 'batchNorm2d' }
const bn1d: LayerSpec = { type: 'batchNorm1d' }
const dropout = (p: number): LayerSpec => ({ type: 'dropout', p })

const mnistShape = { inputSize: 28, inputChannels: 1 as const, numClasses: 10 }

/** d2l ch. 6.6: the original LeNet-5 with sigmoid activations and average pooling. */
const lenet5: ModelSpec = {
  name: 'LeNet-5',
  ...mnistShape,
  layers: [
    conv(6, 5, 1, 2), sigmoid, avgPool(2, 2),
    conv(16, 5), sigmoid, avgPool(2, 2),
    flatten,
    linear(120), sigmoid,
    linear(84), sigmoid,
    linear(10)
  ]
}

const lenet5Leaky: ModelSpec = {
  name: 'LeNet-5 (LeakyReLU)',
  ...mnistShape,
  layers: [
    conv(6, 5, 1, 2), leaky, avgPool(2, 2),
    conv(16, 5), leaky, avgPool(2, 2),
    flatten,
    linear(120), leaky,
    linear(84), sigmoid,
    linear(10)
  ]
}

const lenet5Modern: ModelSpec = {
  name: 'LeNet-5 (modern)',
  ...mnistShape,
  layers: [
    conv(6, 5, 1, 2), bn2d, relu, maxPool(2, 2),
    conv(16, 5), bn2d, relu, maxPool(2, 2),
    flatten,
    linear(120), bn1d, relu,
    linear(84), bn1d, relu,
    linear(10)
  ]
}

/** d2l ch. 7.1, for 1-channel images resized to 224x224. */
const alexnet: ModelSpec = {
  name: 'AlexNet',
  inputSize: 224,
  inputChannels: 1,
  numClasses: 10,
  layers: [
    conv(96, 11, 4, 1), relu, maxPool(3, 2),
    conv(256, 5, 1, 2), relu, maxPool(3, 2),
    conv(384, 3, 1, 1), relu,
    conv(384, 3, 1, 1), relu,
    conv(256, 3, 1, 1), relu, maxPool(3, 2),
    flatten,
    linear(4096), relu, dropout(0.5),
    linear(4096), relu, dropout(0.5),
    linear(10)
  ]
}

/** d2l's settings: SGD, validation on the test set after every epoch, Xavier init. */
const d2lLenet: Partial<TrainConfig> = {
  optimizer: 'sgd',
  lr: 0.9,
  momentum: 0,
  weightDecay: 0,
  batchSize: 256,
  epochs: 10,
  init: 'xavier',
  validation: { source: 'test' },
  schedule: { type: 'constant' }
}

/** The train/val/test script's settings: Adam, 80/20 split, best checkpoint by validation accuracy. */
export const trainValTestRecipe: Partial<TrainConfig> = {
  optimizer: 'adam',
  lr: 1e-3,
  momentum: 0,
  weightDecay: 0,
  batchSize: 128,
  epochs: 10,
  init: 'default',
  validation: { source: 'split', fraction: 0.2, stratified: true },
  schedule: { type: 'constant' }
}

export const presets: ModelPreset[] = [
  {
    id: 'lenet5',
    title: 'LeNet-5',
    description: 'd2l ch. 6: sigmoid activations, average pooling, Xavier init. 61,706 parameters on 28x28.',
    spec: lenet5,
    recommended: d2lLenet
  },
  {
    id: 'lenet5-adam',
    title: 'LeNet-5 (Adam, 80/20 split)',
    description: 'The same LeNet-5 trained as in the train/val/test script: Adam 1e-3, batch 128, 20% of the training set held out, best epoch by validation accuracy.',
    spec: lenet5,
    recommended: trainValTestRecipe
  },
  {
    id: 'lenet5-leaky',
    title: 'LeNet-5 (LeakyReLU)',
    description: 'LeakyReLU after both convolutions and the 120 unit layer, sigmoid after the 84 unit layer.',
    spec: lenet5Leaky,
    recommended: { ...d2lLenet, lr: 0.1 }
  },
  {
    id: 'lenet5-modern',
    title: 'LeNet-5 (modern)',
    description: 'ReLU, max pooling and batch normalisation after every convolution and hidden linear layer.',
    spec: lenet5Modern,
    recommended: { ...d2lLenet, lr: 0.1 }
  },
  {
    id: 'alexnet',
    title: 'AlexNet',
    description: 'd2l ch. 7 for one channel: images are resized to 224x224 on the fly. 46,764,746 parameters.',
    spec: alexnet,
    recommended: { ...d2lLenet, lr: 0.01, batchSize: 128 }
  }
]

export function getPreset(id: string): ModelPreset | undefined {
  const preset = presets.find((p) => p.id === id)
  // A copy, so a caller editing "its" spec cannot change the catalogue.
  return preset ? structuredClone(preset) : undefined
}
