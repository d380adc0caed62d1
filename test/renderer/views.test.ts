// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import { defineComponent, h } from 'vue'
import { StudioError } from '../../src/shared/contract'
import type { BackendReport, ModelSummary } from '../../src/shared/domain'
import { setApi } from '../../src/renderer/src/api'
import { routes } from '../../src/renderer/src/router'
import ConfusionMatrix from '../../src/renderer/src/components/ConfusionMatrix.vue'
import NewRunView from '../../src/renderer/src/views/NewRunView.vue'
import RunsView from '../../src/renderer/src/views/RunsView.vue'
import PredictView from '../../src/renderer/src/views/PredictView.vue'
import DeviceView from '../../src/renderer/src/views/DeviceView.vue'
import DatasetsView from '../../src/renderer/src/views/DatasetsView.vue'
import { useTrainingStore } from '../../src/renderer/src/stores/training'
import { usePredictStore } from '../../src/renderer/src/stores/predict'
import { FakeApi, lenetPreset, runRecord, summaryRow } from './fake-api'

let api: FakeApi
let pinia: Pinia
let router: Router

const summary: ModelSummary = {
  rows: [
    { name: 'Conv2d-1', outputShape: [-1, 6, 28, 28], params: 156, trainable: true },
    { name: 'Linear-2', outputShape: [-1, 10], params: 11770, trainable: true }
  ],
  totalParams: 11926,
  trainableParams: 11926,
  nonTrainableParams: 0,
  inputSizeMb: 0,
  forwardBackwardMb: 0.04,
  paramsMb: 0.05,
  totalMb: 0.09
}

beforeEach(async () => {
  api = new FakeApi({
    'models.presets': () => [lenetPreset],
    'models.summary': () => summary,
    'datasets.list': () => [
      { id: 'mnist-sample', title: 'MNIST sample', style: 'digits', classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], source: 'bundled', status: 'ready', trainCount: 8000, testCount: 2000, imageSize: 28, note: null }
    ],
    'datasets.samples': () => [{ index: 0, label: 5, width: 2, height: 2, pixels: btoa('\x00\xff\x80\x00') }],
    'backends.report': (): BackendReport => ({ chosen: 'tensorflow', reason: 'Native TensorFlow loaded and passed its check.', candidates: [
      { name: 'tensorflow', available: true, reason: null, device: 'CPU', versions: { tfjs: '4.22.0' } },
      { name: 'tensorflow-gpu', available: false, reason: 'libcudart.so.11.0: cannot open shared object file', device: null, versions: {} }
    ] }),
    'training.active': () => []
  })
  setApi(api)
  pinia = createPinia()
  setActivePinia(pinia)
  router = createRouter({ history: createMemoryHistory(), routes })
  await router.push('/new')
})

const Host = (view: ReturnType<typeof defineComponent>) => defineComponent({ render: () => h(view) })
function mountView(view: unknown) {
  return mount(Host(view as ReturnType<typeof defineComponent>), { global: { plugins: [pinia, router] }, attachTo: document.body })
}
/** Goes to an address and mounts what the router shows there, with the props its route gives. */
async function mountRoute(path: string) {
  await router.push(path)
  return mountView(RouterView)
}

describe('ConfusionMatrix', () => {
  it('renders a button per cell and emits the cell clicked', async () => {
    const w = mount(ConfusionMatrix, { props: { matrix: [[5, 1], [2, 7]], classes: ['cat', 'dog'] } })
    const cells = w.findAll('button.cell')
    expect(cells.map((c) => c.text())).toEqual(['5', '1', '2', '7'])
    expect(cells[2].attributes('aria-label')).toBe('true dog, predicted cat: 2')
    await cells[2].trigger('click')
    expect(w.emitted('select')?.[0]).toEqual([1, 0])
  })
  it('shows signed differences in diverging mode', () => {
    const w = mount(ConfusionMatrix, { props: { matrix: [[-3, 2], [0, 1]], classes: ['a', 'b'], diverging: true } })
    expect(w.findAll('button.cell').map((c) => c.text())).toEqual(['-3', '+2', '0', '+1'])
  })
})

describe('NewRunView', () => {
  it('shows the summary and the parameter count, explains a bad value next to its field, and starts a valid run', async () => {
    api.handlers['training.start'] = ({ config }) => runRecord(12, { status: 'queued', config: { ...runRecord(12).config, epochs: config.epochs } })
    const w = mountView(NewRunView)
    await flushPromises()
    await new Promise((r) => setTimeout(r, 250))
    await flushPromises()
    expect(w.find('[data-testid="total-params"]').text()).toBe('11,926')
    expect(w.text()).toContain('Conv2d-1')
    expect(w.text()).toContain('Auto uses tensorflow')
    const lr = w.find('[data-testid="lr"]')
    await lr.setValue('0')
    const field = lr.element.closest('.field')!
    expect(field.querySelector('.field-error')?.textContent).toMatch(/above 0/)
    expect(lr.attributes('aria-invalid')).toBe('true')
    expect(w.find('[data-testid="start"]').attributes('disabled')).toBeDefined()
    await lr.setValue('0.5')
    await w.find('[data-testid="epochs"]').setValue('1')
    expect(w.find('[data-testid="start"]').attributes('disabled')).toBeUndefined()
    await w.find('[data-testid="start"]').trigger('click')
    await flushPromises()
    const sent = api.called('training.start')[0] as { config: { lr: number; epochs: number; model: string } }
    expect(sent.config).toMatchObject({ lr: 0.5, epochs: 1, model: 'lenet5' })
    // The route's view is loaded lazily; wait for the navigation to land.
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/live/12'), { timeout: 5000 })
    w.unmount()
  })

  it('shows the network as PyTorch code and copies it', async () => {
    api.handlers['models.pytorchCode'] = ({ spec }) => ({ code: `def build():\n    return nn.Sequential(  # ${spec.layers.length} layers\n    )\n` })
    const copied: string[] = []
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText: async (t: string) => void copied.push(t) } })
    const w = mountView(NewRunView)
    await flushPromises()
    await w.find('[data-testid="copy-pytorch"]').trigger('click')
    await flushPromises()
    const sent = api.called('models.pytorchCode')[0] as { spec: { layers: unknown[] } }
    expect(sent.spec.layers).toHaveLength(lenetPreset.spec.layers.length)
    const code = w.find('[data-testid="pytorch-code"]').text()
    expect(code).toContain('from torch import nn')
    expect(code).toContain(`# ${lenetPreset.spec.layers.length} layers`)
    expect(copied.map((t) => t.trim())).toEqual([code.trim()])
    expect(w.text()).toContain('Copied to the clipboard.')
    w.unmount()
  })

  it('lets the user edit a copy of the preset and marks a bad layer field', async () => {
    const w = mountView(NewRunView)
    await flushPromises()
    await w.find('[data-testid="edit-layers"]').trigger('click')
    const kernel = w.find('input[aria-label="Layer 1 kernel"]')
    await kernel.setValue('0')
    expect(kernel.attributes('aria-invalid')).toBe('true')
    expect(w.text()).toContain('custom copy')
    w.unmount()
  })
})

describe('RunsView', () => {
  it('imports PyTorch weights through the desktop dialog onto the chosen preset and dataset, and links the new run', async () => {
    api.handlers['runs.list'] = () => ({ rows: [], total: 0 })
    api.handlers['models.presets'] = () => [lenetPreset]
    api.handlers['datasets.list'] = () => [
      { id: 'fashion-mnist', title: 'Fashion-MNIST', style: 'objects', classes: ['a', 'b'], source: 'bundled', status: 'ready', trainCount: 10, testCount: 5, imageSize: 28, note: null }
    ]
    const asked: unknown[] = []
    window.studioShell = {
      exportRun: async () => true,
      importRun: async () => null,
      importDataset: async () => null,
      importImages: async () => null,
      importModel: async (choice) => (asked.push(choice), runRecord(21, { name: 'torch lenet', tags: ['imported'] }))
    }
    try {
      const w = mountView(RunsView)
      await flushPromises()
      await w.find('[data-testid="import-model-open"]').trigger('click')
      await flushPromises()
      expect(w.find('[data-testid="import-model-file"]').exists()).toBe(false)
      await w.find('[data-testid="import-model"]').trigger('submit')
      await flushPromises()
      expect(asked).toEqual([{ model: 'lenet5', dataset: 'fashion-mnist' }])
      expect(w.find('[data-testid="import-message"]').text()).toContain('run 21')
      expect(w.find('[data-testid="import-model"]').exists()).toBe(false)
      w.unmount()
    } finally {
      delete window.studioShell
    }
  })

  it('lists runs, renames inline, and deletes only after confirmation', async () => {
    let rows = [summaryRow(1, { name: 'first' }), summaryRow(2, { name: 'second', tags: ['baseline'] })]
    api.handlers['runs.list'] = () => ({ rows, total: rows.length })
    api.handlers['runs.rename'] = ({ runId, name }) => runRecord(runId, { name })
    api.handlers['runs.delete'] = ({ runId }) => {
      rows = rows.filter((r) => r.id !== runId)
      return { deleted: 1 }
    }
    const w = mountView(RunsView)
    await flushPromises()
    expect(w.findAll('tbody tr[data-run-id]')).toHaveLength(2)
    expect(w.text()).toContain('baseline')
    await w.find('button[aria-label="Rename first"]').trigger('click')
    const input = w.find('input[aria-label="New name for first"]')
    await input.setValue('renamed')
    await input.trigger('keydown', { key: 'Enter' })
    await flushPromises()
    expect(api.called('runs.rename')).toEqual([{ runId: 1, name: 'renamed' }])
    expect(w.text()).toContain('renamed')
    await w.find('button[aria-label="Delete second"]').trigger('click')
    expect(api.called('runs.delete')).toHaveLength(0)
    const confirm = w.find('tr[data-run-id="2"] button.danger')
    await confirm.trigger('click')
    await flushPromises()
    expect(api.called('runs.delete')).toEqual([{ runId: 2 }])
    expect(w.findAll('tbody tr[data-run-id]')).toHaveLength(1)
    w.unmount()
  })

  it('enables Compare with two runs selected and opens it with their ids', async () => {
    api.handlers['runs.list'] = () => ({ rows: [summaryRow(1), summaryRow(2)], total: 2 })
    const w = mountView(RunsView)
    await flushPromises()
    expect(w.find('[data-testid="compare"]').attributes('disabled')).toBeDefined()
    for (const box of w.findAll('tbody input[type="checkbox"]')) await box.setValue(true)
    expect(w.find('[data-testid="compare"]').text()).toBe('Compare (2)')
    await w.find('[data-testid="compare"]').trigger('click')
    // The route's view is loaded lazily; wait for the navigation to land.
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/compare?ids=1,2'), { timeout: 5000 })
    w.unmount()
  })

  it('says so when there are no runs, and shows the service error when listing fails', async () => {
    api.handlers['runs.list'] = () => ({ rows: [], total: 0 })
    let w = mountView(RunsView)
    await flushPromises()
    expect(w.text()).toContain('No runs yet')
    w.unmount()
    setActivePinia((pinia = createPinia()))
    api.handlers['runs.list'] = () => {
      throw new StudioError('storage_error', 'The database file is locked.')
    }
    w = mountView(RunsView)
    await flushPromises()
    expect(w.find('[role="alert"]').text()).toContain('The database file is locked.')
    w.unmount()
  })
})

describe('LiveView', () => {
  it('shows the live numbers of the current run and cancels it', async () => {
    api.handlers['training.cancel'] = ({ runId }) => ({ runId, status: 'cancelled', error: null, run: runRecord(runId, { status: 'cancelled' }) })
    const s = useTrainingStore()
    s.track(runRecord(5, { status: 'running', name: 'live one', backend: 'tensorflow' }))
    api.emit('training.batch', { runId: 5, epoch: 1, batch: 2, x: 0.5, loss: 1.2, acc: 0.6, examplesPerSec: 4321, etaSeconds: 75 })
    const w = await mountRoute('/live/5')
    await flushPromises()
    expect(w.text()).toContain('live one')
    expect(w.text()).toContain('4,321')
    expect(w.text()).toContain('1 min 15 s')
    expect(w.find('[data-testid="live-epoch"]').text()).toBe('0.50 / 1')
    await w.find('[data-testid="cancel"]').trigger('click')
    await flushPromises()
    expect(api.called('training.cancel')).toEqual([{ runId: 5 }])
    expect(w.find('[data-testid="live-status"]').text()).toBe('cancelled')
    w.unmount()
  })

  it('has an empty state when nothing trains', async () => {
    const w = await mountRoute('/live')
    await flushPromises()
    expect(w.text()).toContain('Nothing is training right now')
    w.unmount()
  })
})

const f32 = (xs: number[]) => btoa(String.fromCharCode(...new Uint8Array(Float32Array.from(xs).buffer)))
/** A 2x2 single-channel network's inspection, as inspect.* answers it. */
const inspectResult = {
  input: { shape: [1, 2, 2], values: f32([0, 0.5, 1, 0]) },
  layers: [
    { name: 'Conv2d-1', shape: [1, 2, 2], values: f32([0.1, 0.2, 0.3, 0.4]) },
    { name: 'Linear-2', shape: [2], values: f32([-1, 2]) }
  ],
  top: [{ classIndex: 1, label: '1', probability: 0.95 }, { classIndex: 0, label: '0', probability: 0.05 }],
  predicted: 1,
  gradcam: { layer: 'Conv2d-1', classIndex: 1, raw: { shape: [2, 2], values: f32([0, 1, 0, 0]) }, upsampled: { shape: [2, 2], values: f32([0, 1, 0, 0]) } },
  saliency: { shape: [2, 2], values: f32([0, 0, 1, 0]) },
  image: { width: 2, height: 2, pixels: btoa('\x00\x00\x00\x00') },
  milliseconds: 4
}

describe('RunDetailView', () => {
  it('opens a confusion cell to its images', async () => {
    api.handlers['runs.get'] = ({ runId }) => runRecord(runId, { classes: ['0', '1'] })
    api.handlers['runs.curves'] = ({ runId }) => ({ runId, steps: [{ x: 0.5, loss: 1, acc: 0.5 }], totalSteps: 1, epochs: [{ epoch: 1, trainLoss: 1, trainAcc: 0.5, valLoss: 0.9, valAcc: 0.6, seconds: 1, examplesPerSec: 10 }] })
    api.handlers['runs.summary'] = () => summary
    // The services compute the metrics (core/metrics, tested there); the view only shows them.
    api.handlers['runs.confusion'] = ({ runId, epoch }) => ({
      runId,
      epoch: epoch ?? 'test',
      classes: ['0', '1'],
      matrix: [[8, 2], [1, 9]],
      accuracy: 0.85,
      precision: [8 / 9, 9 / 11],
      recall: [0.8, 0.9],
      support: [10, 10]
    })
    api.handlers['runs.cellExamples'] = ({ trueClass, predictedClass }) => [
      { index: 17, split: 'test' as const, trueClass, predictedClass, width: 2, height: 2, pixels: btoa('\x00\x00\x00\x00'), probabilities: [0.2, 0.8] },
      { index: 23, split: 'test' as const, trueClass, predictedClass, width: 2, height: 2, pixels: btoa('\x00\x00\x00\x00'), probabilities: [0.4, 0.6] }
    ]
    api.handlers['runs.hardest'] = () => ({ confidentMistakes: [], leastConfidentCorrect: [] })
    api.handlers['runs.flips'] = ({ from, to }) => ({ from, to, rightToWrong: [], wrongToRight: [] })
    api.handlers['runs.filters'] = () => []
    api.handlers['runs.histograms'] = () => []
    api.handlers['inspect.example'] = () => inspectResult
    const w = await mountRoute('/runs/3')
    await flushPromises()
    expect(w.text()).toContain('accuracy 85.00%')
    await w.find('[data-cell="0-1"]').trigger('click')
    await flushPromises()
    expect(api.called('runs.cellExamples')[0]).toMatchObject({ runId: 3, epoch: 'test', trueClass: 0, predictedClass: 1 })
    const figs = w.findAll('[data-testid="cell-examples"] button')
    expect(figs).toHaveLength(2)
    expect(figs[0].text()).toContain('#17')
    expect(figs[0].text()).toContain('80%')
    // per-class recall of class 0 = 8/10
    expect(w.text()).toContain('80.0%')
    // An image of the cell opens in Inspect (issue 18).
    await figs[1].trigger('click')
    await flushPromises()
    expect(api.called('inspect.example')[0]).toMatchObject({ runId: 3, weights: 'best', split: 'test', index: 23 })
    expect(w.find('[data-testid="run-inspect"]').text()).toContain('Inspect test example #23')
    expect(w.find('[data-testid="inspect-predicted"]').text()).toBe('1')
    w.unmount()
  })

  it('says what is wrong when the run does not exist', async () => {
    api.handlers['runs.get'] = ({ runId }) => {
      throw new StudioError('not_found', `There is no run ${runId}.`)
    }
    const w = await mountRoute('/runs/99')
    await flushPromises()
    expect(w.find('[role="alert"]').text()).toContain('There is no run 99.')
    w.unmount()
  })
})

describe('PredictView', () => {
  it('lists each file with its prediction or the service message', async () => {
    api.handlers['runs.list'] = () => ({ rows: [summaryRow(3, { name: 'digits' })], total: 1 })
    api.handlers['predict.image'] = ({ fileName }) => {
      if (fileName === 'empty.png') throw new StudioError('data_error', 'empty.png is empty (0 bytes).')
      return { fileName, top: [{ classIndex: 4, label: '4', probability: 0.97 }], steps: [{ name: 'grayscale', image: { width: 1, height: 1, pixels: 'AA==' } }], milliseconds: 3 }
    }
    await router.push('/predict')
    const w = mountView(PredictView)
    await flushPromises()
    expect(w.find('[data-testid="predict-run"]').text()).toContain('digits')
    await usePredictStore().predictFiles([
      { name: 'four.png', file: new Blob([new Uint8Array([1])]) },
      { name: 'empty.png', file: new Blob([]) }
    ])
    await flushPromises()
    const table = w.find('[data-testid="predict-table"]').text()
    expect(table).toContain('four.png')
    expect(table).toContain('97.0%')
    expect(table).toContain('empty.png is empty (0 bytes).')
    // The file opens in Inspect with the bytes that were dropped (issue 18).
    api.handlers['inspect.image'] = () => inspectResult
    api.handlers['runs.get'] = ({ runId }) => runRecord(runId, { classes: ['0', '1'] })
    await w.findAll('[data-testid="predict-table"] button').find((b) => b.text() === 'four.png')!.trigger('click')
    await w.find('[data-testid="inspect-file"]').trigger('click')
    await flushPromises()
    expect(api.called('inspect.image')[0]).toMatchObject({ runId: 3, weights: 'best', fileName: 'four.png', data: 'AQ==' })
    expect(w.find('[data-testid="predict-inspect"]').text()).toContain('Grad-CAM on Conv2d-1')
    w.unmount()
  })

  it('tells the user to train first when there is no completed run', async () => {
    api.handlers['runs.list'] = () => ({ rows: [], total: 0 })
    const w = mountView(PredictView)
    await flushPromises()
    expect(w.text()).toContain('Train a model first')
    w.unmount()
  })
})

describe('DeviceView', () => {
  it('shows the backend in use and why the others are not', async () => {
    api.handlers['backends.benchmark'] = () => [{ backend: 'tensorflow', device: 'CPU', examplesPerSec: 4100, error: null }]
    const w = mountView(DeviceView)
    await flushPromises()
    expect(w.find('[data-testid="backend-chosen"]').text()).toContain('tensorflow')
    expect(w.text()).toContain('libcudart.so.11.0')
    await w.find('[data-testid="benchmark"]').trigger('click')
    await flushPromises()
    expect(w.text()).toContain('4,100')
    w.unmount()
  })
})

describe('CompareView', () => {
  it('highlights the best metric, lists only differing config, and fetches the disagreeing images from the run that got them wrong', async () => {
    const a = runRecord(1, { name: 'slow', testAcc: 0.9, classes: ['0', '1'] })
    const b = runRecord(2, { name: 'fast', testAcc: 0.95, classes: ['0', '1'] })
    api.handlers['runs.compare'] = () => ({
      runs: [a, b],
      curves: [
        { runId: 1, steps: [], totalSteps: 0, epochs: [] },
        { runId: 2, steps: [], totalSteps: 0, epochs: [] }
      ],
      configDiff: [{ field: 'lr', values: [0.1, 0.9] }],
      confusionDiff: [[2, -2], [-1, 1]],
      disagreements: [{ index: 40, trueClass: 1, predicted: [0, 1] }]
    })
    api.handlers['runs.cellExamples'] = ({ trueClass, predictedClass }) => [
      { index: 40, split: 'test' as const, trueClass, predictedClass, width: 1, height: 1, pixels: 'AA==', probabilities: [0.7, 0.3] },
      { index: 41, split: 'test' as const, trueClass, predictedClass, width: 1, height: 1, pixels: 'AA==', probabilities: null }
    ]
    const w = await mountRoute('/compare?ids=1,2')
    await flushPromises()
    const best = w.findAll('[data-testid="compare-metrics"] td.best').map((c) => c.text())
    expect(best).toContain('95.00%')
    expect(w.find('[data-testid="config-diff"]').text()).toContain('lr')
    expect(w.find('[data-testid="config-diff"]').text()).toContain('0.9')
    expect(api.called('runs.cellExamples')).toEqual([{ runId: 1, epoch: 'test', trueClass: 1, predictedClass: 0, limit: 200 }])
    expect(w.findAll('[data-testid="disagreements"] figure canvas')).toHaveLength(1)
    expect(w.findAll('button.cell').map((c) => c.text())).toEqual(['+2', '-2', '-1', '+1'])
    w.unmount()
  })

  it('asks for two runs when given fewer', async () => {
    const w = await mountRoute('/compare?ids=1')
    await flushPromises()
    expect(w.text()).toContain('Select two or more runs')
    w.unmount()
  })
})

describe('DatasetsView', () => {
  const detail = () => ({
    id: 'mnist-sample', title: 'MNIST sample', style: 'digits' as const, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], source: 'bundled' as const, status: 'ready' as const,
    trainCount: 8000, testCount: 2000, imageSize: 28, note: null, trainClassCounts: [800, 900, 800, 800, 800, 700, 800, 800, 800, 800], testClassCounts: Array(10).fill(200)
  })
  const idxNames = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']

  it('shows the catalog, class counts and samples; uploads the four picked IDX files and reports the service error (web mode)', async () => {
    api.handlers['datasets.info'] = () => detail()
    // The upload goes over HTTP beside the socket (the page never names a path): answer it here.
    const posted: { url: string; form: FormData }[] = []
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      posted.push({ url, form: init.body as FormData })
      return new Response(JSON.stringify({ ok: false, error: { code: 'data_error', message: 'train-images-idx3-ubyte.gz: bad magic 0x00000000 (expected 0x00000803).' } }))
    })
    try {
      const w = mountView(DatasetsView)
      await flushPromises()
      expect(w.find('[data-testid="datasets-table"]').text()).toContain('MNIST sample')
      expect(w.text()).toContain('900')
      expect(w.find('input[type="text"]#import-path').exists()).toBe(false)
      const input = w.find('[data-testid="import-idx-files"]')
      const pick = async (names: string[]) => {
        Object.defineProperty(input.element, 'files', { value: names.map((n) => new File([new Uint8Array(4)], n)), configurable: true })
        await input.trigger('change')
      }
      await pick(idxNames.slice(0, 3))
      expect(w.find('[data-testid="dataset-import"] button[type="submit"]').attributes('disabled')).toBeDefined()
      expect(w.text()).toContain('3 files picked; choose all four together.')
      await pick(idxNames)
      await w.find('#import-title').setValue('my digits')
      await w.find('[data-testid="dataset-import"]').trigger('submit')
      await flushPromises()
      expect(w.find('[role="alert"]').text()).toContain('bad magic')
      expect(posted.map((p) => p.url)).toEqual(['/files/datasets/import'])
      expect(posted[0].form.getAll('files').map((f) => (f as File).name)).toEqual(idxNames)
      expect(posted[0].form.get('title')).toBe('my digits')
      expect(api.called('datasets.import')).toEqual([])
      w.unmount()
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('imports through the native folder dialog in Electron and opens the new dataset', async () => {
    api.handlers['datasets.info'] = () => detail()
    const imported = { ...detail(), id: 'imported-mine', title: 'mine', source: 'imported' as const }
    let dialogs = 0
    window.studioShell = {
      exportRun: async () => true,
      importRun: async () => null,
      importDataset: async () => (dialogs++ === 0 ? null : imported),
      importImages: async () => null,
      importModel: async () => null
    }
    try {
      const w = mountView(DatasetsView)
      await flushPromises()
      expect(w.find('[data-testid="import-idx-files"]').exists()).toBe(false)
      const button = w.find('[data-testid="dataset-import"] button[type="submit"]')
      expect(button.text()).toBe('Import IDX folder…')
      await w.find('[data-testid="dataset-import"]').trigger('submit')
      await flushPromises()
      // Cancelled: nothing said.
      expect(w.find('[data-testid="dataset-import"] [role="status"]').exists()).toBe(false)
      await w.find('[data-testid="dataset-import"]').trigger('submit')
      await flushPromises()
      expect(dialogs).toBe(2)
      expect(w.find('[data-testid="dataset-import"] [role="status"]').text()).toContain('Imported “mine”')
      expect(api.called('datasets.import')).toEqual([])
      w.unmount()
    } finally {
      delete window.studioShell
    }
  })
})
