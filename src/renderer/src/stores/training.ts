// Live runs: what is training now, fed by training.* events. Curves are kept outside Vue's reactivity
// (a LiveCurve per run, bounded in size) and a per-run `tick` tells charts when to redraw, so a
// batch event costs a few object writes rather than a deep reactive update.
import { defineStore } from 'pinia'
import { markRaw, reactive, ref } from 'vue'
import type { EpochRecord, RunRecord, RunStatus } from '../../../shared/domain'
import { isTerminalStatus, type TrainConfigInput } from '../../../shared/schemas'
import { errorMessage, useApi } from '../api'
import { LiveCurve } from '../composables/live-curve'

export interface LiveRun {
  run: RunRecord
  status: RunStatus
  error: string | null
  /** Not reactive: read it when `tick` changes. */
  curve: LiveCurve
  epochs: EpochRecord[]
  epoch: number
  x: number
  examplesPerSec: number | null
  etaSeconds: number | null
  tick: number
}

export const LIVE_POINTS = 2000

export const isTerminal = isTerminalStatus

export const useTrainingStore = defineStore('training', () => {
  const api = useApi()
  const runs = reactive<Record<number, LiveRun>>({})
  /** The run the Live view shows by default: the newest one started or seen. */
  const currentId = ref<number | null>(null)
  const starting = ref(false)
  const startError = ref<string | null>(null)
  const resumeError = ref<string | null>(null)
  const fetching = new Set<number>()

  function track(run: RunRecord, steps: { x: number; loss: number; acc: number }[] = [], epochs: EpochRecord[] = []): LiveRun {
    const curve = markRaw(new LiveCurve(LIVE_POINTS))
    for (const p of steps) curve.push(p)
    const last = steps[steps.length - 1]
    runs[run.id] = {
      run,
      status: run.status,
      error: run.error,
      curve,
      epochs: [...epochs],
      epoch: last ? Math.ceil(last.x) : 0,
      x: last ? last.x : 0,
      examplesPerSec: run.examplesPerSec,
      etaSeconds: null,
      tick: 0
    }
    if (currentId.value === null || run.id > currentId.value) currentId.value = run.id
    return runs[run.id]
  }

  async function ensure(runId: number): Promise<void> {
    if (runs[runId] || fetching.has(runId)) return
    fetching.add(runId)
    try {
      track(await api.invoke('runs.get', { runId }))
    } catch {
      // A run we cannot read is not shown live; the Runs view will show its error.
    } finally {
      fetching.delete(runId)
    }
  }

  api.on('training.batch', (e) => {
    const live = runs[e.runId]
    if (!live) return void ensure(e.runId)
    live.curve.push({ x: e.x, loss: e.loss, acc: e.acc })
    live.epoch = e.epoch
    live.x = e.x
    live.examplesPerSec = e.examplesPerSec
    live.etaSeconds = e.etaSeconds
    if (live.status === 'queued') live.status = 'running'
    live.tick++
  })

  api.on('training.epoch', (e) => {
    const live = runs[e.runId]
    if (!live) return void ensure(e.runId)
    const { runId: _runId, ...record } = e
    const i = live.epochs.findIndex((r) => r.epoch === record.epoch)
    if (i >= 0) live.epochs[i] = record
    else live.epochs.push(record)
    live.tick++
  })

  api.on('training.status', (e) => {
    // The event carries the record: 'running' brings the backend and device, the end the test results.
    const live = runs[e.runId] ?? track(e.run)
    live.run = e.run
    live.status = e.status
    live.error = e.error
    if (isTerminal(e.status)) live.etaSeconds = null
    live.tick++
  })

  /** Picks up runs already training (a reload, a second window, a run started from the CLI). */
  async function resume(): Promise<void> {
    try {
      const active = await api.invoke('training.active', {})
      for (const a of active) {
        track(a.run, a.steps, a.epochs)
        runs[a.run.id].status = a.run.status
      }
      resumeError.value = null
    } catch (e) {
      resumeError.value = errorMessage(e)
    }
  }

  async function start(config: TrainConfigInput, name?: string): Promise<RunRecord | null> {
    starting.value = true
    startError.value = null
    try {
      const run = await api.invoke('training.start', name ? { config, name } : { config })
      // Events may have arrived before the reply; keep what they brought.
      if (!runs[run.id]) track(run)
      else runs[run.id].run = run
      currentId.value = run.id
      return run
    } catch (e) {
      startError.value = errorMessage(e)
      return null
    } finally {
      starting.value = false
    }
  }

  async function cancel(runId: number): Promise<void> {
    try {
      const s = await api.invoke('training.cancel', { runId })
      const live = runs[runId]
      if (live) {
        live.run = s.run
        live.status = s.status
        live.error = s.error
      }
    } catch (e) {
      const live = runs[runId]
      if (live) live.error = errorMessage(e)
    }
  }

  /** For a /live/<id> address: tracks the run if it is still going; says 'finished' if it is not. */
  async function open(runId: number): Promise<'live' | 'finished' | 'missing'> {
    if (runs[runId]) return 'live'
    try {
      const run = await api.invoke('runs.get', { runId })
      if (isTerminal(run.status)) return 'finished'
      if (!runs[runId]) track(run)
      return 'live'
    } catch {
      return 'missing'
    }
  }

  const activeIds = (): number[] =>
    Object.values(runs)
      .filter((r) => !isTerminal(r.status))
      .map((r) => r.run.id)

  return { runs, currentId, starting, startError, resumeError, resume, start, cancel, open, activeIds, track }
})
