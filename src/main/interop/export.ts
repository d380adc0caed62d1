// A run's best weights, out in the formats people deploy:
//  * pytorch: model.safetensors keyed as the nn.Sequential that mirrors the spec (LeNet-5: 0., 3.,
//    7., 9., 11.), model.py building that nn.Sequential and loading the file, metadata.json;
//  * onnx: model.onnx, float32 N x C x H x W pixels in [0, 1] -> logits, encoded by protobufjs from
//    the official onnx.proto;
//  * tfjs: model.json + weights.bin that tf.loadLayersModel() opens without Conv Studio's code.
// A run trained with per-channel (x - mean) / std takes the same [0, 1] pixels in the ONNX graph
// (Sub and Div at its input), in model.py's load() (a wrapper module) and in the tfjs model (a
// stock 1x1 DepthwiseConv2D as its first layer). Every metadata.json carries the numbers too.
// Weights are read from the checkpoint one tensor at a time (AlexNet's largest is 100 MB of 230),
// converted to PyTorch's layout and written out before the next is read: never two copies of a model.
import { appendFileSync, closeSync, copyFileSync, mkdirSync, openSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import protobuf from 'protobufjs'
import { StudioError } from '../../shared/contract'
import type { RunRecord } from '../../shared/domain'
import type { ModelSpec, Normalize } from '../../shared/schemas'
import { inferLayers } from '../../core/models/spec'
import { pytorchSequential } from '../../core/models/torch-source'
import { checkpointProblem, MAX_MODEL_JSON_BYTES, MODEL_JSON, parseModelJson, WEIGHTS_FILE, type ModelJson } from '../storage/checkpoint'
import { readRegularFile } from '../storage/safe-read'
import type { RunStore } from '../services/runs'
import { numel } from './tensors'
import { rolesOf, sequentialKey, tfjsToTorch, tfjsWeightName, weightedLayers, type WeightedLayer } from './mapping'
import { writeSafetensors, type TensorOut } from './safetensors'
import { ONNX_PROTO } from './onnx-proto'

export type ExportFormat = 'pytorch' | 'onnx' | 'tfjs'

/** The run's per-channel normalisation as numbers, or null when it trained on pixels / 255. */
function normalizeOf(run: RunRecord): Normalize | null {
  const n = run.config.normalize
  if (n === null || n === undefined) return null
  // Resolved when the run is queued; a run still saying 'dataset' never trained, so its numbers are unknown.
  if (n === 'dataset') throw new StudioError('invalid_argument', `Run ${run.id}'s normalisation was never resolved to numbers (it asks for the dataset's), so an export would not know what to apply.`)
  return n
}

const pyList = (v: number[]) => `[${v.map((x) => String(x)).join(', ')}]`

/** The weights of a checkpoint folder, by tfjs name, read from weights.bin on demand. */
class CheckpointReader {
  readonly model: ModelJson
  private readonly fd: number
  private readonly at = new Map<string, { offset: number; shape: number[] }>()

  constructor(readonly dir: string) {
    const problem = checkpointProblem(dir)
    if (problem) throw new StudioError('not_found', `The run's weights cannot be read: ${problem}.`)
    this.model = parseModelJson(readRegularFile(join(dir, MODEL_JSON), MAX_MODEL_JSON_BYTES)).model
    const groups = this.model.weightsManifest
    if (groups.length !== 1 || groups[0].paths.length !== 1) throw new StudioError('invalid_argument', 'The checkpoint spreads its weights over several files; only single-file checkpoints are exported.')
    let offset = 0
    for (const w of groups[0].weights) {
      if (w.dtype !== 'float32' || w.quantization) throw new StudioError('invalid_argument', `The weight ${w.name} is stored as ${w.quantization?.dtype ?? w.dtype}, not float32.`)
      this.at.set(w.name, { offset, shape: w.shape })
      offset += numel(w.shape) * 4
    }
    this.fd = openSync(join(dir, groups[0].paths[0]), 'r')
  }

  read(name: string): Float32Array {
    const w = this.at.get(name)
    if (!w) throw new StudioError('invalid_argument', `The checkpoint has no weight ${name}.`)
    const out = new Float32Array(numel(w.shape))
    const bytes = new Uint8Array(out.buffer)
    let got = 0
    while (got < bytes.length) {
      const n = readSync(this.fd, bytes, got, bytes.length - got, w.offset + got)
      if (n === 0) throw new StudioError('storage_error', `weights.bin ends inside ${name}.`)
      got += n
    }
    return out
  }

  close(): void {
    closeSync(this.fd)
  }
}

// ---------------------------------------------------------------------------------------------
// PyTorch

function modelPy(run: RunRecord, spec: ModelSpec, n: Normalize | null): string {
  const input = `float32 N x ${spec.inputChannels} x ${spec.inputSize} x ${spec.inputSize}, pixels / 255 in [0, 1] (see metadata.json)`
  const wrapper = n
    ? `
# The run trained on (x - mean) / std per channel; load() puts it in front of the network, so the
# model takes pixels / 255 like the app. The state_dict is the network's alone (keys 0., 3., ...).
MEAN = ${pyList(n.mean)}
STD = ${pyList(n.std)}


class Normalized(nn.Module):
    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer('mean', torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x):
        return self.net((x - self.mean) / self.std)

`
    : ''
  return `"""${spec.name.replace(/"/g, "'")} from Conv Studio run ${run.id}.

Input: ${input}; output: ${spec.numClasses} logits.${n ? '\nThe normalisation the run trained with is applied inside (Normalized, below).' : ''}

    from model import load
    model = load()
    logits = model(x)
"""
from pathlib import Path

import torch
from torch import nn
from safetensors.torch import load_file


${pytorchSequential(spec)}
${wrapper}
def load(path=Path(__file__).with_name('model.safetensors')):
    net = build()
    net.load_state_dict(load_file(str(path)))
    return ${n ? 'Normalized(net, MEAN, STD)' : 'net'}.eval()


if __name__ == '__main__':
    model = load()
    print(model)
    print(model(torch.zeros(1, ${spec.inputChannels}, ${spec.inputSize}, ${spec.inputSize})).shape)
`
}

/** Each PyTorch tensor of the spec's nn.Sequential, in state_dict order, with a reader of its bytes. */
function torchTensors(spec: ModelSpec, ckpt: CheckpointReader): { name: string; shape: number[]; layer: WeightedLayer | null; values: () => Float32Array }[] {
  const out: { name: string; shape: number[]; layer: WeightedLayer | null; values: () => Float32Array }[] = []
  for (const layer of weightedLayers(spec)) {
    for (const role of rolesOf(layer))
      out.push({ name: sequentialKey(layer, role), shape: layer.torchShapes[role]!, layer, values: () => tfjsToTorch(layer, role, ckpt.read(tfjsWeightName(layer, role))) })
    if (layer.kind === 'bn') out.push({ name: `${layer.info.index}.num_batches_tracked`, shape: [], layer: null, values: () => new Float32Array(0) })
  }
  return out
}

function writePytorch(dir: string, run: RunRecord, spec: ModelSpec, ckpt: CheckpointReader, n: Normalize | null): void {
  const tensors: TensorOut[] = torchTensors(spec, ckpt).map((t) =>
    t.layer === null
      ? // num_batches_tracked: PyTorch's load_state_dict expects it; the count is not kept by tfjs.
        { name: t.name, dtype: 'I64', shape: [], bytes: () => new Uint8Array(8) }
      : { name: t.name, dtype: 'F32', shape: t.shape, bytes: () => new Uint8Array(t.values().buffer) }
  )
  const meta: Record<string, string> = { format: 'pt', source: `Conv Studio run ${run.id}` }
  if (n) meta.normalize = JSON.stringify(n)
  writeSafetensors(join(dir, 'model.safetensors'), tensors, meta)
  writeFileSync(join(dir, 'model.py'), modelPy(run, spec, n))
}

// ---------------------------------------------------------------------------------------------
// ONNX

let onnxRoot: protobuf.Root | null = null
function onnxTypes(): { Model: protobuf.Type; Tensor: protobuf.Type } {
  onnxRoot ??= protobuf.parse(ONNX_PROTO, { keepCase: false }).root
  return { Model: onnxRoot.lookupType('onnx.ModelProto'), Tensor: onnxRoot.lookupType('onnx.TensorProto') }
}

// Field numbers of onnx.proto that an initializer's framing is written with by hand (see writeOnnx).
const MODEL_GRAPH = 7
const GRAPH_INITIALIZER = 5
const TENSOR_RAW_DATA = 9

/** A length-delimited field's key and length, as protobuf writes them. */
function fieldHeader(field: number, length: number): Uint8Array {
  const w = protobuf.Writer.create()
  w.uint32((field << 3) | 2).uint32(length)
  return w.finish()
}

const FLOAT = 1
const NORMALIZE_MEAN = 'normalize.mean'
const NORMALIZE_STD = 'normalize.std'
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 }
const ints = (name: string, v: number[]) => ({ name, type: ATTR.INTS, ints: v })
const int = (name: string, v: number) => ({ name, type: ATTR.INT, i: v })
const float = (name: string, v: number) => ({ name, type: ATTR.FLOAT, f: v })
const valueInfo = (name: string, dims: (number | string)[]) => ({
  name,
  type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } }
})

/** The graph's nodes, in PyTorch's NCHW layout (the same graph torch.onnx.export makes of the nn.Sequential). */
function onnxNodes(spec: ModelSpec, n: Normalize | null): object[] {
  const nodes: object[] = []
  let x = 'image'
  if (n) {
    // The run's normalisation, so the graph takes pixels / 255 as the metadata says.
    nodes.push({ name: 'normalize_sub', opType: 'Sub', input: [x, NORMALIZE_MEAN], output: ['centred'] })
    nodes.push({ name: 'normalize_div', opType: 'Div', input: ['centred', NORMALIZE_STD], output: ['normalized'] })
    x = 'normalized'
  }
  for (const info of inferLayers(spec)) {
    const l = info.layer
    const i = info.index
    const out = `x${i}`
    const node = (opType: string, inputs: string[], attribute: object[] = []) => {
      nodes.push({ name: `${info.className}_${i}`, opType, input: inputs, output: [out], attribute })
      x = out
    }
    switch (l.type) {
      case 'conv2d':
        node('Conv', [x, `${i}.weight`, `${i}.bias`], [ints('kernel_shape', [l.kernelSize, l.kernelSize]), ints('strides', [l.stride, l.stride]), ints('pads', [l.padding, l.padding, l.padding, l.padding])])
        break
      case 'avgPool2d':
      case 'maxPool2d':
        node(l.type === 'avgPool2d' ? 'AveragePool' : 'MaxPool', [x], [ints('kernel_shape', [l.kernelSize, l.kernelSize]), ints('strides', [l.stride, l.stride])])
        break
      case 'batchNorm2d':
      case 'batchNorm1d':
        node('BatchNormalization', [x, `${i}.weight`, `${i}.bias`, `${i}.running_mean`, `${i}.running_var`], [float('epsilon', 1e-5)])
        break
      case 'sigmoid':
        node('Sigmoid', [x])
        break
      case 'relu':
        node('Relu', [x])
        break
      case 'tanh':
        node('Tanh', [x])
        break
      case 'leakyRelu':
        node('LeakyRelu', [x], [float('alpha', l.negativeSlope)])
        break
      case 'flatten':
        node('Flatten', [x], [int('axis', 1)])
        break
      case 'linear':
        node('Gemm', [x, `${i}.weight`, `${i}.bias`], [int('transB', 1)])
        break
      case 'dropout':
        // Inference: the identity.
        break
    }
  }
  // The last node's output is the graph's output.
  const last = nodes[nodes.length - 1] as { output: string[] }
  last.output = ['logits']
  return nodes
}

/**
 * model.onnx as a concatenation of ModelProto messages: the graph without weights first, then one
 * message per initializer. Protobuf merges repeated fields of concatenated messages (that is the
 * wire format's definition of merging), so readers see one model, and only one tensor is encoded
 * at a time.
 */
function writeOnnx(dir: string, run: RunRecord, spec: ModelSpec, ckpt: CheckpointReader, n: Normalize | null): void {
  const { Model, Tensor } = onnxTypes()
  const head = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'Conv Studio',
    docString: `${spec.name}, run ${run.id}: float32 pixels / 255, N x C x H x W -> logits${n ? `; normalised inside: (x - ${pyList(n.mean)}) / ${pyList(n.std)}` : ''}`,
    graph: {
      name: spec.name.replace(/[^A-Za-z0-9_]/g, '_'),
      node: onnxNodes(spec, n),
      input: [valueInfo('image', ['N', spec.inputChannels, spec.inputSize, spec.inputSize])],
      output: [valueInfo('logits', ['N', spec.numClasses])]
    }
  }
  const check = (m: object) => {
    const problem = Model.verify(m)
    if (problem) throw new Error(`ONNX model message: ${problem}`)
  }
  check(head)
  const path = join(dir, 'model.onnx')
  const fd = openSync(`${path}.partial`, 'w')
  try {
    const write = (b: Uint8Array) => {
      let off = 0
      while (off < b.length) off += writeSync(fd, b, off, b.length - off)
    }
    write(Model.encode(Model.create(head)).finish())
    // Each initializer is one more ModelProto { graph { initializer: [tensor] } } (concatenated
    // messages merge, the repeated field appends). Its name, dims and type are encoded by protobufjs;
    // the raw_data field's key and length are written by hand before the tensor's own bytes, which
    // go to the file as they are: encoding them too would copy AlexNet's 105 MB tensor once more.
    const initializer = (name: string, dims: number[], v: Float32Array) => {
      const meta = Tensor.encode(Tensor.create({ name, dims, dataType: FLOAT })).finish()
      const raw = new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
      const rawHeader = fieldHeader(TENSOR_RAW_DATA, raw.length)
      const tensorLength = meta.length + rawHeader.length + raw.length
      const tensorHeader = fieldHeader(GRAPH_INITIALIZER, tensorLength)
      write(fieldHeader(MODEL_GRAPH, tensorHeader.length + tensorLength))
      for (const part of [tensorHeader, meta, rawHeader, raw]) write(part)
    }
    if (n) {
      const c = spec.inputChannels
      initializer(NORMALIZE_MEAN, [1, c, 1, 1], Float32Array.from(n.mean))
      initializer(NORMALIZE_STD, [1, c, 1, 1], Float32Array.from(n.std))
    }
    for (const t of torchTensors(spec, ckpt)) if (t.layer !== null) initializer(t.name, t.shape, t.values())
  } finally {
    closeSync(fd)
  }
  renameSync(`${path}.partial`, path)
}

// ---------------------------------------------------------------------------------------------
// tfjs

interface TopologyLayer {
  class_name: string
  name?: string
  config: Record<string, unknown>
  inbound_nodes?: [string, number, number, object][][]
}
interface TopologyConfig {
  layers?: TopologyLayer[]
  input_layers?: [string, number, number][]
}

/** The functional model's config inside model.json's topology (tfjs writes it under model_config). */
function topologyConfig(model: ModelJson): TopologyConfig {
  const t = model.modelTopology as { model_config?: { config?: TopologyConfig }; config?: TopologyConfig }
  return t.model_config?.config ?? t.config ?? {}
}

/** Conv Studio's SeededDropout as the stock Dropout (the same at inference), so stock tfjs loads the topology. */
function useStockDropout(config: TopologyConfig): void {
  for (const l of config.layers ?? []) {
    if (l.class_name !== 'SeededDropout') continue
    l.class_name = 'Dropout'
    l.config = { name: l.config.name, trainable: l.config.trainable ?? true, rate: l.config.rate, noise_shape: null, seed: null }
  }
}

const NORMALISATION_LAYER = 'input_normalisation'

/**
 * The run's normalisation as the model's first layer, so the tfjs model takes pixel / 255 as the
 * ONNX graph and model.py do: a 1x1 DepthwiseConv2D, a stock layer, computing x / std - mean / std
 * per channel (kernel 1/std, bias -mean/std). Adds its two weights to the manifest, after the
 * network's, and returns their bytes, to be appended to weights.bin in the same order.
 */
function addNormalisationLayer(model: ModelJson, config: TopologyConfig, n: Normalize): Buffer {
  const input = config.input_layers?.[0]?.[0]
  const at = (config.layers ?? []).findIndex((l) => (l.name ?? l.config.name) === input)
  if (!input || at < 0 || !config.layers) throw new StudioError('internal', 'The checkpoint has no input layer to put the normalisation after.')
  for (const l of config.layers)
    l.inbound_nodes = l.inbound_nodes?.map((node) => node.map(([name, ...rest]) => [name === input ? NORMALISATION_LAYER : name, ...rest] as [string, number, number, object]))
  config.layers.splice(at + 1, 0, {
    name: NORMALISATION_LAYER,
    class_name: 'DepthwiseConv2D',
    config: {
      name: NORMALISATION_LAYER,
      trainable: false,
      kernel_size: [1, 1],
      strides: [1, 1],
      padding: 'valid',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      depth_multiplier: 1,
      activation: 'linear',
      use_bias: true,
      depthwise_initializer: { class_name: 'Ones', config: {} },
      bias_initializer: { class_name: 'Zeros', config: {} },
      depthwise_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      depthwise_constraint: null,
      bias_constraint: null
    },
    inbound_nodes: [[[input, 0, 0, {}]]]
  })
  const c = n.mean.length
  model.weightsManifest[0].weights.push(
    { name: `${NORMALISATION_LAYER}/depthwise_kernel`, shape: [1, 1, c, 1], dtype: 'float32' },
    { name: `${NORMALISATION_LAYER}/bias`, shape: [c], dtype: 'float32' }
  )
  const values = Float32Array.from([...n.std.map((s) => 1 / s), ...n.mean.map((m, i) => -m / n.std[i])])
  return Buffer.from(values.buffer)
}

function writeTfjs(dir: string, ckpt: CheckpointReader, n: Normalize | null): void {
  const model = structuredClone(ckpt.model)
  const config = topologyConfig(model)
  useStockDropout(config)
  const normalisation = n ? addNormalisationLayer(model, config, n) : null
  const weights = join(dir, WEIGHTS_FILE)
  copyFileSync(join(ckpt.dir, ckpt.model.weightsManifest[0].paths[0]), weights)
  if (normalisation) appendFileSync(weights, normalisation)
  model.weightsManifest[0].paths = [WEIGHTS_FILE]
  writeFileSync(join(dir, MODEL_JSON), JSON.stringify(model))
}

// ---------------------------------------------------------------------------------------------

const RESIZE_POLICY: Record<'stretch' | 'fit' | 'crop', string> = {
  stretch: 'stretched to the square, aspect ratio not kept',
  fit: 'fitted inside the square, aspect ratio kept, black borders',
  crop: 'the centre square cut out, aspect ratio kept'
}

function metadata(run: RunRecord, format: ExportFormat, style: string, n: Normalize | null) {
  const s = run.config.spec
  const nchw = [1, s.inputChannels, s.inputSize, s.inputSize]
  const prep = run.config.imagePrep ?? null
  const bilinear = `bilinear with half-pixel centres (as PIL) to ${s.inputSize} x ${s.inputSize} when the image is another size`
  return {
    format,
    exportedBy: 'Conv Studio',
    run: { id: run.id, name: run.name, model: run.model, dataset: run.dataset, testAcc: run.testAcc, tags: run.tags },
    classes: run.classes,
    input: {
      name: 'image',
      layout: format === 'tfjs' ? 'NHWC' : 'NCHW',
      shape: format === 'tfjs' ? [1, s.inputSize, s.inputSize, s.inputChannels] : nchw,
      dtype: 'float32',
      range: [0, 1]
    },
    output: { name: 'logits', shape: [1, s.numClasses], meaning: 'unnormalised class scores; softmax gives probabilities, argmax the class' },
    preprocessing: {
      size: s.inputSize,
      channels: s.inputChannels,
      colour: s.inputChannels === 3 ? 'RGB' : 'gray',
      scale: 'pixel / 255',
      mean: n?.mean ?? null,
      std: n?.std ?? null,
      normalisation: !n
        ? 'none: the network was trained on pixel / 255'
        : format === 'tfjs'
          ? `inside the model (its first layer, ${NORMALISATION_LAYER}: a 1x1 DepthwiseConv2D, x / std - mean / std): feed pixel / 255`
          : format === 'onnx'
            ? 'inside the graph (Sub and Div at the input): feed pixel / 255'
            : "inside model.py's load() (Normalized wraps the network): feed pixel / 255",
      resizePolicy: prep?.policy ?? null,
      resize: prep
        ? `the picture made ${prep.size} x ${prep.size} as the image-folder import made the dataset's (${prep.policy}: ${RESIZE_POLICY[prep.policy]}; alpha on black), then ${bilinear}`
        : bilinear,
      style,
      grayscale: s.inputChannels === 1
    }
  }
}

/** Writes the run's best weights (the last where there is no best) as `format` into `dir`; returns dir. */
export async function exportWeights(runs: RunStore, runId: number, format: ExportFormat, dir: string, style: string): Promise<string> {
  const run = runs.get(runId)
  const kind = checkpointProblem(runs.weightsDir(runId, 'best')) === null ? 'best' : 'last'
  const n = normalizeOf(run)
  const ckpt = new CheckpointReader(runs.weightsDir(runId, kind))
  try {
    mkdirSync(dir, { recursive: true })
    if (format === 'pytorch') writePytorch(dir, run, run.config.spec, ckpt, n)
    else if (format === 'onnx') writeOnnx(dir, run, run.config.spec, ckpt, n)
    else writeTfjs(dir, ckpt, n)
    writeFileSync(join(dir, 'metadata.json'), JSON.stringify({ ...metadata(run, format, style, n), weights: kind }, null, 2) + '\n')
    return dir
  } finally {
    ckpt.close()
  }
}
