import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NoInkError, preprocess, PreprocessInputError, resample } from '../../../src/core/predict/pipeline'

interface Canvas {
  width: number
  height: number
  rgba: Uint8Array
}

/** A canvas of one colour; `alpha` 0 makes it transparent. */
function canvas(width: number, height: number, rgb: [number, number, number], alpha = 255): Canvas {
  const rgba = new Uint8Array(width * height * 4)
  for (let i = 0; i < width * height; i++) rgba.set([...rgb, alpha], i * 4)
  return { width, height, rgba }
}

function fillRect(c: Canvas, x: number, y: number, w: number, h: number, rgb: [number, number, number], alpha = 255): void {
  for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) c.rgba.set([...rgb, alpha], (yy * c.width + xx) * 4)
}

const step = (out: ReturnType<typeof preprocess>, prefix: string) => {
  const s = out.steps.find((st) => st.name.startsWith(prefix))
  if (!s) throw new Error(`no step ${prefix} in ${out.steps.map((x) => x.name).join(', ')}`)
  return s
}

function centreOfMass(px: Uint8Array, w: number, h: number): { x: number; y: number } {
  let m = 0
  let sx = 0
  let sy = 0
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = px[y * w + x]
      m += v
      sx += v * x
      sy += v * y
    }
  }
  return { x: sx / m, y: sy / m }
}

function inkBox(px: Uint8Array, w: number, h: number): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = w
  let y0 = h
  let x1 = -1
  let y1 = -1
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (px[y * w + x] > 0) {
        x0 = Math.min(x0, x)
        y0 = Math.min(y0, y)
        x1 = Math.max(x1, x)
        y1 = Math.max(y1, y)
      }
    }
  }
  return { x0, y0, x1, y1 }
}

describe('preprocess', () => {
  it('reports every step, ending in a 28x28 IDX image', () => {
    const c = canvas(100, 80, [255, 255, 255])
    fillRect(c, 30, 20, 10, 40, [0, 0, 0])
    const out = preprocess(c.rgba, c.width, c.height, { style: 'digits' })
    expect(out.steps.map((s) => s.name)).toEqual(['grayscale', 'inverted + levels', 'cropped', 'scaled to 20px', 'centred by mass'])
    for (const s of out.steps) expect(s.pixels.length).toBe(s.width * s.height)
    expect(out.input.length).toBe(28 * 28)
    expect(out.steps.at(-1)?.pixels).toBe(out.input)
  })

  it('flattens transparency onto white paper', () => {
    // Transparent black everywhere reads as white paper; a half-transparent black bar as mid grey.
    const c = canvas(60, 60, [0, 0, 0], 0)
    fillRect(c, 10, 10, 20, 30, [0, 0, 0], 128)
    const gray = step(preprocess(c.rgba, c.width, c.height, { style: 'digits' }), 'grayscale')
    expect(gray.pixels[0]).toBe(255)
    expect(gray.pixels[20 * 60 + 20]).toBe(127)
  })

  it('uses the alpha channel when strokes have the colour of the paper', () => {
    const c = canvas(60, 60, [255, 255, 255], 0)
    fillRect(c, 20, 10, 8, 40, [255, 255, 255], 255)
    const out = preprocess(c.rgba, c.width, c.height, { style: 'digits' })
    expect(step(out, 'cropped')).toMatchObject({ width: 8, height: 40 })
  })

  it('converts colour to luma', () => {
    const c = canvas(40, 40, [255, 255, 255])
    fillRect(c, 10, 10, 10, 20, [200, 0, 0])
    const gray = step(preprocess(c.rgba, c.width, c.height, { style: 'digits' }), 'grayscale')
    expect(gray.pixels[15 * 40 + 15]).toBe(Math.round(0.299 * 200))
  })

  it('inverts light paper and leaves dark paper as it is', () => {
    const light = canvas(50, 50, [240, 240, 240])
    fillRect(light, 20, 10, 6, 30, [20, 20, 20])
    const dark = canvas(50, 50, [15, 15, 15])
    fillRect(dark, 20, 10, 6, 30, [235, 235, 235])
    const a = preprocess(light.rgba, 50, 50, { style: 'digits' })
    const b = preprocess(dark.rgba, 50, 50, { style: 'digits' })
    expect(a.steps[1].name).toBe('inverted + levels')
    expect(b.steps[1].name).toBe('levels')
    // Either way: paper 0, ink 255.
    for (const out of [a, b]) {
      expect(out.steps[1].pixels[0]).toBe(0)
      expect(out.steps[1].pixels[20 * 50 + 22]).toBe(255)
    }
    expect(Array.from(a.input)).toEqual(Array.from(b.input))
  })

  it('crops to the known bounding box of the ink, ignoring specks of dust', () => {
    const c = canvas(200, 150, [250, 250, 250])
    fillRect(c, 47, 33, 24, 61, [10, 10, 10])
    fillRect(c, 150, 120, 1, 1, [0, 0, 0]) // a speck far away
    const out = preprocess(c.rgba, c.width, c.height, { style: 'digits' })
    const crop = step(out, 'cropped')
    expect({ w: crop.width, h: crop.height }).toEqual({ w: 24, h: 61 })
    const scaled = step(out, 'scaled')
    // Longest side to 20 px, aspect kept.
    expect({ w: scaled.width, h: scaled.height }).toEqual({ w: Math.round((24 * 20) / 61), h: 20 })
  })

  it('places digits by centre of mass at pixel index 14, as MNIST does', () => {
    // An L shape: its centre of mass is far from the centre of its box.
    const c = canvas(120, 120, [255, 255, 255])
    fillRect(c, 20, 20, 8, 60, [0, 0, 0])
    fillRect(c, 20, 72, 40, 8, [0, 0, 0])
    const out = preprocess(c.rgba, 120, 120, { style: 'digits' })
    const com = centreOfMass(out.input, 28, 28)
    expect(Math.abs(com.x - 14)).toBeLessThanOrEqual(0.5)
    expect(Math.abs(com.y - 14)).toBeLessThanOrEqual(0.5)
    const box = inkBox(out.input, 28, 28)
    // The box is not centred: mass pulls it.
    expect((box.x0 + box.x1 + 1) / 2).toBeGreaterThan(15)
  })

  it('fits objects to the whole frame, centred', () => {
    const c = canvas(300, 200, [255, 255, 255])
    fillRect(c, 50, 40, 120, 60, [30, 30, 30])
    const out = preprocess(c.rgba, 300, 200, { style: 'objects' })
    expect(step(out, 'scaled')).toMatchObject({ width: 28, height: 14 })
    const box = inkBox(out.input, 28, 28)
    expect(box).toEqual({ x0: 0, y0: 7, x1: 27, y1: 20 })
  })

  it('ignores an even gradient of the paper and its noise', () => {
    const w = 160
    const h = 120
    const c = canvas(w, h, [0, 0, 0])
    let seed = 1
    const noise = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed / 2 ** 31 - 0.5) * 16
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const paper = 170 + (70 * x) / w
        const v = Math.round(paper + noise())
        c.rgba.set([v, v, v, 255], (y * w + x) * 4)
      }
    }
    fillRect(c, 100, 30, 12, 50, [40, 40, 40])
    const crop = step(preprocess(c.rgba, w, h, { style: 'digits' }), 'cropped')
    expect({ w: crop.width, h: crop.height }).toEqual({ w: 12, h: 50 })
  })

  it('says "no ink found" for a blank page, with or without noise and dust', () => {
    const blank = canvas(80, 60, [245, 245, 245])
    expect(() => preprocess(blank.rgba, 80, 60, { style: 'digits' })).toThrow(NoInkError)
    expect(() => preprocess(blank.rgba, 80, 60, { style: 'digits' })).toThrow(/no ink found/)
    const dusty = canvas(400, 300, [240, 240, 240])
    for (let i = 0; i < blank.rgba.length; i += 4) {
      const v = 240 + ((i * 7919) % 13) - 6
      dusty.rgba.set([v, v, v], i)
    }
    fillRect(dusty, 100, 100, 1, 1, [0, 0, 0])
    fillRect(dusty, 300, 40, 1, 1, [0, 0, 0])
    expect(() => preprocess(dusty.rgba, 400, 300, { style: 'digits' })).toThrow(NoInkError)
    const transparent = canvas(40, 40, [0, 0, 0], 0)
    expect(() => preprocess(transparent.rgba, 40, 40, { style: 'digits' })).toThrow(NoInkError)
  })

  it('leaves a digit that is already MNIST-like (nearly) as it is', () => {
    const manifest: { raw: string }[] = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/predict/images/manifest.json'), 'utf8'))
    let total = 0
    for (const m of manifest) {
      const raw = Buffer.from(m.raw, 'base64')
      const rgba = new Uint8Array(28 * 28 * 4)
      for (let i = 0; i < 784; i++) rgba.set([raw[i], raw[i], raw[i], 255], i * 4)
      const out = preprocess(rgba, 28, 28, { style: 'digits' }).input
      let diff = 0
      for (let i = 0; i < 784; i++) diff += Math.abs(out[i] - raw[i])
      total += diff / 784
    }
    // Mean absolute difference per pixel, on the 0..255 scale.
    expect(total / manifest.length).toBeLessThan(3)
  })

  it('rejects a buffer that does not match the stated size', () => {
    expect(() => preprocess(new Uint8Array(10), 4, 4, { style: 'digits' })).toThrow(PreprocessInputError)
    expect(() => preprocess(new Uint8Array(0), 0, 0, { style: 'digits' })).toThrow(PreprocessInputError)
  })
})

describe('resample (area average)', () => {
  it('averages exactly the covered source area', () => {
    // 4x1 -> 2x1 averages pairs; 3x1 -> 2x1 splits the middle pixel.
    expect(Array.from(resample(Float32Array.from([0, 1, 1, 1]), 4, 1, 2, 1))).toEqual([0.5, 1])
    const r = resample(Float32Array.from([0, 1, 0]), 3, 1, 2, 1)
    expect(r[0]).toBeCloseTo(1 / 3, 5)
    expect(r[1]).toBeCloseTo(1 / 3, 5)
  })

  it('keeps total ink proportional to area when shrinking', () => {
    const src = new Float32Array(100 * 60).map((_, i) => (i % 7) / 7)
    const out = resample(src, 100, 60, 20, 12)
    const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0)
    expect(sum(out) * 25).toBeCloseTo(sum(src), 0)
  })
})
