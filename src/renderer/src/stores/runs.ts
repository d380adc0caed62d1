// The Runs table: the query the user builds (search, filters, sort), its rows, selection and edits.
import { defineStore } from 'pinia'
import { computed, reactive, ref } from 'vue'
import type { RunSummary } from '../../../shared/domain'
import type { RunQuery, RunSortKey, RunStatus } from '../../../shared/schemas'
import { errorMessage, useApi } from '../api'

export const useRunsStore = defineStore('runs', () => {
  const api = useApi()
  const query = reactive<{ search: string; status: RunStatus | ''; model: string; dataset: string; tag: string; sweepId: number; sortBy: RunSortKey; sortDir: 'asc' | 'desc' }>({
    search: '',
    /** 0: any sweep or none. */
    sweepId: 0,
    status: '',
    model: '',
    dataset: '',
    tag: '',
    sortBy: 'createdAt',
    sortDir: 'desc'
  })
  const rows = ref<RunSummary[]>([])
  const total = ref(0)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<string | null>(null)
  const rowError = reactive<Record<number, string>>({})
  const selected = ref<number[]>([])
  let seq = 0

  function toQuery(): RunQuery {
    const q: RunQuery = { sortBy: query.sortBy, sortDir: query.sortDir, limit: 500 }
    if (query.search.trim()) q.search = query.search.trim()
    if (query.status) q.status = query.status
    if (query.model) q.model = query.model
    if (query.dataset) q.dataset = query.dataset
    if (query.tag) q.tag = query.tag
    if (query.sweepId) q.sweepId = query.sweepId
    return q
  }

  async function load(): Promise<void> {
    const mine = ++seq
    loading.value = true
    try {
      const r = await api.invoke('runs.list', toQuery())
      // A slower, older query must not overwrite a newer one typed since.
      if (mine !== seq) return
      rows.value = r.rows
      total.value = r.total
      error.value = null
      selected.value = selected.value.filter((id) => r.rows.some((row) => row.id === id))
    } catch (e) {
      if (mine === seq) error.value = errorMessage(e)
    } finally {
      if (mine === seq) {
        loading.value = false
        loaded.value = true
      }
    }
  }

  function sortBy(key: RunSortKey): void {
    if (query.sortBy === key) query.sortDir = query.sortDir === 'asc' ? 'desc' : 'asc'
    else {
      query.sortBy = key
      query.sortDir = key === 'name' || key === 'model' || key === 'dataset' ? 'asc' : 'desc'
    }
    void load()
  }

  function patch(row: RunSummary): void {
    const i = rows.value.findIndex((r) => r.id === row.id)
    if (i >= 0) rows.value[i] = { ...rows.value[i], ...row }
  }

  async function rename(runId: number, name: string): Promise<boolean> {
    try {
      patch(await api.invoke('runs.rename', { runId, name }))
      delete rowError[runId]
      return true
    } catch (e) {
      rowError[runId] = errorMessage(e)
      return false
    }
  }

  async function setTags(runId: number, tags: string[]): Promise<boolean> {
    try {
      patch(await api.invoke('runs.setTags', { runId, tags }))
      delete rowError[runId]
      return true
    } catch (e) {
      rowError[runId] = errorMessage(e)
      return false
    }
  }

  async function remove(runId: number): Promise<boolean> {
    try {
      await api.invoke('runs.delete', { runId })
      rows.value = rows.value.filter((r) => r.id !== runId)
      total.value = Math.max(0, total.value - 1)
      selected.value = selected.value.filter((id) => id !== runId)
      return true
    } catch (e) {
      rowError[runId] = errorMessage(e)
      return false
    }
  }

  function toggle(runId: number): void {
    selected.value = selected.value.includes(runId) ? selected.value.filter((id) => id !== runId) : [...selected.value, runId]
  }

  const allTags = computed(() => [...new Set(rows.value.flatMap((r) => r.tags))].sort())
  const allModels = computed(() => [...new Set(rows.value.map((r) => r.model))].sort())
  const allDatasets = computed(() => [...new Set(rows.value.map((r) => r.dataset))].sort())

  /** The query the table shows, for exports (no page limit applies there). */
  function exportQuery(): RunQuery {
    const { limit: _limit, ...q } = toQuery()
    return q
  }

  return { query, rows, total, loading, loaded, error, rowError, selected, allTags, allModels, allDatasets, load, sortBy, rename, setTags, remove, toggle, exportQuery }
})
