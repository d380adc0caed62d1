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

/**
 * Paints an h x w map of `values` (from `offset`) into a canvas of that many pixels, mapping
 * [min, max] onto the colour map. `over`: alpha per pixel follows the value, so a heat map laid
 * over an image leaves the image visible where the map is low.
 */
export function paint(
  canvas: HTMLCanvasElement,
  values: ArrayLike<number>,
  w: number,
  h: number,
  opts: { min: number; max: number; map: ColorMap; offset?: number; base?: ArrayLike<number> | null; baseRange?: { min: number; max: number } }
): void {
  const ctx = canvas.getContext?.('2d')
  if (!ctx) return
  canvas.width = w
  canvas.height = h
  const img = ctx.createImageData(w, h)
  const span = opts.max - opts.min || 1
  const off = opts.offset ?? 0
  const base = opts.base ?? null
  const bSpan = opts.baseRange ? opts.baseRange.max - opts.baseRange.min || 1 : 1
  for (let i = 0; i < w * h; i++) {
    const t = (values[off + i] - opts.min) / span
    let [r, g, b] = colorOf(opts.map, t)
    if (base) {
      // Heat over the image: the image in gray, the heat blended in by its own strength (at most 70%).
      const g0 = ((base[i] - (opts.baseRange?.min ?? 0)) / bSpan) * 255
      const a = 0.7 * Math.min(1, Math.max(0, t))
      r = g0 * (1 - a) + r * a
      g = g0 * (1 - a) + g * a
      b = g0 * (1 - a) + b * a
    }
    img.data[i * 4] = r
    img.data[i * 4 + 1] = g
    img.data[i * 4 + 2] = b
    img.data[i * 4 + 3] = 255
  }
  ctx.putImageData(img, 0, 0)
}
