// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { nextTick } from 'vue'
import { StudioError } from '../../src/shared/contract'
import { setApi } from '../../src/renderer/src/api'
import { useTrainingStore } from '../../src/renderer/src/stores/training'
import { useNewRunStore } from '../../src/renderer/src/stores/newRun'
import { useRunsStore } from '../../src/renderer/src/stores/runs'
import { bytesToBase64, usePredictStore } from '../../src/renderer/src/stores/predict'
import { useDatasetsStore } from '../../src/renderer/src/stores/datasets'
import { FakeApi, lenetPreset, runRecord, summaryRow } from './fake-api'

let api: FakeApi
beforeEach(() => {
  api = new FakeApi()
  setApi(api)
  setActivePinia(createPinia())
})

describe('training store', () => {
  it('resumes what the service is training, with the points logged so far, and follows events', async () => {
    api.handlers['training.active'] = () => [
      { run: runRecord(4, { status: 'running', epochsDone: 0 }), steps: [{ x: 0.1, loss: 2.3, acc: 0.1 }, { x: 0.2, loss: 2.2, acc: 0.15 }], epochs: [] }
    ]
    const s = useTrainingStore()
    await s.resume()
    expect(s.currentId).toBe(4)
    expect(s.runs[4].curve.points).toHaveLength(2)
    const tick = s.runs[4].tick
    api.emit('training.batch', { runId: 4, epoch: 1, batch: 3, x: 0.3, loss: 2.0, acc: 0.3, examplesPerSec: 1234, etaSeconds: 12 })
    expect(s.runs[4].curve.points).toHaveLength(3)
    expect(s.runs[4].examplesPerSec).toBe(1234)
    expect(s.runs[4].etaSeconds).toBe(12)
    expect(s.runs[4].tick).toBeGreaterThan(tick)
    api.emit('training.epoch', { runId: 4, epoch: 1, trainLoss: 1, trainAcc: 0.6, valLoss: 0.9, valAcc: 0.7, seconds: 3, examplesPerSec: 1000 })
    expect(s.runs[4].epochs.map((e) => e.valAcc)).toEqual([0.7])
    api.emit('training.status', { runId: 4, status: 'completed', error: null, run: runRecord(4, { status: 'completed', testAcc: 0.71 }) })
    expect(s.runs[4].status).toBe('completed')
    // The status event carries the final record: nothing is fetched again.
    expect(s.runs[4].run.testAcc).toBe(0.71)
    expect(api.called('runs.get')).toEqual([])
  })

  it('takes the backend from the running status event without asking for the record', () => {
    const s = useTrainingStore()
    s.track(runRecord(6, { status: 'queued', backend: null }))
    api.emit('training.status', { runId: 6, status: 'running', error: null, run: runRecord(6, { status: 'running', backend: 'wasm', device: null }) })
    expect(s.runs[6].status).toBe('running')
    expect(s.runs[6].run.backend).toBe('wasm')
    api.emit('training.batch', { runId: 6, epoch: 1, batch: 1, x: 0.1, loss: 2, acc: 0.1, examplesPerSec: 10, etaSeconds: 5 })
    expect(api.called('runs.get')).toEqual([])
  })

  it('picks up a run it did not start when its first event arrives', async () => {
    api.handlers['runs.get'] = ({ runId }) => runRecord(runId, { status: 'running' })
    const s = useTrainingStore()
    api.emit('training.batch', { runId: 9, epoch: 1, batch: 1, x: 0.1, loss: 2, acc: 0.1, examplesPerSec: 1, etaSeconds: 1 })
    await new Promise((r) => setTimeout(r, 0))
    expect(s.runs[9]?.run.id).toBe(9)
  })

  it('reports why a start failed', async () => {
    api.handlers['training.start'] = () => {
      throw new StudioError('invalid_argument', 'config.lr: must be above 0')
    }
    const s = useTrainingStore()
    const run = await s.start(runRecord(1).config)
    expect(run).toBeNull()
    expect(s.startError).toBe('config.lr: must be above 0')
  })
})

describe('datasets store', () => {
  it('reloads the list when the services say a dataset changed (an import in another window or a dialog)', async () => {
    let n = 0
    api.handlers['datasets.list'] = () => {
      n++
      return []
    }
    useDatasetsStore()
    api.emit('datasets.changed', { datasetId: 'imported-x' })
    await new Promise((r) => setTimeout(r, 0))
    expect(n).toBe(1)
  })
})

describe('new run form', () => {
  it('validates with the shared schema and keys errors by field', async () => {
    api.handlers['models.summary'] = () => ({ rows: [], totalParams: 7850, trainableParams: 7850, nonTrainableParams: 0, inputSizeMb: 0, forwardBackwardMb: 0, paramsMb: 0, totalMb: 0 })
    const f = useNewRunStore()
    f.applyPreset(lenetPreset)
    expect(f.input.model).toBe('lenet5')
    expect(f.validation.success).toBe(true)
    f.draft.lr = 0
    f.draft.batchSize = 2.5
    f.draft.validationSource = 'split'
    f.draft.fraction = 1.5
    await nextTick()
    expect(Object.keys(f.errors).sort()).toEqual(['batchSize', 'lr', 'validation.fraction'])
    expect(f.errors.lr).toMatch(/above 0/)
    expect(f.valid).toBe(false)
  })

  it('an edited copy of a preset is a custom model, and layer errors point at the field', async () => {
    const f = useNewRunStore()
    f.applyPreset(lenetPreset)
    f.addLayer(2, 'conv2d')
    expect(f.input.model).toBe('custom')
    ;(f.draft.spec.layers[2] as { kernelSize: number }).kernelSize = 0
    expect(f.errors['spec.layers.2.kernelSize']).toBeTruthy()
    f.removeLayer(2)
    expect(f.input.model).toBe('lenet5')
  })

  it('shows the summary error the service gives for an impossible model', async () => {
    api.handlers['models.summary'] = () => {
      throw new StudioError('invalid_argument', 'Layer 3 (avgPool2d): the input is 1x1, smaller than the 2x2 window.')
    }
    const f = useNewRunStore()
    f.applyPreset(lenetPreset)
    await f.refreshSummary()
    expect(f.summaryError).toMatch(/Layer 3/)
    expect(f.summaryErrorLayer).toBe(2)
    expect(f.valid).toBe(false)
  })

  it('train again fills the form from a past config', () => {
    const f = useNewRunStore()
    const c = { ...runRecord(1).config, lr: 0.05, epochs: 7, validation: { source: 'split' as const, fraction: 0.25, stratified: true } }
    f.prefill(c, [lenetPreset], 'again')
    expect(f.draft.lr).toBe(0.05)
    expect(f.draft.fraction).toBe(0.25)
    expect(f.input).toMatchObject({ model: 'lenet5', epochs: 7, validation: { source: 'split', fraction: 0.25 } })
  })
})

describe('runs store', () => {
  it('loads with the query, renames, tags and deletes', async () => {
    let rows = [summaryRow(1), summaryRow(2, { name: 'second', tags: ['a'] })]
    api.handlers['runs.list'] = () => ({ rows, total: rows.length })
    api.handlers['runs.rename'] = ({ runId, name }) => runRecord(runId, { name })
    api.handlers['runs.setTags'] = ({ runId, tags }) => runRecord(runId, { tags })
    api.handlers['runs.delete'] = ({ runId }) => {
      rows = rows.filter((r) => r.id !== runId)
      return { deleted: 1 }
    }
    const s = useRunsStore()
    s.query.search = ' sec '
    s.query.status = 'completed'
    await s.load()
    expect(api.called('runs.list')[0]).toMatchObject({ search: 'sec', status: 'completed', sortBy: 'createdAt', sortDir: 'desc' })
    expect(s.rows).toHaveLength(2)
    expect(s.allTags).toEqual(['a'])
    s.sortBy('testAcc')
    expect(s.query).toMatchObject({ sortBy: 'testAcc', sortDir: 'desc' })
    s.sortBy('testAcc')
    expect(s.query.sortDir).toBe('asc')
    expect(await s.rename(1, 'better')).toBe(true)
    expect(s.rows[0].name).toBe('better')
    await s.setTags(1, ['x', 'y'])
    expect(s.rows[0].tags).toEqual(['x', 'y'])
    s.toggle(1)
    s.toggle(2)
    expect(s.selected).toEqual([1, 2])
    await s.remove(2)
    expect(s.rows.map((r) => r.id)).toEqual([1])
    expect(s.selected).toEqual([1])
  })

  it('keeps a row error when an edit is refused', async () => {
    api.handlers['runs.list'] = () => ({ rows: [summaryRow(1)], total: 1 })
    api.handlers['runs.rename'] = () => {
      throw new StudioError('invalid_argument', 'name: too long')
    }
    const s = useRunsStore()
    await s.load()
    expect(await s.rename(1, 'x')).toBe(false)
    expect(s.rowError[1]).toBe('name: too long')
  })
})

describe('predict store', () => {
  it('predicts each file, keeps per-file errors, and exports CSV', async () => {
    api.handlers['runs.list'] = () => ({ rows: [summaryRow(3)], total: 1 })
    api.handlers['predict.image'] = ({ fileName, data }) => {
      if (fileName === 'notes.png') throw new StudioError('data_error', 'notes.png is not an image (it starts with "hello").')
      expect(atob(data)).toBe('PNG!')
      return { fileName, top: [{ classIndex: 7, label: '7', probability: 0.93 }, { classIndex: 1, label: '1', probability: 0.05 }], steps: [], milliseconds: 4.2 }
    }
    const p = usePredictStore()
    await p.loadModels()
    expect(p.runId).toBe(3)
    await p.predictFiles([
      { name: 'seven.png', file: new Blob(['PNG!']) },
      { name: 'notes.png', file: new Blob(['hello']) }
    ])
    const byName = Object.fromEntries(p.items.map((i) => [i.fileName, i]))
    expect(byName['seven.png'].result?.top[0].label).toBe('7')
    expect(byName['notes.png'].state).toBe('error')
    expect(byName['notes.png'].error).toMatch(/not an image/)
    const csv = p.toCsv().trim().split('\n')
    expect(csv[0]).toBe('file,status,top1,p1,top2,p2,ms,error')
    expect(csv).toContain('seven.png,done,7,0.9300,1,0.0500,4.2,')
  })

  it('base64 of bytes matches btoa for large buffers too', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => i % 256)
    expect(atob(bytesToBase64(bytes)).length).toBe(100_000)
    expect(bytesToBase64(new Uint8Array([1, 2, 3]))).toBe('AQID')
  })
})

describe('datasets store', () => {
  it('follows download progress and reloads the list when the services announce the dataset', async () => {
    let status: 'available' | 'ready' = 'available'
    api.handlers['datasets.list'] = () => [
      { id: 'mnist', title: 'MNIST', style: 'digits', classes: ['0'], source: 'download', status, trainCount: null, testCount: null, imageSize: 28, note: null }
    ]
    const s = useDatasetsStore()
    await s.load()
    api.emit('datasets.progress', { datasetId: 'mnist', file: 'train-images', receivedBytes: 5, totalBytes: 10, phase: 'downloading', message: null })
    expect(s.progress.mnist.receivedBytes).toBe(5)
    status = 'ready'
    api.emit('datasets.progress', { datasetId: 'mnist', file: 'train-images', receivedBytes: 10, totalBytes: 10, phase: 'done', message: null })
    api.emit('datasets.changed', { datasetId: 'mnist' })
    await new Promise((r) => setTimeout(r, 0))
    expect(s.list[0].status).toBe('ready')
  })
})
