// What the studio offers: model presets, compute backends and the host. Loaded once, refreshed on demand.
import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { AppInfo, BackendReport, BenchmarkResult, ModelPreset } from '../../../shared/domain'
import { errorMessage, useApi } from '../api'

export const useCatalogStore = defineStore('catalog', () => {
  const api = useApi()
  const presets = ref<ModelPreset[]>([])
  const presetsError = ref<string | null>(null)
  const backends = ref<BackendReport | null>(null)
  const backendsError = ref<string | null>(null)
  const backendsLoading = ref(false)
  const benchmark = ref<BenchmarkResult[] | null>(null)
  const benchmarking = ref(false)
  const benchmarkError = ref<string | null>(null)
  const appInfo = ref<AppInfo | null>(null)

  async function loadPresets(): Promise<void> {
    if (presets.value.length) return
    try {
      presets.value = await api.invoke('models.presets', {})
      presetsError.value = null
    } catch (e) {
      presetsError.value = errorMessage(e)
    }
  }

  async function loadBackends(refresh = false): Promise<void> {
    if (backends.value && !refresh) return
    backendsLoading.value = true
    try {
      backends.value = await api.invoke('backends.report', { refresh })
      backendsError.value = null
    } catch (e) {
      backendsError.value = errorMessage(e)
    } finally {
      backendsLoading.value = false
    }
  }

  async function runBenchmark(seconds = 5): Promise<void> {
    benchmarking.value = true
    benchmarkError.value = null
    try {
      benchmark.value = await api.invoke('backends.benchmark', { seconds })
    } catch (e) {
      benchmarkError.value = errorMessage(e)
    } finally {
      benchmarking.value = false
    }
  }

  async function loadAppInfo(): Promise<void> {
    try {
      appInfo.value = await api.invoke('app.info', {})
    } catch {
      // The header simply shows no version; every other view reports its own errors.
    }
  }

  return {
    presets, presetsError, backends, backendsError, backendsLoading, benchmark, benchmarking, benchmarkError, appInfo,
    loadPresets, loadBackends, runBenchmark, loadAppInfo
  }
})
