// PyTorch state_dict <-> the tfjs weights of a spec's model, both directions, layout included.
//
// Layouts: a PyTorch conv kernel is [out, in, kh, kw] (OIHW), tfjs' is [kh, kw, in, out] (HWIO); a
// Linear weight is [out, in], a tfjs dense kernel [in, out]. PyTorch flattens a feature map as
// C x H x W, tfjs (NHWC inside) as H x W x C, so the first layer after a Flatten sees its inputs in
// another order: its input axis is permuted. BatchNorm's weight, bias, running_mean and running_var
// are tfjs' gamma, beta, moving_mean and moving_variance (num_batches_tracked has no counterpart).
//
// Which tensor is which layer: the names users have are either an nn.Sequential mirroring the spec
// ("0.weight", "3.weight", optionally under a prefix such as "net."), or named modules ("conv1",
// "f5", "features.0", ...) in the order they were defined, which is the order they run in. The
// first is matched by index, the second by order; either way every shape is checked.
import type { ModelSpec } from '../../shared/schemas'
import { inferLayers, type LayerInfo } from '../../core/models/spec'
import { FLOAT_DTYPES, numel, type SourceTensor } from './tensors'

export class MappingError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MappingError'
  }
}

type Role = 'weight' | 'bias' | 'running_mean' | 'running_var'
const ROLES_OF: Record<'conv' | 'linear' | 'bn', Role[]> = {
  conv: ['weight', 'bias'],
  linear: ['weight', 'bias'],
  bn: ['weight', 'bias', 'running_mean', 'running_var']
}
const IGNORED_SUFFIXES = ['num_batches_tracked']

/** One layer of the spec that holds weights, with what PyTorch and tfjs call its values. */
export interface WeightedLayer {
  info: LayerInfo
  kind: 'conv' | 'linear' | 'bn'
  /** PyTorch shape per role. */
  torchShapes: Record<Role, number[] | undefined>
  /**
   * Set when this layer reads a flattened feature map ([C, H, W] before Flatten): its input axis
   * (Linear) or its features (BatchNorm1d) come in PyTorch's C,H,W order and must be permuted.
   */
  flattenedFrom: [number, number, number] | null
}

export function weightedLayers(spec: ModelSpec): WeightedLayer[] {
  const out: WeightedLayer[] = []
  let pendingFlatten: [number, number, number] | null = null
  for (const info of inferLayers(spec)) {
    const l = info.layer
    const input = info.inputShape
    if (l.type === 'flatten') pendingFlatten = input as [number, number, number]
    if (l.type === 'conv2d') {
      const cin = input[0]
      out.push({ info, kind: 'conv', torchShapes: { weight: [l.outChannels, cin, l.kernelSize, l.kernelSize], bias: [l.outChannels], running_mean: undefined, running_var: undefined }, flattenedFrom: null })
    } else if (l.type === 'linear') {
      out.push({ info, kind: 'linear', torchShapes: { weight: [l.outFeatures, input[0]], bias: [l.outFeatures], running_mean: undefined, running_var: undefined }, flattenedFrom: pendingFlatten })
      pendingFlatten = null
    } else if (l.type === 'batchNorm2d' || l.type === 'batchNorm1d') {
      const c = input[0]
      out.push({ info, kind: 'bn', torchShapes: { weight: [c], bias: [c], running_mean: [c], running_var: [c] }, flattenedFrom: l.type === 'batchNorm1d' ? pendingFlatten : null })
    }
  }
  return out
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`
const layerName = (w: WeightedLayer) => `layer ${w.info.index + 1} (${w.info.className})`

/** PyTorch's index of the feature tfjs puts at position j after flattening [C, H, W]. */
function torchFeatureIndex(j: number, [c, h, w]: [number, number, number]): number {
  const ch = j % c
  const pix = (j - ch) / c
  return ch * h * w + pix
}

/**
 * Moves a[k] to a[dest(k)] for every k, in place (dest is a permutation), following its cycles with
 * one bit of bookkeeping per value: a layout change of AlexNet's 105 MB dense kernel needs no
 * second 105 MB array.
 */
function permuteInPlace(a: Float32Array, dest: (k: number) => number): Float32Array {
  const done = new Uint8Array((a.length + 7) >> 3)
  for (let start = 0; start < a.length; start++) {
    if (done[start >> 3] & (1 << (start & 7))) continue
    let k = start
    let carry = a[k]
    for (;;) {
      const d = dest(k)
      done[d >> 3] |= 1 << (d & 7)
      if (d === start) {
        a[d] = carry
        break
      }
      const next = a[d]
      a[d] = carry
      carry = next
      k = d
    }
  }
  return a
}

/** tfjs' position of the feature PyTorch has at position t after flattening [C, H, W] (the inverse of torchFeatureIndex). */
function tfjsFeatureIndex(t: number, [c, h, w]: [number, number, number]): number {
  const ch = Math.floor(t / (h * w))
  return (t - ch * h * w) * c + ch
}

/**
 * Each tfjs weight's values from PyTorch's, in the layout tfjs wants. Rearranges `src` in place
 * and returns it (the callers own a freshly read buffer); pass a copy to keep the original.
 */
export function torchToTfjs(layer: WeightedLayer, role: Role, src: Float32Array): Float32Array {
  const shape = layer.torchShapes[role]!
  if (layer.kind === 'conv' && role === 'weight') {
    const [o, i, kh, kw] = shape
    // [oo, ii, y, x] (OIHW) -> [y, x, ii, oo] (HWIO)
    return permuteInPlace(src, (k) => {
      const x = k % kw
      const y = Math.floor(k / kw) % kh
      const ii = Math.floor(k / (kw * kh)) % i
      const oo = Math.floor(k / (kw * kh * i))
      return ((y * kw + x) * i + ii) * o + oo
    })
  }
  if (layer.kind === 'linear' && role === 'weight') {
    const [o, n] = shape
    const from = layer.flattenedFrom
    // [oo, t] -> [j, oo], j = t's tfjs position when the input was flattened
    return permuteInPlace(src, (k) => {
      const oo = Math.floor(k / n)
      const t = k - oo * n
      return (from ? tfjsFeatureIndex(t, from) : t) * o + oo
    })
  }
  if (layer.kind === 'bn' && layer.flattenedFrom) {
    const from = layer.flattenedFrom
    return permuteInPlace(src, (t) => tfjsFeatureIndex(t, from))
  }
  return src
}

/** The inverse of torchToTfjs: PyTorch's values from a tfjs weight, rearranged in place like it. */
export function tfjsToTorch(layer: WeightedLayer, role: Role, src: Float32Array): Float32Array {
  const shape = layer.torchShapes[role]!
  if (layer.kind === 'conv' && role === 'weight') {
    const [o, i, kh, kw] = shape
    // [y, x, ii, oo] (HWIO) -> [oo, ii, y, x] (OIHW)
    return permuteInPlace(src, (k) => {
      const oo = k % o
      const ii = Math.floor(k / o) % i
      const x = Math.floor(k / (o * i)) % kw
      const y = Math.floor(k / (o * i * kw))
      return ((oo * i + ii) * kh + y) * kw + x
    })
  }
  if (layer.kind === 'linear' && role === 'weight') {
    const [o, n] = shape
    const from = layer.flattenedFrom
    // [j, oo] -> [oo, t]
    return permuteInPlace(src, (k) => {
      const j = Math.floor(k / o)
      const oo = k - j * o
      return oo * n + (from ? torchFeatureIndex(j, from) : j)
    })
  }
  if (layer.kind === 'bn' && layer.flattenedFrom) {
    const from = layer.flattenedFrom
    return permuteInPlace(src, (j) => torchFeatureIndex(j, from))
  }
  return src
}

/** tfjs' shape of a weight (the transpose of PyTorch's for conv and linear weights). */
export function tfjsShape(layer: WeightedLayer, role: Role): number[] {
  const s = layer.torchShapes[role]!
  if (layer.kind === 'conv' && role === 'weight') return [s[2], s[3], s[1], s[0]]
  if (layer.kind === 'linear' && role === 'weight') return [s[1], s[0]]
  return s
}

/** The tfjs layer of a spec layer, named as core/models/build.ts names it. */
export function tfjsLayerName(layer: WeightedLayer): string {
  return `${layer.info.className.toLowerCase()}_${layer.info.index + 1}`
}

const TFJS_ROLE: Record<Role, string> = { weight: 'kernel', bias: 'bias', running_mean: 'moving_mean', running_var: 'moving_variance' }

/** The tfjs weight name ('conv2d_1/kernel', 'batchnorm2d_2/gamma'), as in model.json's manifest. */
export function tfjsWeightName(layer: WeightedLayer, role: Role): string {
  const name = layer.kind === 'bn' && role === 'weight' ? 'gamma' : layer.kind === 'bn' && role === 'bias' ? 'beta' : TFJS_ROLE[role]
  return `${tfjsLayerName(layer)}/${name}`
}

/** The roles in the order a tfjs layer keeps its weights (layer.getWeights(): trainable, then the rest). */
export function rolesOf(layer: WeightedLayer): Role[] {
  return ROLES_OF[layer.kind]
}

/** The nn.Sequential key of a layer's value: the spec mirrors nn.Sequential one to one. */
export function sequentialKey(layer: WeightedLayer, role: Role): string {
  return `${layer.info.index}.${role}`
}

export interface WeightPlan {
  /** How the names were read, for the run's notes. */
  style: string
  /** Layer by layer, each layer's weights in its tfjs order: what to load (null: PyTorch's default, zeros or ones). */
  weights: { layer: WeightedLayer; role: Role; source: SourceTensor | null; fill: number }[]
}

interface Module {
  path: string
  params: Map<string, SourceTensor>
}

function modulesOf(tensors: SourceTensor[]): { modules: Module[]; unknown: SourceTensor[] } {
  const modules = new Map<string, Module>()
  const unknown: SourceTensor[] = []
  for (const t of tensors) {
    const dot = t.name.lastIndexOf('.')
    const suffix = dot < 0 ? '' : t.name.slice(dot + 1)
    const path = dot < 0 ? '' : t.name.slice(0, dot)
    if (IGNORED_SUFFIXES.includes(suffix)) continue
    if (!['weight', 'bias', 'running_mean', 'running_var'].includes(suffix) || !path) {
      unknown.push(t)
      continue
    }
    let m = modules.get(path)
    if (!m) modules.set(path, (m = { path, params: new Map() }))
    m.params.set(suffix, t)
  }
  return { modules: [...modules.values()], unknown }
}

/** The prefix and indices when every module is <prefix><integer> (an nn.Sequential), else null. */
function sequentialIndices(modules: Module[]): { prefix: string; indices: number[] } | null {
  let prefix: string | null = null
  const indices: number[] = []
  for (const m of modules) {
    const match = /^(.*?)(\d+)$/.exec(m.path)
    if (!match || (match[1] !== '' && !match[1].endsWith('.'))) return null
    if (prefix !== null && match[1] !== prefix) return null
    prefix = match[1]
    indices.push(Number(match[2]))
  }
  return prefix === null ? null : { prefix, indices }
}

/**
 * Which checkpoint tensor fills which weight of the spec's model. Reads names, dtypes and shapes
 * only. Throws MappingError naming, layer by layer, what was expected and what was found.
 */
export function planWeights(spec: ModelSpec, tensors: SourceTensor[]): WeightPlan {
  const layers = weightedLayers(spec)
  const { modules, unknown } = modulesOf(tensors)
  if (unknown.length) {
    const shown = unknown.slice(0, 4).map((t) => `'${t.name}' ${fmt(t.shape)}`).join(', ')
    throw new MappingError(`the checkpoint holds tensors that are not layer weights: ${shown}${unknown.length > 4 ? ` and ${unknown.length - 4} more` : ''}`)
  }
  const seq = sequentialIndices(modules)
  const byIndex = seq && seq.indices.length === layers.length && layers.every((l) => seq.indices.includes(l.info.index))
  const assigned: (Module | undefined)[] = byIndex
    ? layers.map((l) => modules[seq.indices.indexOf(l.info.index)])
    : layers.map((_, i) => modules[i])
  const style = byIndex
    ? `nn.Sequential keys${seq.prefix ? ` under '${seq.prefix}'` : ''}`
    : `named modules in definition order (${modules.slice(0, 3).map((m) => m.path).join(', ')}${modules.length > 3 ? ', …' : ''})`

  const problems: string[] = []
  const weights: WeightPlan['weights'] = []
  layers.forEach((layer, i) => {
    const m = assigned[i]
    const expected = rolesOf(layer).map((r) => `${r} ${fmt(layer.torchShapes[r]!)}`).join(', ')
    if (!m) {
      problems.push(`${layerName(layer)} expects ${expected}; the checkpoint has no module left for it`)
      return
    }
    const wrong: string[] = []
    for (const role of rolesOf(layer)) {
      const t = m.params.get(role) ?? null
      const want = layer.torchShapes[role]!
      if (t === null) {
        // A layer built with bias=False or affine=False computes what zeros / ones would.
        if (role === 'weight' && layer.kind !== 'bn') wrong.push(`${role} is missing`)
        else weights.push({ layer, role, source: null, fill: role === 'weight' || role === 'running_var' ? 1 : 0 })
        continue
      }
      if (numel(t.shape) !== numel(want) || t.shape.length !== want.length || t.shape.some((d, k) => d !== want[k]))
        wrong.push(`${role} expected ${fmt(want)}, found '${t.name}' ${fmt(t.shape)}`)
      else if (!FLOAT_DTYPES.includes(t.dtype)) wrong.push(`'${t.name}' is ${t.dtype}; weights must be floating point (float32, float64, float16 or bfloat16)`)
      else weights.push({ layer, role, source: t, fill: 0 })
    }
    for (const extra of m.params.keys())
      if (!rolesOf(layer).includes(extra as Role)) wrong.push(`'${m.path}.${extra}' has no place in a ${layer.info.className}`)
    if (wrong.length) problems.push(`${layerName(layer)} ← '${m.path}': ${wrong.join('; ')}`)
  })
  if (modules.length > layers.length) {
    const extra = modules.slice(layers.length).map((m) => `'${m.path}' ${fmt([...m.params.values()][0].shape)}`)
    problems.push(`the checkpoint has ${modules.length} layers with weights, ${spec.name} has ${layers.length}: ${extra.slice(0, 3).join(', ')} left over`)
  }
  if (problems.length) throw new MappingError(`the checkpoint does not fit ${spec.name} (matched by ${style}): ${problems.join(' | ')}`)
  return { style, weights }
}

/** The values of each tfjs weight, one at a time (AlexNet's largest is 100 MB), in the plan's order. */
export async function* loadWeights(plan: WeightPlan): AsyncGenerator<{ layer: WeightedLayer; role: Role; shape: number[]; values: Float32Array }> {
  for (const w of plan.weights) {
    const shape = tfjsShape(w.layer, w.role)
    if (!w.source) {
      yield { layer: w.layer, role: w.role, shape, values: new Float32Array(numel(shape)).fill(w.fill) }
      continue
    }
    const values = torchToTfjs(w.layer, w.role, await w.source.load())
    if (values.some((v) => !Number.isFinite(v))) throw new MappingError(`'${w.source.name}' holds NaN or infinite values`)
    yield { layer: w.layer, role: w.role, shape, values }
  }
}
