// @vitest-environment happy-dom
// The New run store follows the chosen dataset with the preset the services fit to it (models.fit,
// tested on a real colour folder in test/main/datasets/new-run-fit.test.ts): the summary it asks
// for is then that of the run it starts. Here: the store's side, over the in-memory api.
import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { nextTick } from 'vue'
import { setApi } from '../../src/renderer/src/api'
import { useNewRunStore } from '../../src/renderer/src/stores/newRun'
import type { ModelSpec } from '../../src/shared/schemas'
import { FakeApi, lenetPreset } from './fake-api'

const colour: ModelSpec = {
  ...lenetPreset.spec,
  inputSize: 32,
  inputChannels: 3,
  numClasses: 3,
  layers: [{ type: 'conv2d', outChannels: 6, kernelSize: 5, stride: 1, padding: 0 }, ...lenetPreset.spec.layers.slice(1, -1), { type: 'linear', outFeatures: 3 }]
}

let api: FakeApi
let answer: (datasetId: string) => Promise<ModelSpec>
beforeEach(() => {
  answer = async (id) => (id === 'colour-shapes' ? colour : lenetPreset.spec)
  api = new FakeApi({
    'models.fit': (a) => answer(a.datasetId),
    'models.summary': () => ({ rows: [], totalParams: 1, trainableParams: 1, nonTrainableParams: 0, inputSizeMb: 0, forwardBackwardMb: 0, paramsMb: 0, totalMb: 0 })
  })
  setApi(api)
  setActivePinia(createPinia())
})

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await nextTick()
    await new Promise((r) => setTimeout(r, 0))
  }
}

describe('New run follows a colour dataset', () => {
  it('picking a 3x32x32 set shows the preset fitted to it, still as the preset, and summarises that network', async () => {
    const f = useNewRunStore()
    f.applyPreset(lenetPreset)
    f.draft.dataset = 'colour-shapes'
    await settle()
    expect(api.called('models.fit').at(-1)).toEqual({ model: 'lenet5', spec: lenetPreset.spec, datasetId: 'colour-shapes' })
    expect(f.draft.spec).toEqual(colour)
    expect(f.input.model).toBe('lenet5')
    await f.refreshSummary()
    expect((api.called('models.summary').at(-1) as { spec: ModelSpec }).spec).toMatchObject({ inputChannels: 3, inputSize: 32, numClasses: 3 })
    // "Reset to preset" (the same preset again, dataset unchanged) brings back the fitted network.
    f.addLayer(2, 'relu')
    f.applyPreset(lenetPreset)
    await settle()
    expect(f.draft.spec).toEqual(colour)
    // Back to MNIST: fitted from the catalogue's network, not from the colour one.
    f.draft.dataset = 'mnist-sample'
    await settle()
    expect(api.called('models.fit').at(-1)).toMatchObject({ spec: lenetPreset.spec, datasetId: 'mnist-sample' })
    expect(f.draft.spec).toEqual(lenetPreset.spec)
  })

  it('keeps an edited network, and drops an answer that came after the layers changed', async () => {
    const f = useNewRunStore()
    f.applyPreset(lenetPreset)
    await settle()
    f.addLayer(2, 'relu')
    f.draft.dataset = 'colour-shapes'
    await settle()
    expect(f.input.model).toBe('custom')
    expect(f.draft.spec.inputChannels).toBe(1)

    f.removeLayer(2)
    let release!: () => void
    answer = (id) => new Promise((r) => (release = () => r(id === 'colour-shapes' ? colour : lenetPreset.spec)))
    f.draft.dataset = 'mnist-sample'
    await settle()
    f.draft.dataset = 'colour-shapes'
    await settle()
    f.addLayer(2, 'relu')
    release()
    await settle()
    expect(f.draft.spec.inputChannels).toBe(1)
    expect(f.draft.spec.layers[2]).toEqual({ type: 'relu' })
  })
})
