// @vitest-environment happy-dom
// New run's expected time per epoch, from LeNet-5 figures measured per backend (the Device view's
// quick benchmark): AlexNet on the 2-core CPU is about 19 min per 60k epoch, ten epochs are hours,
// and a faster measured backend is named. The two presets are d2l's, as src/core/models/presets.ts has them.
import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, type Router } from 'vue-router'
import type { BackendReport, ModelPreset } from '../../src/shared/domain'
import type { LayerSpec } from '../../src/shared/schemas'
import { setApi } from '../../src/renderer/src/api'
import { routes } from '../../src/renderer/src/router'
import NewRunView from '../../src/renderer/src/views/NewRunView.vue'
import { useCatalogStore } from '../../src/renderer/src/stores/catalog'
import { FakeApi } from './fake-api'

const conv = (outChannels: number, kernelSize: number, stride = 1, padding = 0): LayerSpec => ({ type: 'conv2d', outChannels, kernelSize, stride, padding })
const linear = (outFeatures: number): LayerSpec => ({ type: 'linear', outFeatures })
const [sigmoid, relu, flatten] = [{ type: 'sigmoid' }, { type: 'relu' }, { type: 'flatten' }] as LayerSpec[]
const presets: ModelPreset[] = [
  {
    id: 'lenet5',
    title: 'LeNet-5',
    description: '',
    spec: { name: 'LeNet-5', inputSize: 28, inputChannels: 1, numClasses: 10, layers: [conv(6, 5, 1, 2), sigmoid, { type: 'avgPool2d', kernelSize: 2, stride: 2 }, conv(16, 5), sigmoid, { type: 'avgPool2d', kernelSize: 2, stride: 2 }, flatten, linear(120), sigmoid, linear(84), sigmoid, linear(10)] },
    recommended: { epochs: 10, batchSize: 256 }
  },
  {
    id: 'alexnet',
    title: 'AlexNet',
    description: '',
    spec: {
      name: 'AlexNet',
      inputSize: 224,
      inputChannels: 1,
      numClasses: 10,
      layers: [
        conv(96, 11, 4, 1), relu, { type: 'maxPool2d', kernelSize: 3, stride: 2 },
        conv(256, 5, 1, 2), relu, { type: 'maxPool2d', kernelSize: 3, stride: 2 },
        conv(384, 3, 1, 1), relu, conv(384, 3, 1, 1), relu, conv(256, 3, 1, 1), relu, { type: 'maxPool2d', kernelSize: 3, stride: 2 },
        flatten, linear(4096), relu, { type: 'dropout', p: 0.5 }, linear(4096), relu, { type: 'dropout', p: 0.5 }, linear(10)
      ]
    },
    recommended: { batchSize: 128 }
  }
]

let api: FakeApi
let pinia: Pinia
let router: Router

beforeEach(async () => {
  api = new FakeApi({
    'models.presets': () => presets.map((p) => structuredClone(p)),
    'models.summary': () => ({ rows: [], totalParams: 1, trainableParams: 1, nonTrainableParams: 0, inputSizeMb: 0, forwardBackwardMb: 0, paramsMb: 0, totalMb: 0 }),
    'datasets.list': () => [
      { id: 'mnist', title: 'MNIST', style: 'digits', classes: [...'0123456789'], source: 'download', status: 'ready', trainCount: 60000, testCount: 10000, imageSize: 28, note: null }
    ],
    'datasets.samples': () => [],
    'backends.report': (): BackendReport => ({ chosen: 'tensorflow', reason: 'Native TensorFlow.', candidates: [{ name: 'tensorflow', available: true, reason: null, device: 'CPU', versions: {} }] }),
    'backends.benchmark': () => [
      { backend: 'tensorflow', device: 'AMD EPYC (2 cores)', examplesPerSec: 16_000, error: null },
      { backend: 'tensorflow-gpu', device: 'RTX 3060', examplesPerSec: 400_000, error: null }
    ],
    'training.active': () => []
  })
  setApi(api)
  pinia = createPinia()
  setActivePinia(pinia)
  router = createRouter({ history: createMemoryHistory(), routes })
  await router.push('/new')
})

describe('New run: expected time per epoch', () => {
  it('asks for a measurement first, then says AlexNet takes ~19 min per 60k epoch here, hours for 10 epochs, and names the faster backend', async () => {
    const w = mount(NewRunView, { global: { plugins: [pinia, router] }, attachTo: document.body })
    await flushPromises()
    await w.find('[data-testid="preset"]').setValue('alexnet')
    await w.find('[data-testid="dataset"]').setValue('mnist')
    await w.find('[data-testid="epochs"]').setValue('10')
    await flushPromises()
    expect(w.find('[data-testid="epoch-estimate"]').text()).toContain('Not measured on tensorflow yet')
    await useCatalogStore().runBenchmark(5)
    await flushPromises()
    const text = w.find('[data-testid="epoch-estimate"]').text()
    const minutes = Number(/About (\d+) min per epoch of 60,000 examples on tensorflow/.exec(text)?.[1])
    expect(minutes).toBeGreaterThanOrEqual(15)
    expect(minutes).toBeLessThanOrEqual(24)
    expect(w.find('[data-testid="takes-hours"]').text()).toMatch(/This run would take \d+(\.\d)? h here/)
    expect(w.find('[data-testid="faster-backend"]').text()).toMatch(/tensorflow-gpu would be faster: about \d+ (s|min) per epoch/)
    // LeNet-5 on the same machine: seconds, nothing about hours.
    await w.find('[data-testid="preset"]').setValue('lenet5')
    await flushPromises()
    expect(w.find('[data-testid="epoch-estimate"]').text()).toMatch(/About \d+ s per epoch/)
    expect(w.find('[data-testid="takes-hours"]').exists()).toBe(false)
    w.unmount()
  })
})
