// Makes a decoded picture look like a training image of MNIST-style data, step by step, so that a
// photo or a scan of a digit is judged on its shape and not on paper colour, size or position.
// Pure: decoded RGBA in, grayscale images out (the IDX convention: 0 = background, 255 = ink).

import type { DatasetStyle } from '../../shared/schemas'

/** How a dataset's images are framed decides how a picture is placed (see DatasetStyle). */
export type PreprocessStyle = DatasetStyle

export interface PreprocessOptions {
  /** 'digits': longest side to 20/28 of the frame, placed by centre of mass (MNIST).
   *  'objects': longest side to the full frame, centred (Fashion-MNIST). */
  style: PreprocessStyle
  /** Side of the output square; 28 for the IDX datasets. */
  size?: number
}

export interface PipelineImage {
  name: string
  width: number
  height: number
  /** width*height*channels bytes, row-major (RGB interleaved when channels is 3). */
  pixels: Uint8Array
  /** Absent: 1 (gray). Colour steps come from photo sets. */
  channels?: 1 | 3
}

export interface PreprocessOutput {
  steps: PipelineImage[]
  /** size*size bytes, IDX convention. */
  input: Uint8Array
}

/** Thrown when nothing in the picture stands out from its background (a blank page, a flat colour). */
export class NoInkError extends Error {
  constructor(message = 'no ink found: the image has nothing that stands out from its background') {
    super(message)
    this.name = 'NoInkError'
  }
}

/** Thrown when the pixel buffer does not match the stated size. */
export class PreprocessInputError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PreprocessInputError'
  }
}

// Ink must differ from the paper by at least this much (0..255 scale) to count as ink at all:
// below it, what we see is lighting and sensor noise.
const MIN_CONTRAST = 24
// A pixel is core ink at half the ink level; fainter pixels belong to a stroke only when they touch
// one (hysteresis), which drops isolated noise while keeping anti-aliased edges.
const CORE_LEVEL = 0.5
// Specks of core ink smaller than this fraction of the largest blob are dust, not strokes. Strokes of
// a digit that are not joined (the bar of a 5) are far larger than that.
const MIN_BLOB_FRACTION = 0.08
// Paper noise (sigma, 0..255) above which the picture is smoothed before looking for ink.
const NOISY = 4

export function preprocess(rgba: Uint8Array, width: number, height: number, opts: PreprocessOptions): PreprocessOutput {
  const size = opts.size ?? 28
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new PreprocessInputError(`image size ${width}x${height} is not a positive whole number of pixels`)
  }
  if (rgba.length !== width * height * 4) {
    throw new PreprocessInputError(`expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${rgba.length}`)
  }
  if (!Number.isInteger(size) || size < 8) throw new PreprocessInputError(`output size ${size} must be a whole number >= 8`)

  const steps: PipelineImage[] = []
  const { gray, alpha, hasTransparency } = flattenToGray(rgba, width, height)
  steps.push({ name: 'grayscale', width, height, pixels: gray })

  // Tries in order until one finds ink: as it is; smoothed (faint ink on grainy paper); the alpha
  // channel (white or flat-coloured strokes on a transparent canvas vanish on white paper).
  const attempts: (() => { ink: Float32Array; inverted: boolean })[] = [
    () => inkLevels(gray, width, height, opts.style),
    () => inkLevels(gray, width, height, opts.style, true)
  ]
  if (hasTransparency) attempts.push(() => inkLevels(alpha, width, height, opts.style))
  let found: { ink: Float32Array; inverted: boolean; cleaned: Float32Array; box: Box } | null = null
  for (const attempt of attempts) {
    try {
      const levels = attempt()
      const kept = keepStrokes(levels.ink, width, height)
      found = { ...levels, cleaned: kept.ink, box: kept.box }
      break
    } catch (err) {
      if (!(err instanceof NoInkError)) throw err
    }
  }
  if (!found) throw new NoInkError()
  const { ink, inverted, cleaned, box } = found
  steps.push({ name: inverted ? 'inverted + levels' : 'levels', width, height, pixels: toBytes(ink) })
  const crop = cropFloat(cleaned, width, box)
  steps.push({ name: 'cropped', width: box.w, height: box.h, pixels: toBytes(crop) })

  const target = opts.style === 'digits' ? Math.round((size * 20) / 28) : size
  const scale = target / Math.max(box.w, box.h)
  const sw = Math.max(1, Math.min(target, Math.round(box.w * scale)))
  const sh = Math.max(1, Math.min(target, Math.round(box.h * scale)))
  const scaled = resample(crop, box.w, box.h, sw, sh)
  steps.push({ name: `scaled to ${target}px`, width: sw, height: sh, pixels: toBytes(scaled) })

  const placed = opts.style === 'digits' ? placeByCentreOfMass(scaled, sw, sh, size) : placeCentred(scaled, sw, sh, size)
  const input = toBytes(placed)
  steps.push({ name: opts.style === 'digits' ? 'centred by mass' : 'centred', width: size, height: size, pixels: input })
  return { steps, input }
}

// ---------------------------------------------------------------------------------------------

function flattenToGray(rgba: Uint8Array, width: number, height: number): { gray: Uint8Array; alpha: Uint8Array; hasTransparency: boolean } {
  const n = width * height
  const gray = new Uint8Array(n)
  const alpha = new Uint8Array(n)
  let hasTransparency = false
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const a = rgba[j + 3]
    alpha[i] = a
    // Rec. 601 luma, the weights PIL's convert('L') uses.
    const y = 0.299 * rgba[j] + 0.587 * rgba[j + 1] + 0.114 * rgba[j + 2]
    if (a === 255) {
      gray[i] = (y + 0.5) | 0
    } else {
      hasTransparency = true
      gray[i] = ((y * a + 255 * (255 - a)) / 255 + 0.5) | 0
    }
  }
  return { gray, alpha, hasTransparency }
}

/**
 * Ink strength of every pixel in [0, 1]: the paper is modelled as a plane fitted to the border (so
 * an evenly lit page and a gently shaded photo both work), light paper is inverted, the noise of
 * the paper is cut off, and the typical ink level maps to 1.
 */
function inkLevels(gray: Uint8Array, width: number, height: number, style: PreprocessStyle, smooth = false): { ink: Float32Array; inverted: boolean } {
  const border = borderIndices(width, height)
  const plane = fitPlane(gray, width, border)
  const centreLevel = plane.a + plane.b * (width / 2) + plane.c * (height / 2)
  const inverted = centreLevel > 127.5

  const n = width * height
  // Signed distance from the paper, positive towards the ink side, and its histogram (one pass:
  // this and the component labelling are the hot loops on a megapixel photo).
  const diff = new Float32Array(n)
  const hist = new Uint32Array(256)
  const sign = inverted ? -1 : 1
  for (let y = 0, i = 0; y < height; y++) {
    let bg = plane.a + plane.c * y
    for (let x = 0; x < width; x++, i++) {
      const d = sign * (gray[i] - bg)
      diff[i] = d
      hist[d <= 0 ? 0 : d >= 255 ? 255 : (d + 0.5) | 0]++
      bg += plane.b
    }
  }
  const noiseOf = (): number => {
    const residuals = new Float32Array(border.length)
    for (let k = 0; k < border.length; k++) residuals[k] = Math.abs(diff[border[k]])
    // Median absolute deviation -> a noise sigma that ignores the odd ink pixel on the border.
    return 1.4826 * medianOf(residuals)
  }
  let sigma = noiseOf()
  // Grainy paper (a dim photo, a cheap scanner): pale ink can sit within 3 sigma of the paper per
  // pixel, yet be plain to see over an area. Averaging neighbours divides the noise by the window
  // side; strokes people draw are wider than the window, so their level survives. Only as a second
  // try: smoothing also blurs the edges of ink that was fine without it.
  if (smooth && sigma > NOISY && Math.min(width, height) >= 48) {
    boxBlur(diff, width, height, sigma > 3 * NOISY ? 2 : 1)
    sigma = noiseOf()
    hist.fill(0)
    for (let i = 0; i < n; i++) {
      const d = diff[i]
      hist[d <= 0 ? 0 : d >= 255 ? 255 : (d + 0.5) | 0]++
    }
  }
  const floor = Math.max(3 * sigma, 4)

  const split = Math.max(otsu(hist), Math.ceil(floor))
  // A digit is strokes of one pen: its median is the pen. An object has shades; its brightest
  // parts should stay brightest, so take a high quantile instead.
  const peak = histQuantile(hist, split + 1, style === 'digits' ? 0.5 : 0.999)
  if (peak < 0) throw new NoInkError()
  if (peak - floor < MIN_CONTRAST) throw new NoInkError()

  // Reuses diff's memory: a megapixel of floats is worth not allocating twice.
  const ink = diff
  // Paper is 0 and the pen is 1; what is within the noise of the paper is cut to 0, but fainter
  // ink above it keeps its level (anti-aliased edges carry the stroke width).
  const inv = 1 / peak
  for (let i = 0; i < n; i++) {
    const d = diff[i]
    ink[i] = d <= floor ? 0 : d >= peak ? 1 : d * inv
  }
  return { ink, inverted }
}

/** In-place separable box filter of radius r (window 2r+1), edges clamped. */
function boxBlur(img: Float32Array, width: number, height: number, r: number): void {
  const line = new Float32Array(Math.max(width, height))
  const pass = (count: number, len: number, at: (line: number, k: number) => number): void => {
    for (let l = 0; l < count; l++) {
      for (let k = 0; k < len; k++) line[k] = img[at(l, k)]
      let acc = 0
      for (let k = -r; k <= r; k++) acc += line[Math.min(len - 1, Math.max(0, k))]
      for (let k = 0; k < len; k++) {
        img[at(l, k)] = acc / (2 * r + 1)
        acc += line[Math.min(len - 1, k + r + 1)] - line[Math.max(0, k - r)]
      }
    }
  }
  pass(height, width, (y, x) => y * width + x)
  pass(width, height, (x, y) => y * width + x)
}

function borderIndices(width: number, height: number): Uint32Array {
  // A band a few pixels wide (about 2% of the side) so a single dark frame line does not decide.
  const band = Math.max(1, Math.min(Math.floor(Math.min(width, height) / 4), Math.round(Math.max(width, height) * 0.02)))
  const out: number[] = []
  for (let y = 0; y < height; y++) {
    const edgeRow = y < band || y >= height - band
    for (let x = 0; x < width; x++) {
      if (edgeRow || x < band || x >= width - band) out.push(y * width + x)
    }
  }
  return Uint32Array.from(out)
}

/** Least-squares plane v = a + b x + c y through the border pixels, refitted once without outliers. */
function fitPlane(gray: Uint8Array, width: number, idx: Uint32Array): { a: number; b: number; c: number } {
  let use = idx
  let plane = { a: median(gray, idx), b: 0, c: 0 }
  for (let round = 0; round < 2; round++) {
    const p = solvePlane(gray, width, use)
    if (p) plane = p
    // Drop pixels far off the plane (ink touching the border, a shadow edge) and fit again.
    const res = new Float32Array(use.length)
    for (let k = 0; k < use.length; k++) {
      const i = use[k]
      res[k] = Math.abs(gray[i] - (plane.a + plane.b * (i % width) + plane.c * Math.floor(i / width)))
    }
    const cut = Math.max(2.5 * 1.4826 * medianOf(res), 6)
    const kept: number[] = []
    for (let k = 0; k < use.length; k++) if (res[k] <= cut) kept.push(use[k])
    if (kept.length < 3 || kept.length === use.length) break
    use = Uint32Array.from(kept)
  }
  return plane
}

function solvePlane(gray: Uint8Array, width: number, idx: Uint32Array): { a: number; b: number; c: number } | null {
  // Normal equations in centred coordinates keep them well conditioned.
  let sx = 0
  let sy = 0
  let sv = 0
  const m = idx.length
  for (let k = 0; k < m; k++) {
    const i = idx[k]
    sx += i % width
    sy += Math.floor(i / width)
    sv += gray[i]
  }
  const mx = sx / m
  const my = sy / m
  const mv = sv / m
  let xx = 0
  let xy = 0
  let yy = 0
  let xv = 0
  let yv = 0
  for (let k = 0; k < m; k++) {
    const i = idx[k]
    const x = (i % width) - mx
    const y = Math.floor(i / width) - my
    const v = gray[i] - mv
    xx += x * x
    xy += x * y
    yy += y * y
    xv += x * v
    yv += y * v
  }
  const det = xx * yy - xy * xy
  if (Math.abs(det) < 1e-9) return null
  const b = (xv * yy - yv * xy) / det
  const c = (yv * xx - xv * xy) / det
  return { a: mv - b * mx - c * my, b, c }
}

function otsu(hist: Uint32Array): number {
  let total = 0
  let sum = 0
  for (let t = 0; t < 256; t++) {
    total += hist[t]
    sum += t * hist[t]
  }
  let wB = 0
  let sumB = 0
  let best = 0
  let bestT = 0
  for (let t = 0; t < 256; t++) {
    wB += hist[t]
    if (wB === 0) continue
    const wF = total - wB
    if (wF === 0) break
    sumB += t * hist[t]
    const mB = sumB / wB
    const mF = (sum - sumB) / wF
    const between = wB * wF * (mB - mF) * (mB - mF)
    if (between > best) {
      best = between
      bestT = t
    }
  }
  return bestT
}

/**
 * Zeroes everything that is not part of a stroke: faint pixels count only when they touch core ink,
 * and blobs of core ink much smaller than the largest are specks. Also returns the box of what is kept.
 */
function keepStrokes(ink: Float32Array, width: number, height: number): { ink: Float32Array; box: Box } {
  const n = width * height
  const label = new Int32Array(n).fill(-1)
  const coreCount: number[] = []
  const stack = new Int32Array(n)
  let labels = 0
  for (let s = 0; s < n; s++) {
    if (ink[s] <= 0 || label[s] !== -1) continue
    let top = 0
    stack[top++] = s
    label[s] = labels
    let core = 0
    while (top > 0) {
      const i = stack[--top]
      if (ink[i] >= CORE_LEVEL) core++
      const x = i % width
      const y = (i - x) / width
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy
        if (yy < 0 || yy >= height) continue
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx
          if (xx < 0 || xx >= width) continue
          const j = yy * width + xx
          if (ink[j] > 0 && label[j] === -1) {
            label[j] = labels
            stack[top++] = j
          }
        }
      }
    }
    coreCount.push(core)
    labels++
  }
  let largest = 0
  for (const c of coreCount) largest = Math.max(largest, c)
  // Below a few pixels even the largest blob is dust: a page with specks is still a blank page.
  const minCore = Math.max(3, Math.ceil(largest * MIN_BLOB_FRACTION))
  if (largest < Math.max(4, Math.ceil(n * 0.0002))) throw new NoInkError()
  const out = new Float32Array(n)
  let x0 = width
  let y0 = height
  let x1 = -1
  let y1 = -1
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const l = label[i]
      if (l >= 0 && coreCount[l] >= minCore) {
        out[i] = ink[i]
        if (x < x0) x0 = x
        if (x > x1) x1 = x
        if (y < y0) y0 = y
        if (y > y1) y1 = y
      }
    }
  }
  if (x1 < 0) throw new NoInkError()
  return { ink: out, box: { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 } }
}

interface Box {
  x: number
  y: number
  w: number
  h: number
}

function cropFloat(src: Float32Array, width: number, b: Box): Float32Array {
  const out = new Float32Array(b.w * b.h)
  for (let y = 0; y < b.h; y++) out.set(src.subarray((b.y + y) * width + b.x, (b.y + y) * width + b.x + b.w), y * b.w)
  return out
}

/**
 * Area-average resampling: every output pixel is the mean of the source area it covers (exact
 * box filter with fractional edges), so shrinking never aliases. Enlarging uses the same rule,
 * which is nearest-like; the rare tiny crop gets bilinear instead for smooth edges.
 */
export function resample(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  if (dw >= sw && dh >= sh) return bilinear(src, sw, sh, dw, dh)
  const wx = axisWeights(sw, dw)
  const wy = axisWeights(sh, dh)
  const tmp = new Float32Array(dw * sh)
  for (let y = 0; y < sh; y++) {
    const row = y * sw
    for (let x = 0; x < dw; x++) {
      const { start, weights } = wx[x]
      let acc = 0
      for (let k = 0; k < weights.length; k++) acc += src[row + start + k] * weights[k]
      tmp[y * dw + x] = acc
    }
  }
  const out = new Float32Array(dw * dh)
  for (let y = 0; y < dh; y++) {
    const { start, weights } = wy[y]
    for (let x = 0; x < dw; x++) {
      let acc = 0
      for (let k = 0; k < weights.length; k++) acc += tmp[(start + k) * dw + x] * weights[k]
      out[y * dw + x] = acc
    }
  }
  return out
}

function axisWeights(srcLen: number, dstLen: number): { start: number; weights: Float32Array }[] {
  const ratio = srcLen / dstLen
  const out: { start: number; weights: Float32Array }[] = []
  for (let d = 0; d < dstLen; d++) {
    const a = d * ratio
    const b = (d + 1) * ratio
    const start = Math.floor(a)
    const end = Math.min(srcLen, Math.ceil(b))
    const weights = new Float32Array(end - start)
    for (let s = start; s < end; s++) weights[s - start] = (Math.min(b, s + 1) - Math.max(a, s)) / ratio
    out.push({ start, weights })
  }
  return out
}

function bilinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh)
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(sh - 1, Math.max(0, ((y + 0.5) * sh) / dh - 0.5))
    const y0 = Math.floor(fy)
    const y1 = Math.min(sh - 1, y0 + 1)
    const ty = fy - y0
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(sw - 1, Math.max(0, ((x + 0.5) * sw) / dw - 0.5))
      const x0 = Math.floor(fx)
      const x1 = Math.min(sw - 1, x0 + 1)
      const tx = fx - x0
      const top = src[y0 * sw + x0] * (1 - tx) + src[y0 * sw + x1] * tx
      const bottom = src[y1 * sw + x0] * (1 - tx) + src[y1 * sw + x1] * tx
      out[y * dw + x] = top * (1 - ty) + bottom * ty
    }
  }
  return out
}

/** MNIST's rule: translate so the centre of mass of the ink lies at the centre of the frame. */
function placeByCentreOfMass(img: Float32Array, w: number, h: number, size: number): Float32Array {
  let m = 0
  let mx = 0
  let my = 0
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      m += img[i]
      mx += img[i] * x
      my += img[i] * y
    }
  }
  // In pixel indices, like MNIST: the mean centre of mass of its digits is at index (14.0, 14.0).
  const cx = m > 0 ? mx / m : (w - 1) / 2
  const cy = m > 0 ? my / m : (h - 1) / 2
  const ox = clampInt(Math.round(size / 2 - cx), 0, size - w)
  const oy = clampInt(Math.round(size / 2 - cy), 0, size - h)
  return paste(img, w, h, size, ox, oy)
}

function placeCentred(img: Float32Array, w: number, h: number, size: number): Float32Array {
  return paste(img, w, h, size, Math.floor((size - w) / 2), Math.floor((size - h) / 2))
}

function paste(img: Float32Array, w: number, h: number, size: number, ox: number, oy: number): Float32Array {
  const out = new Float32Array(size * size)
  for (let y = 0; y < h; y++) out.set(img.subarray(y * w, (y + 1) * w), (oy + y) * size + ox)
  return out
}

// ---------------------------------------------------------------------------------------------

function toBytes(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length)
  for (let i = 0; i < v.length; i++) {
    const x = v[i]
    out[i] = x <= 0 ? 0 : x >= 1 ? 255 : (x * 255 + 0.5) | 0
  }
  return out
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v))
}

function median(gray: Uint8Array, idx: Uint32Array): number {
  const hist = new Uint32Array(256)
  for (let k = 0; k < idx.length; k++) hist[gray[idx[k]]]++
  let seen = 0
  for (let t = 0; t < 256; t++) {
    seen += hist[t]
    if (seen * 2 >= idx.length) return t
  }
  return 255
}

/** Quantile of the histogram bins from `from` up; -1 when those bins are empty. */
function histQuantile(hist: Uint32Array, from: number, q: number): number {
  let total = 0
  for (let t = from; t < 256; t++) total += hist[t]
  if (total === 0) return -1
  const want = q * total
  let seen = 0
  for (let t = from; t < 256; t++) {
    seen += hist[t]
    if (seen >= want) return t
  }
  return 255
}

/** Median of non-negative values, to a quarter level; a histogram, because sorting a megapixel is slow. */
function medianOf(values: Float32Array): number {
  const bins = 1024
  const hist = new Uint32Array(bins)
  for (let k = 0; k < values.length; k++) hist[Math.min(bins - 1, Math.max(0, Math.floor(values[k] * 4)))]++
  let seen = 0
  for (let t = 0; t < bins; t++) {
    seen += hist[t]
    if (seen * 2 >= values.length) return (t + 0.5) / 4
  }
  return 256
}
