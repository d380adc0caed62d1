// Tensors from the inspection methods (float32, base64) and how the inspection views paint them.
import type { InspectTensor } from '../../../shared/domain'
import { base64ToBytes } from './format'

/** The float32 values of an InspectTensor (copied: base64 bytes need not be 4-aligned). */
export function tensorValues(t: InspectTensor): Float32Array {
  const bytes = base64ToBytes(t.values)
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

export function range(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (!Number.isFinite(v)) continue
    if (v < min) min = v
    if (v > max) max = v
  }
  return min === Infinity ? { min: 0, max: 0 } : { min, max }
}

export type ColorMap = 'gray' | 'heat' | 'diverging'

// Heat: a viridis-like ramp (dark violet to yellow): ordered in lightness, readable to people with
// a red-green deficiency, and distinct from the gray of the images it is laid over.
const HEAT: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37]
]
// Diverging: blue below zero, white at zero, orange above (the colours of ConfusionMatrix's differences).
const NEG: [number, number, number] = [0, 114, 178]
const POS: [number, number, number] = [213, 94, 0]

function mix(a: [number, number, number], b: [number, number, number], t: number): [number, number, number] {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/** RGB of t in [0, 1] (diverging: t = 0.5 is zero). */
export function colorOf(map: ColorMap, t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0))
  if (map === 'gray') return [x * 255, x * 255, x * 255]
  if (map === 'diverging') return x < 0.5 ? mix(NEG, [255, 255, 255], x * 2) : mix([255, 255, 255], POS, (x - 0.5) * 2)
  const f = x * (HEAT.length - 1)
  const i = Math.min(HEAT.length - 2, Math.floor(f))
  return mix(HEAT[i], HEAT[i + 1], f - i)
}

/** CSS colour of t, for legends. */
export function cssColor(map: ColorMap, t: number): string {
  const [r, g, b] = colorOf(map, t)
  return `rgb(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)})`
}

export interface PaintOptions {
  min: number
  max: number
  map: ColorMap
  offset?: number
  /** 3: `values` from `offset` are the R, G, B planes of a [3, H, W] tensor, painted as colour (`map` unused). */
  channels?: 1 | 3
  base?: ArrayLike<number> | null
  baseRange?: { min: number; max: number }
  /** 3: `base` is a [3, H, W] colour input, shown in colour under the heat. */
  baseChannels?: 1 | 3
}

/**
 * The RGBA pixels of an h x w map of `values` (from `offset`), mapping [min, max] onto the colour
 * map. With `base`, the map is laid over that image: its alpha follows the value, so the image
 * stays visible where the map is low.
 */
export function paintPixels(values: ArrayLike<number>, w: number, h: number, opts: PaintOptions): Uint8ClampedArray {
  const out = new Uint8ClampedArray(w * h * 4)
  const span = opts.max - opts.min || 1
  const off = opts.offset ?? 0
  const n = w * h
  const base = opts.base ?? null
  const bMin = opts.baseRange?.min ?? 0
  const bSpan = opts.baseRange ? opts.baseRange.max - opts.baseRange.min || 1 : 1
  const bPlanes = opts.baseChannels === 3 ? [0, n, 2 * n] : [0, 0, 0]
  for (let i = 0; i < n; i++) {
    const t = (values[off + i] - opts.min) / span
    let [r, g, b] =
      opts.channels === 3
        ? [1, 2, 3].map((_, c) => Math.min(1, Math.max(0, (values[off + c * n + i] - opts.min) / span)) * 255)
        : colorOf(opts.map, t)
    if (base) {
      // Heat over the image (in colour when it has three planes), blended in by its own strength (at most 70%).
      const [b0, b1, b2] = bPlanes.map((p) => ((base[p + i] - bMin) / bSpan) * 255)
      const a = 0.7 * Math.min(1, Math.max(0, t))
      r = b0 * (1 - a) + r * a
      g = b1 * (1 - a) + g * a
      b = b2 * (1 - a) + b * a
    }
    out[i * 4] = r
    out[i * 4 + 1] = g
    out[i * 4 + 2] = b
    out[i * 4 + 3] = 255
  }
  return out
}

/** Paints paintPixels' image into a canvas of w x h pixels. */
export function paint(canvas: HTMLCanvasElement, values: ArrayLike<number>, w: number, h: number, opts: PaintOptions): void {
  const ctx = canvas.getContext?.('2d')
  if (!ctx) return
  canvas.width = w
  canvas.height = h
  const img = ctx.createImageData(w, h)
  img.data.set(paintPixels(values, w, h, opts))
  ctx.putImageData(img, 0, 0)
}
