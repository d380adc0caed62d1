// Prediction on the user's own images: files dropped or picked, and the drawing pad.
import { defineStore } from 'pinia'
import { reactive, ref } from 'vue'
import type { PredictResult, RunSummary } from '../../../shared/domain'
import { errorMessage, useApi } from '../api'

export interface PredictItem {
  key: number
  fileName: string
  state: 'pending' | 'done' | 'error'
  result: PredictResult | null
  error: string | null
  /** The file as base64, kept so it can be opened in Inspect (null for files over INSPECT_MAX_BYTES). */
  data: string | null
}

/** Dropped files kept for Inspect up to this size; a folder of big photos is not held twice in memory. */
const INSPECT_MAX_BYTES = 4 * 1024 * 1024

/** Base64 of bytes without Node's Buffer; chunked so a 30 MB file does not blow the call stack. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = ''
  const chunk = 0x8000
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk))
  return btoa(binary)
}

export const usePredictStore = defineStore('predict', () => {
  const api = useApi()
  const models = ref<RunSummary[]>([])
  const modelsError = ref<string | null>(null)
  const runId = ref<number | null>(null)
  const weights = ref<'best' | 'last'>('best')
  const topK = ref(3)
  const items = ref<PredictItem[]>([])
  const drawing = ref<PredictResult | null>(null)
  const drawingError = ref<string | null>(null)
  /** The drawing pad's last PNG (base64), for Inspect. */
  const drawingData = ref<string | null>(null)
  let nextKey = 1
  let drawSeq = 0

  async function loadModels(): Promise<void> {
    try {
      const r = await api.invoke('runs.list', { status: 'completed', sortBy: 'createdAt', sortDir: 'desc', limit: 500 })
      models.value = r.rows
      modelsError.value = null
      if (runId.value === null || !r.rows.some((m) => m.id === runId.value)) runId.value = r.rows[0]?.id ?? null
    } catch (e) {
      modelsError.value = errorMessage(e)
    }
  }

  async function predictBytes(fileName: string, bytes: Uint8Array): Promise<PredictItem> {
    const data = bytesToBase64(bytes)
    const item = reactive<PredictItem>({ key: nextKey++, fileName, state: 'pending', result: null, error: null, data: bytes.length <= INSPECT_MAX_BYTES ? data : null })
    items.value.unshift(item)
    if (runId.value === null) {
      item.state = 'error'
      item.error = 'Choose a trained run first.'
      return item
    }
    try {
      item.result = await api.invoke('predict.image', {
        runId: runId.value,
        weights: weights.value,
        fileName,
        data,
        topK: topK.value
      })
      item.state = 'done'
    } catch (e) {
      item.state = 'error'
      item.error = errorMessage(e)
    }
    return item
  }

  /** The drawing pad predicts as the user draws: only the latest stroke's answer is kept. */
  async function predictDrawing(pngBase64: string): Promise<void> {
    const mine = ++drawSeq
    if (runId.value === null) {
      drawingError.value = 'Choose a trained run first.'
      return
    }
    try {
      const r = await api.invoke('predict.image', { runId: runId.value, weights: weights.value, fileName: 'drawing.png', data: pngBase64, topK: topK.value })
      if (mine !== drawSeq) return
      drawing.value = r
      drawingData.value = pngBase64
      drawingError.value = null
    } catch (e) {
      if (mine !== drawSeq) return
      drawing.value = null
      drawingError.value = errorMessage(e)
    }
  }

  /** Predicts files one after another (two in flight), so a dropped folder does not flood the service. */
  async function predictFiles(files: { name: string; file: Blob }[]): Promise<void> {
    const queue = [...files]
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const bytes = new Uint8Array(await next.file.arrayBuffer())
        await predictBytes(next.name, bytes)
      }
    }
    await Promise.all([worker(), worker()])
  }

  function clear(): void {
    items.value = []
  }

  function toCsv(): string {
    const k = Math.max(1, ...items.value.map((i) => i.result?.top.length ?? 0))
    const head = ['file', 'status']
    for (let i = 1; i <= k; i++) head.push(`top${i}`, `p${i}`)
    head.push('ms', 'error')
    const lines = [head.join(',')]
    for (const it of [...items.value].reverse()) {
      const cells: (string | number)[] = [it.fileName, it.state]
      for (let i = 0; i < k; i++) {
        const t = it.result?.top[i]
        cells.push(t ? t.label : '', t ? t.probability.toFixed(4) : '')
      }
      cells.push(it.result ? it.result.milliseconds.toFixed(1) : '', it.error ?? '')
      lines.push(cells.map(csvCell).join(','))
    }
    return lines.join('\n') + '\n'
  }

  return { models, modelsError, runId, weights, topK, items, drawing, drawingError, drawingData, loadModels, predictBytes, predictFiles, predictDrawing, clear, toCsv }
})

export function csvCell(v: string | number): string {
  const s = String(v)
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}
