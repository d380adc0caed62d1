// @vitest-environment happy-dom
// The sweep page and the curve transforms: smoothing, wall-clock x, zoom, the runs x epochs CSV,
// parallel-coordinate axes; the sweep page fills in as its runs report, the form sends the grid.
import { beforeEach, describe, expect, it } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { createMemoryHistory, createRouter, RouterView, type Router } from 'vue-router'
import { defineComponent, h } from 'vue'
import { setApi } from '../../src/renderer/src/api'
import { routes } from '../../src/renderer/src/router'
import { emaSmooth, epochToSeconds, panRange, runsEpochsCsv, zoomRange } from '../../src/renderer/src/composables/curves'
import { makeAxis, polyline } from '../../src/renderer/src/composables/sweepCharts'
import type { SweepDetail } from '../../src/shared/sweeps'
import { FakeApi, lenetPreset, runRecord } from './fake-api'

describe('curve transforms', () => {
  it("EMA smoothing is TensorBoard's debiased form: a constant stays constant, 0 changes nothing", () => {
    const flat = [1, 1, 1, 1].map((y, x) => ({ x, y }))
    expect(emaSmooth(flat, 0.9).map((p) => p.y)).toEqual([1, 1, 1, 1].map(() => expect.closeTo(1, 12)))
    const steps = [0, 10, 0, 10].map((y, x) => ({ x, y }))
    expect(emaSmooth(steps, 0)).toEqual(steps)
    const s = emaSmooth(steps, 0.5).map((p) => p.y)
    // last = 0, 5, 2.5, 6.25; debiased by 1 - 0.5^n.
    expect(s[0]).toBeCloseTo(0, 12)
    expect(s[1]).toBeCloseTo(5 / 0.75, 12)
    expect(s[3]).toBeCloseTo(6.25 / 0.9375, 12)
  })

  it('maps fractional epochs to seconds from each epoch\'s duration, past the last at its pace', () => {
    const t = epochToSeconds([
      { epoch: 1, seconds: 10 },
      { epoch: 2, seconds: 20 }
    ])
    expect([t(0), t(0.5), t(1), t(1.5), t(2), t(2.5)]).toEqual([0, 5, 10, 20, 30, 40])
  })

  it('zooms around a point and pans inside the data', () => {
    expect(zoomRange([0, 10], 5, 0.5, [0, 10])).toEqual([2.5, 7.5])
    expect(zoomRange([0, 10], 0, 0.5, [0, 10])).toEqual([0, 5])
    expect(zoomRange([2, 4], 3, 100, [0, 10])).toEqual([0, 10])
    expect(panRange([2, 4], 10, [0, 10])).toEqual([8, 10])
    expect(panRange([2, 4], -10, [0, 10])).toEqual([0, 2])
  })

  it('exports runs x epochs as one CSV, one row per run and epoch, quoting what needs it', () => {
    const run = { ...runRecord(3, { name: 'a, "b"', sweepId: 2 }), config: { ...runRecord(3).config, lr: 0.3 } }
    const csv = runsEpochsCsv([{ run, epochs: [1, 2].map((e) => ({ epoch: e, trainLoss: 1 / e, trainAcc: 0.5, valLoss: 0.7, valAcc: 0.8, seconds: 2, examplesPerSec: 1 })) }])
    const lines = csv.trim().split('\n')
    expect(lines[0]).toBe('run_id,name,status,sweep_id,model,dataset,optimizer,lr,momentum,weightDecay,batchSize,epochs,seed,init,trainLimit,test_acc,epoch,train_loss,train_acc,val_loss,val_acc,seconds')
    expect(lines).toHaveLength(3)
    expect(lines[1]).toBe('3,"a, ""b""",completed,2,lenet5,mnist-sample,sgd,0.3,0,0,256,1,1,xavier,,0.89,1,1,0.5,0.7,0.8,2')
  })
})

describe('parallel coordinates layout', () => {
  it('puts a span of a decade or more on a log axis, words in order, a single value in the middle', () => {
    const lr = makeAxis('lr', [0.01, 0.1, 1])
    expect(lr.log).toBe(true)
    expect([lr.pos(0.01), lr.pos(0.1), lr.pos(1)].map((v) => +v.toFixed(6))).toEqual([0, 0.5, 1])
    const bs = makeAxis('batch-size', [32, 64])
    expect(bs.log).toBe(false)
    expect(bs.pos(48)).toBe(0.5)
    const opt = makeAxis('optimizer', ['sgd', 'adam', 'sgd'])
    expect(opt.ticks.map((t) => t.label)).toEqual(['sgd', 'adam'])
    expect(makeAxis('x', [3, 3]).pos(3)).toBe(0.5)
    expect(polyline([lr, bs], { lr: 1, 'batch-size': 32 }, 100, 100, 10)).toBe('10.0,10.0 90.0,90.0')
    expect(polyline([lr], { lr: null }, 100, 100, 10)).toBeNull()
  })
})

let api: FakeApi
let pinia: Pinia
let router: Router
let detail: SweepDetail

function sweepDetail(statuses: ('queued' | 'running' | 'completed' | 'failed')[]): SweepDetail {
  const lrs = [0.01, 0.1, 1]
  const runs = statuses.map((status, i) => ({
    run: runRecord(10 + i, { status, bestValAcc: status === 'completed' ? [0.8, 0.95, 0.9][i] : null, testAcc: status === 'completed' ? [0.79, 0.94, 0.89][i] : null, sweepId: 1 }),
    values: { lr: lrs[i] }
  }))
  const counts: Record<string, number> = {}
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1
  return {
    sweep: { id: 1, name: 'lenet5 on mnist-sample: lr', createdAt: '2026-12-01T10:00:00.000Z', cancelledAt: null, status: statuses.some((s) => s === 'queued' || s === 'running') ? 'running' : 'completed', runs: runs.length, counts, keys: ['lr'] },
    spec: { base: runRecord(10).config, grid: [{ key: 'lr', values: lrs }], random: [], trials: 1 },
    runs
  }
}

beforeEach(async () => {
  detail = sweepDetail(['completed', 'running', 'queued'])
  api = new FakeApi({
    'models.presets': () => [lenetPreset],
    'datasets.list': () => [
      { id: 'mnist-sample', title: 'MNIST sample', style: 'digits', classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], source: 'bundled', status: 'ready', trainCount: 8000, testCount: 2000, imageSize: 28, note: null }
    ],
    'sweeps.list': () => [detail.sweep],
    'sweeps.get': () => detail,
    'sweeps.start': () => detail,
    'sweeps.cancel': () => detail,
    'training.active': () => []
  })
  setApi(api)
  pinia = createPinia()
  setActivePinia(pinia)
  router = createRouter({ history: createMemoryHistory(), routes })
})

async function mountRoute(path: string) {
  await router.push(path)
  const w = mount(defineComponent({ render: () => h(RouterView) }), { global: { plugins: [pinia, router] }, attachTo: document.body })
  await flushPromises()
  return w
}

describe('SweepView', () => {
  it('fills in as its runs report: the table best first, parallel coordinates of the finished runs', async () => {
    const w = await mountRoute('/sweeps/1')
    expect(w.find('[data-testid="sweep-status"]').text()).toBe('running')
    expect(w.findAll('[data-testid^="sweep-run-"]').map((r) => r.attributes('data-testid'))).toEqual(['sweep-run-10', 'sweep-run-11', 'sweep-run-12'])
    // Two more finish; a status event makes the page read the sweep again.
    detail = sweepDetail(['completed', 'completed', 'completed'])
    api.emit('training.status', { runId: 12, status: 'completed', error: null, run: detail.runs[2].run })
    await new Promise((r) => setTimeout(r, 600))
    await flushPromises()
    expect(w.find('[data-testid="sweep-status"]').text()).toBe('completed')
    expect(w.findAll('[data-testid^="sweep-run-"]').map((r) => r.attributes('data-testid'))).toEqual(['sweep-run-11', 'sweep-run-12', 'sweep-run-10'])
    expect(w.find('[data-testid="sweep-cancel"]').exists()).toBe(false)
    await w.find('[data-testid="sweep-tab-parallel"]').trigger('click')
    const svg = w.find('[data-testid="sweep-parallel"] svg')
    expect(svg.attributes('aria-label')).toMatch(/Parallel coordinates: lr, val acc for 3 runs/)
    expect(svg.findAll('polyline')).toHaveLength(3)
    expect(svg.text()).toContain('lr (log)')
    await w.find('[data-testid="sweep-tab-scatter"]').trigger('click')
    expect(w.findAll('[data-testid="sweep-scatter"] circle')).toHaveLength(3)
    w.unmount()
  })

  it('the form sends the base, the grid and seeds, and opens the new sweep', async () => {
    const w = await mountRoute('/sweeps')
    await w.find('[data-testid="grid-values-0"]').setValue('0.1, 0.3')
    await w.find('[data-testid="grid-add"]').trigger('click')
    await w.find('[data-testid="grid-values-1"]').setValue('32,64')
    await w.find('[data-testid="sweep-seeds"]').setValue('0, 1')
    expect(w.find('[data-testid="sweep-start"]').text()).toBe('Start sweep (8 runs)')
    await w.find('[data-testid="sweep-form"]').trigger('submit')
    await flushPromises()
    const sent = api.called('sweeps.start')[0] as { base: { model: string; dataset: string }; grid: unknown; seeds: number[] }
    expect(sent.base).toMatchObject({ model: 'lenet5', dataset: 'mnist-sample' })
    expect(sent.grid).toEqual([
      { key: 'lr', values: ['0.1', '0.3'] },
      { key: 'batch-size', values: ['32', '64'] }
    ])
    expect(sent.seeds).toEqual([0, 1])
    expect(router.currentRoute.value.fullPath).toBe('/sweeps/1')
    w.unmount()
  })
})

describe('CompareView seed groups', () => {
  it('groups runs that differ only in seed, shows mean ± std (n) and a verdict on the difference', async () => {
    const cfg = runRecord(1).config
    const mk = (id: number, lr: number, seed: number, testAcc: number) => runRecord(id, { name: `run ${id}`, testAcc, config: { ...cfg, lr, seed } })
    const runs = [mk(1, 0.1, 0, 0.9), mk(2, 0.1, 1, 0.902), mk(3, 0.1, 2, 0.898), mk(4, 0.3, 0, 0.95), mk(5, 0.3, 1, 0.951), mk(6, 0.3, 2, 0.949)]
    const epochs = (a: number) => [1, 2].map((e) => ({ epoch: e, trainLoss: 1, trainAcc: a, valLoss: 1, valAcc: a, seconds: 1, examplesPerSec: 1 }))
    api.handlers['runs.compare'] = () => ({
      runs,
      curves: runs.map((r) => ({ runId: r.id, steps: [], totalSteps: 0, epochs: epochs(r.testAcc as number) })),
      configDiff: [
        { field: 'lr', values: runs.map((r) => r.config.lr) },
        { field: 'seed', values: runs.map((r) => r.config.seed) }
      ],
      confusionDiff: null,
      disagreements: []
    })
    const w = await mountRoute('/compare?ids=1,2,3,4,5,6')
    const rows = w.findAll('[data-testid="seed-groups"] tbody tr')
    expect(rows.map((r) => r.find('th').text())).toEqual(['lr=0.1 (n=3)', 'lr=0.3 (n=3)'])
    expect(rows[0].findAll('td')[0].text()).toBe('0.9000 ± 0.0020 (n=3)')
    expect(w.find('[data-testid="verdict"]').text()).toMatch(/^lr=0\.3 \(n=3\) has the higher test accuracy by \+0\.0500 \(95% CI .*larger than seed noise\.$/)
    w.unmount()
  })
})
