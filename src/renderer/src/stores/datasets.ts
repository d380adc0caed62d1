import { defineStore } from 'pinia'
import { reactive, ref } from 'vue'
import type { DatasetDetail, DatasetInfo, DownloadProgress, ImageImportProgress, SampleImage } from '../../../shared/domain'
import { errorMessage, useApi } from '../api'

export const useDatasetsStore = defineStore('datasets', () => {
  const api = useApi()
  const list = ref<DatasetInfo[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)
  const details = reactive<Record<string, DatasetDetail>>({})
  const samples = reactive<Record<string, SampleImage[]>>({})
  const progress = reactive<Record<string, DownloadProgress>>({})
  const actionError = reactive<Record<string, string>>({})
  const importing = ref(false)
  const importError = ref<string | null>(null)
  /** The picture import in progress (any window's), by the name it will have. */
  const imageProgress = ref<(ImageImportProgress & { name: string }) | null>(null)

  api.on('datasets.importProgress', (p) => {
    imageProgress.value = p.phase === 'done' || p.phase === 'stopped' ? null : p
  })

  api.on('datasets.progress', (p) => {
    progress[p.datasetId] = p
    if (p.phase === 'error') void load()
  })
  // An import or download finished somewhere (this window, another one, File → Import in Electron).
  api.on('datasets.changed', () => void load())

  async function load(): Promise<void> {
    loading.value = true
    try {
      list.value = await api.invoke('datasets.list', {})
      error.value = null
    } catch (e) {
      error.value = errorMessage(e)
    } finally {
      loading.value = false
    }
  }

  async function loadDetail(id: string): Promise<void> {
    try {
      details[id] = await api.invoke('datasets.info', { datasetId: id })
      delete actionError[id]
    } catch (e) {
      actionError[id] = errorMessage(e)
    }
  }

  async function loadSamples(id: string, count = 40, split: 'train' | 'test' = 'train'): Promise<SampleImage[]> {
    const key = `${id}:${split}:${count}`
    if (samples[key]) return samples[key]
    const rows = await api.invoke('datasets.samples', { datasetId: id, split, count })
    samples[key] = rows
    return rows
  }

  /** `count` images of each class (a grid row per class), train split. */
  async function loadClassSamples(id: string, classes: number, count = 8): Promise<SampleImage[][]> {
    const key = `${id}:byclass:${count}`
    if (samples[key]) return group(samples[key], classes)
    const rows: SampleImage[] = []
    for (let label = 0; label < classes; label++) rows.push(...(await api.invoke('datasets.samples', { datasetId: id, split: 'train', count, label })))
    samples[key] = rows
    return group(rows, classes)
  }
  function group(rows: SampleImage[], classes: number): SampleImage[][] {
    return Array.from({ length: classes }, (_, k) => rows.filter((r) => r.label === k))
  }

  async function download(id: string): Promise<void> {
    delete actionError[id]
    const entry = list.value.find((d) => d.id === id)
    if (entry) entry.status = 'downloading'
    try {
      const info = await api.invoke('datasets.download', { datasetId: id })
      replace(info)
    } catch (e) {
      actionError[id] = errorMessage(e)
      await load()
    }
  }

  async function importFolder(path: string, title?: string): Promise<DatasetInfo | null> {
    importing.value = true
    importError.value = null
    try {
      const info = await api.invoke('datasets.import', title ? { path, title } : { path })
      replace(info)
      return info
    } catch (e) {
      importError.value = errorMessage(e)
      return null
    } finally {
      importing.value = false
    }
  }

  /** Stops the picture import named `name` on the services' side; false when none is running there (yet). */
  async function cancelImport(name: string): Promise<boolean> {
    return (await api.invoke('datasets.cancelImport', { name })).cancelled
  }

  function replace(info: DatasetInfo): void {
    const i = list.value.findIndex((d) => d.id === info.id)
    if (i >= 0) list.value[i] = info
    else list.value.push(info)
  }

  return { list, loading, error, details, progress, actionError, importing, importError, imageProgress, load, loadDetail, loadSamples, loadClassSamples, download, importFolder, cancelImport }
})
