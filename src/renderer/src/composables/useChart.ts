// A thin bridge from Vue to chart.js: create on mount, destroy on unmount, and hand back the chart
// so callers mutate datasets in place and call update('none') (no animation, no re-parse of
// everything) — what keeps per-batch updates far below a frame.
import {
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LogarithmicScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  type ChartConfiguration,
  type ChartType
} from 'chart.js'
import { onBeforeUnmount, onMounted, shallowRef, type Ref, type ShallowRef } from 'vue'

// Filler: seed-group bands; LogarithmicScale: log-scale y.
Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale, Legend, Tooltip, Filler)

/** Colours that read on both themes and stay apart for the colour-blind (Okabe–Ito). */
export const palette = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442', '#000000']

export function themeColors(): { text: string; grid: string } {
  const dark = typeof window !== 'undefined' && window.matchMedia?.('(prefers-color-scheme: dark)').matches
  return dark ? { text: '#c9d1d9', grid: 'rgba(201,209,217,0.12)' } : { text: '#3b4250', grid: 'rgba(59,66,80,0.12)' }
}

export function useChart<T extends ChartType>(canvas: Ref<HTMLCanvasElement | null>, config: () => ChartConfiguration<T>): ShallowRef<Chart<T> | null> {
  const chart = shallowRef<Chart<T> | null>(null)
  let frame: number | null = null
  const build = () => {
    frame = null
    // happy-dom has no 2D context; a chart there would only throw.
    if (!canvas.value?.getContext?.('2d')) return
    chart.value?.destroy()
    chart.value = new Chart(canvas.value, config()) as Chart<T>
  }
  // Colours are baked into a chart's options: when the OS theme flips, build it again.
  const scheme = typeof window !== 'undefined' ? window.matchMedia?.('(prefers-color-scheme: dark)') : undefined
  const onScheme = () => {
    if (chart.value && frame === null) frame = requestAnimationFrame(build)
  }
  onMounted(() => {
    // Built in the next frame, not in the task that mounts the view: a view change plus a chart's
    // construction in one task is what would block the page longest.
    frame = requestAnimationFrame(build)
    scheme?.addEventListener?.('change', onScheme)
  })
  onBeforeUnmount(() => {
    scheme?.removeEventListener?.('change', onScheme)
    if (frame !== null) cancelAnimationFrame(frame)
    chart.value?.destroy()
    chart.value = null
  })
  return chart
}

/**
 * Builds and drops one small chart while the page is idle, so chart.js's first real chart (the
 * Live view, right after Start) does not pay for compiling its code paths and measuring fonts.
 */
export function prewarmCharts(): void {
  const canvas = document.createElement('canvas')
  canvas.width = 300
  canvas.height = 150
  if (!canvas.getContext?.('2d')) return
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: [{ label: 'warm-up', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], parsing: false, pointRadius: 0 }] },
    options: { animation: false, responsive: false, scales: { x: { type: 'linear' }, y: { type: 'linear' } } }
  })
  chart.destroy()
}
