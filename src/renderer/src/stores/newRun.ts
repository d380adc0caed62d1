// The New run form as state: a draft the user edits, validated live with the shared zod schema
// (the same one the services enforce), and the model summary recomputed as the layers change.
import { defineStore } from 'pinia'
import { computed, reactive, ref, watch } from 'vue'
import type { ModelPreset, ModelSummary } from '../../../shared/domain'
import { LayerSpecSchema, TrainConfigSchema, type LayerSpec, type LayerType, type ModelSpec, type TrainConfig, type TrainConfigInput } from '../../../shared/schemas'
import { errorMessage, useApi } from '../api'

export interface Draft {
  name: string
  presetId: string
  spec: ModelSpec
  dataset: string
  optimizer: TrainConfig['optimizer']
  lr: number | string
  momentum: number | string
  weightDecay: number | string
  scheduleType: TrainConfig['schedule']['type']
  stepEpochs: number | string
  gamma: number | string
  minLr: number | string
  batchSize: number | string
  epochs: number | string
  seed: number | string
  validationSource: TrainConfig['validation']['source']
  fraction: number | string
  init: TrainConfig['init']
  backend: TrainConfig['backend']
  trainLimit: number | string
  patience: number | string
}

/** Default parameters of a freshly added layer of each type. */
export const layerDefaults: Record<LayerType, LayerSpec> = {
  conv2d: { type: 'conv2d', outChannels: 16, kernelSize: 3, stride: 1, padding: 1 },
  avgPool2d: { type: 'avgPool2d', kernelSize: 2, stride: 2 },
  maxPool2d: { type: 'maxPool2d', kernelSize: 2, stride: 2 },
  batchNorm2d: { type: 'batchNorm2d' },
  batchNorm1d: { type: 'batchNorm1d' },
  sigmoid: { type: 'sigmoid' },
  relu: { type: 'relu' },
  tanh: { type: 'tanh' },
  leakyRelu: { type: 'leakyRelu', negativeSlope: 0.01 },
  flatten: { type: 'flatten' },
  linear: { type: 'linear', outFeatures: 10 },
  dropout: { type: 'dropout', p: 0.5 }
}

/** Numeric fields of each layer type, in the order the editor shows them. */
export const layerFields: Record<LayerType, { key: string; label: string; step?: number }[]> = {
  conv2d: [
    { key: 'outChannels', label: 'out channels' },
    { key: 'kernelSize', label: 'kernel' },
    { key: 'stride', label: 'stride' },
    { key: 'padding', label: 'padding' }
  ],
  avgPool2d: [
    { key: 'kernelSize', label: 'kernel' },
    { key: 'stride', label: 'stride' }
  ],
  maxPool2d: [
    { key: 'kernelSize', label: 'kernel' },
    { key: 'stride', label: 'stride' }
  ],
  batchNorm2d: [],
  batchNorm1d: [],
  sigmoid: [],
  relu: [],
  tanh: [],
  leakyRelu: [{ key: 'negativeSlope', label: 'slope', step: 0.01 }],
  flatten: [],
  linear: [{ key: 'outFeatures', label: 'out features' }],
  dropout: [{ key: 'p', label: 'p', step: 0.05 }]
}

/** Deep copy of plain JSON data; unlike structuredClone it accepts Vue's reactive proxies. */
function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}

function num(v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  const t = v.trim()
  if (t === '') return undefined
  const n = Number(t)
  return Number.isFinite(n) ? n : NaN
}

function defaultDraft(): Draft {
  return {
    name: '',
    presetId: '',
    spec: { name: 'model', inputSize: 28, inputChannels: 1, numClasses: 10, layers: [{ type: 'flatten' }, { type: 'linear', outFeatures: 10 }] },
    dataset: 'mnist-sample',
    optimizer: 'sgd',
    lr: 0.9,
    momentum: 0,
    weightDecay: 0,
    scheduleType: 'constant',
    stepEpochs: 5,
    gamma: 0.5,
    minLr: 0,
    batchSize: 256,
    epochs: 10,
    seed: 42,
    validationSource: 'test',
    fraction: 0.2,
    init: 'xavier',
    backend: 'auto',
    trainLimit: '',
    patience: ''
  }
}

export const useNewRunStore = defineStore('newRun', () => {
  const api = useApi()
  const draft = reactive<Draft>(defaultDraft())
  const presetSpec = ref<string>('')
  /** The chosen preset's network as the catalogue has it (made for MNIST), which models.fit fits to the dataset. */
  let presetOriginal: ModelSpec | null = null
  let fitSeq = 0
  const summary = ref<ModelSummary | null>(null)
  const summaryError = ref<string | null>(null)
  const summaryLoading = ref(false)
  let summarySeq = 0
  let summaryTimer: ReturnType<typeof setTimeout> | null = null

  /** The config the services would receive, before validation. */
  const input = computed<TrainConfigInput>(() => {
    const d = draft
    const schedule =
      d.scheduleType === 'step'
        ? { type: 'step' as const, stepEpochs: num(d.stepEpochs) as number, gamma: num(d.gamma) as number }
        : d.scheduleType === 'cosine'
          ? { type: 'cosine' as const, minLr: num(d.minLr) ?? 0 }
          : { type: 'constant' as const }
    return {
      model: JSON.stringify(d.spec) === presetSpec.value && d.presetId ? d.presetId : 'custom',
      spec: d.spec,
      dataset: d.dataset,
      optimizer: d.optimizer,
      lr: num(d.lr) as number,
      momentum: num(d.momentum) ?? 0,
      weightDecay: num(d.weightDecay) ?? 0,
      schedule,
      batchSize: num(d.batchSize) as number,
      epochs: num(d.epochs) as number,
      seed: num(d.seed) as number,
      validation: d.validationSource === 'test' ? { source: 'test' } : { source: 'split', fraction: num(d.fraction) as number, stratified: true },
      init: d.init,
      earlyStoppingPatience: num(d.patience) ?? null,
      backend: d.backend,
      trainLimit: num(d.trainLimit) ?? null
    }
  })

  const validation = computed(() => TrainConfigSchema.safeParse(input.value))

  /** Errors keyed by dotted path ('lr', 'validation.fraction', 'spec.layers.2.kernelSize'). */
  const errors = computed<Record<string, string>>(() => {
    const out: Record<string, string> = {}
    const v = validation.value
    if (v.success) return out
    for (const issue of v.error.issues) {
      const key = issue.path.join('.')
      if (!out[key]) out[key] = friendly(key, issue.message)
    }
    return out
  })

  const valid = computed(() => validation.value.success && !summaryError.value)

  function applyPreset(p: ModelPreset): void {
    draft.presetId = p.id
    draft.spec = clone(p.spec)
    presetSpec.value = JSON.stringify(p.spec)
    presetOriginal = clone(p.spec)
    const r = p.recommended
    if (r.optimizer) draft.optimizer = r.optimizer
    if (r.lr !== undefined) draft.lr = r.lr
    if (r.momentum !== undefined) draft.momentum = r.momentum
    if (r.weightDecay !== undefined) draft.weightDecay = r.weightDecay
    if (r.batchSize !== undefined) draft.batchSize = r.batchSize
    if (r.epochs !== undefined) draft.epochs = r.epochs
    if (r.init) draft.init = r.init
    if (r.dataset) draft.dataset = r.dataset
    if (r.validation) {
      draft.validationSource = r.validation.source
      if (r.validation.source === 'split') draft.fraction = r.validation.fraction
    }
    if (r.schedule) setSchedule(r.schedule)
    // "Reset to preset" too: the catalogue's network, fitted to the dataset picked.
    void fitPresetToDataset()
  }

  function setSchedule(s: TrainConfig['schedule']): void {
    draft.scheduleType = s.type
    if (s.type === 'step') {
      draft.stepEpochs = s.stepEpochs
      draft.gamma = s.gamma
    } else if (s.type === 'cosine') draft.minLr = s.minLr
  }

  /** "Train again": the form as the past run had it. */
  function prefill(c: TrainConfig, presets: ModelPreset[], name = ''): void {
    const p = presets.find((x) => x.id === c.model)
    draft.presetId = p ? p.id : ''
    // A past run of a preset stored the preset as fitted to its dataset: that is still the preset.
    presetSpec.value = p ? JSON.stringify(c.model === p.id ? c.spec : p.spec) : ''
    presetOriginal = p ? clone(p.spec) : null
    draft.spec = clone(c.spec)
    draft.name = name
    draft.dataset = c.dataset
    draft.optimizer = c.optimizer
    draft.lr = c.lr
    draft.momentum = c.momentum
    draft.weightDecay = c.weightDecay
    setSchedule(c.schedule)
    draft.batchSize = c.batchSize
    draft.epochs = c.epochs
    draft.seed = c.seed
    draft.validationSource = c.validation.source
    if (c.validation.source === 'split') draft.fraction = c.validation.fraction
    draft.init = c.init
    draft.backend = c.backend
    draft.trainLimit = c.trainLimit ?? ''
    draft.patience = c.earlyStoppingPatience ?? ''
  }

  function addLayer(at: number, type: LayerType = 'relu'): void {
    draft.spec.layers.splice(at, 0, clone(layerDefaults[type]))
  }
  function removeLayer(at: number): void {
    draft.spec.layers.splice(at, 1)
  }
  function moveLayer(at: number, by: -1 | 1): void {
    const to = at + by
    if (to < 0 || to >= draft.spec.layers.length) return
    const [l] = draft.spec.layers.splice(at, 1)
    draft.spec.layers.splice(to, 0, l)
  }
  function changeLayerType(at: number, type: LayerType): void {
    draft.spec.layers.splice(at, 1, clone(layerDefaults[type]))
  }

  async function refreshSummary(): Promise<void> {
    const mine = ++summarySeq
    const spec = draft.spec
    for (const [i, l] of spec.layers.entries()) {
      const r = LayerSpecSchema.safeParse(l)
      if (!r.success) {
        summaryError.value = `Layer ${i + 1}: fix the highlighted field first.`
        summary.value = null
        return
      }
    }
    summaryLoading.value = true
    try {
      const s = await api.invoke('models.summary', { spec: JSON.parse(JSON.stringify(spec)) as ModelSpec })
      if (mine !== summarySeq) return
      summary.value = s
      summaryError.value = null
    } catch (e) {
      if (mine !== summarySeq) return
      summary.value = null
      summaryError.value = errorMessage(e)
    } finally {
      if (mine === summarySeq) summaryLoading.value = false
    }
  }

  /**
   * A preset, unedited, follows the chosen dataset as training.start will fit it (channels, size,
   * classes: LeNet-5 on 3x32x32 loses its first padding), so the layers, the summary and the
   * parameter count shown are those of the run it starts. An edited network is the person's: kept.
   */
  async function fitPresetToDataset(): Promise<void> {
    const mine = ++fitSeq
    const original = presetOriginal
    if (!draft.presetId || !original || input.value.model === 'custom' || !draft.dataset) return
    const asked = JSON.stringify(draft.spec)
    try {
      const fitted = await api.invoke('models.fit', { model: draft.presetId, spec: clone(original), datasetId: draft.dataset })
      // Only if nothing changed meanwhile (another dataset picked, a layer edited).
      if (mine !== fitSeq || JSON.stringify(draft.spec) !== asked) return
      presetSpec.value = JSON.stringify(fitted)
      if (JSON.stringify(fitted) !== asked) draft.spec = fitted
    } catch {
      // Not fitted (an unknown id, a network that cannot take these images): training.start says why.
    }
  }
  watch(() => draft.dataset, () => void fitPresetToDataset())

  watch(
    () => JSON.stringify(draft.spec),
    () => {
      if (summaryTimer) clearTimeout(summaryTimer)
      summaryTimer = setTimeout(() => void refreshSummary(), 200)
    }
  )

  /** The layer a summary error names ("layer 3", "Layer 3:"), 0-based, or null. */
  const summaryErrorLayer = computed(() => {
    const m = summaryError.value?.match(/layer\s*#?\s*(\d+)/i)
    return m ? Number(m[1]) - 1 : null
  })

  function reset(): void {
    Object.assign(draft, defaultDraft())
  }

  /** The network being edited as PyTorch source (the nn.Sequential the PyTorch export also writes). */
  async function pytorchCode(): Promise<string> {
    return (await api.invoke('models.pytorchCode', { spec: JSON.parse(JSON.stringify(draft.spec)) as ModelSpec })).code
  }

  return {
    draft, input, validation, errors, valid, summary, summaryError, summaryErrorLayer, summaryLoading,
    applyPreset, prefill, addLayer, removeLayer, moveLayer, changeLayerType, refreshSummary, fitPresetToDataset, reset, pytorchCode
  }
})

function friendly(key: string, message: string): string {
  if (/expected number, received (nan|undefined)/i.test(message) || /Invalid input: expected number/i.test(message)) return 'Enter a number.'
  if (/expected int/i.test(message)) return 'Enter a whole number.'
  if (key === 'lr' && /too small/i.test(message)) return 'The learning rate must be above 0.'
  return message
}
