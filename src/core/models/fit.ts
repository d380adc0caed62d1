// A preset made for MNIST (1x28x28, 10 classes) fitted to a dataset's images and classes, so every
// preset trains on every dataset: the channels and the class count always follow the data; the
// input size follows it for the small networks (LeNet-5 and its variants), while AlexNet keeps its
// 224x224 and the images are resized on the fly, as d2l resizes Fashion-MNIST.
import type { ModelSpec } from '../../shared/schemas'
import { inferLayers, ModelSpecError } from './spec'

export interface DataShape {
  channels: 1 | 3
  /** Side of the dataset's square images. */
  size: number
  numClasses: number
}

/** Networks designed for at most this input take the data's size; larger ones resize the data. */
const FOLLOWS_SIZE_UP_TO = 64

export function fitSpecToData(spec: ModelSpec, data: DataShape): ModelSpec {
  const out: ModelSpec = structuredClone(spec)
  out.inputChannels = data.channels
  out.numClasses = data.numClasses
  const last = out.layers[out.layers.length - 1]
  if (last?.type !== 'linear') throw new ModelSpecError(`${spec.name} does not end with a Linear layer, so its class count cannot follow the data`, out.layers.length - 1)
  last.outFeatures = data.numClasses
  if (spec.inputSize <= FOLLOWS_SIZE_UP_TO) {
    out.inputSize = data.size
    // d2l pads LeNet's first 5x5 convolution by 2 so that MNIST's 28x28 acts as LeCun's 32x32.
    // On a 32x32 input the padding goes, as in LeCun's network and PyTorch's CIFAR-10 tutorial
    // (conv 6@28x28, pool, conv 16@10x10, pool, 16*5*5 = 400 features).
    const first = out.layers[0]
    if (spec.inputSize === 28 && data.size === 32 && first.type === 'conv2d' && first.kernelSize === 5 && first.padding === 2) first.padding = 0
  }
  try {
    inferLayers(out)
  } catch (err) {
    if (err instanceof ModelSpecError)
      throw new ModelSpecError(`${spec.name} does not fit ${data.channels}x${data.size}x${data.size} images: ${err.message}`, err.layerIndex)
    throw err
  }
  return out
}
