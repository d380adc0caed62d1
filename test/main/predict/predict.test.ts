import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeImage, ImageDecodeError, type ImageProblem, WORK_SIDE } from '../../../src/main/services/image-decode'
import { Predictor, shrinkForPreview } from '../../../src/main/services/predict'
import { StudioError } from '../../../src/shared/contract'
import { CLASSES, FIXTURES, setupRun, type ManifestEntry, type Setup } from './helpers'

const manifest: ManifestEntry[] = JSON.parse(readFileSync(join(FIXTURES, 'images/manifest.json'), 'utf8'))
const fixture = (format: string): { bytes: Uint8Array; entry: ManifestEntry } => {
  const entry = manifest.find((m) => m.format === format)
  if (!entry) throw new Error(`no ${format} fixture`)
  return { bytes: readFileSync(join(FIXTURES, 'images', entry.file)), entry }
}

/** A PNG whose header claims width x height; the pixel data is one empty row, enough for a header read. */
function pngHeader(width: number, height: number): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (b: Buffer): number => {
    let c = 0xffffffff
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
    const sum = Buffer.alloc(4)
    sum.writeUInt32BE(crc(body))
    return Buffer.concat([len, body, sum])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 0, 0, 0, 0], 8) // 8-bit grayscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(width + 1))),
    chunk('IEND', Buffer.alloc(0))
  ])
}

async function problemOf(p: Promise<unknown>): Promise<{ problem: ImageProblem; code: string; message: string }> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(ImageDecodeError)
    const e = err as ImageDecodeError
    return { problem: e.problem, code: e.code, message: e.message }
  }
  throw new Error('expected an ImageDecodeError')
}

describe('shrinkForPreview', () => {
  it('averages k x k blocks, including the partial blocks at the edges', () => {
    // 5x2, side 3 -> k = 2: blocks [0,1 / 5,6], [2,3 / 7,8], [4 / 9].
    const s = { name: 'x', width: 5, height: 2, pixels: Uint8Array.from([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]) }
    const p = shrinkForPreview(s, 3)
    expect({ w: p.width, h: p.height }).toEqual({ w: 3, h: 1 })
    expect(Array.from(p.pixels)).toEqual([30, 50, 65])
    expect(shrinkForPreview(s, 5)).toBe(s)
  })
})

describe('Predictor on a trained LeNet-5', () => {
  let s: Setup
  let predictor: Predictor
  beforeAll(() => {
    s = setupRun()
    predictor = new Predictor({ runs: s.store })
  })
  afterAll(() => s.close())

  it('predicts a rendered digit with top-k labels from the run, steps and time', async () => {
    const { bytes, entry } = fixture('png')
    const r = await predictor.predictFile(s.runId, 'best', entry.file, bytes, 3)
    expect(r.fileName).toBe(entry.file)
    expect(r.top).toHaveLength(3)
    expect(r.top[0]).toMatchObject({ classIndex: entry.label, label: CLASSES[entry.label] })
    expect(r.top[0].probability).toBeGreaterThan(r.top[1].probability)
    const total = r.top.reduce((a, t) => a + t.probability, 0)
    expect(total).toBeLessThanOrEqual(1.0001)
    expect(r.steps.map((st) => st.name)).toEqual(['grayscale', 'inverted + levels', 'cropped', 'scaled to 20px', 'centred by mass'])
    const last = r.steps.at(-1)!.image
    expect(Buffer.from(last.pixels, 'base64').length).toBe(last.width * last.height)
    expect(r.milliseconds).toBeGreaterThan(0)
  })

  it('reads WebP and the first frame of a GIF', async () => {
    const { bytes, entry } = fixture('png')
    const webp = await sharp(bytes).webp({ quality: 90 }).toBuffer()
    const gif = await sharp(bytes).gif().toBuffer()
    for (const [name, b] of [['digit.webp', webp], ['digit.gif', gif]] as const) {
      const r = await predictor.predictFile(s.runId, 'best', name, b, 1)
      expect(r.top[0].classIndex, name).toBe(entry.label)
    }
  })

  it('shrinks a large picture while decoding, and still finds the digit', async () => {
    const { bytes, entry } = fixture('png')
    const big = await sharp({ create: { width: 4000, height: 2500, channels: 3, background: '#ece8df' } })
      .composite([{ input: await sharp(bytes).resize(500, 500).toBuffer(), left: 2900, top: 300 }])
      .jpeg()
      .toBuffer()
    const d = await decodeImage('photo.jpg', big)
    expect(d).toMatchObject({ format: 'jpeg', originalWidth: 4000, originalHeight: 2500, width: WORK_SIDE, height: (WORK_SIDE * 2500) / 4000 })
    const r = await predictor.predictFile(s.runId, 'best', 'photo.jpg', big, 1)
    expect(r.top[0].classIndex).toBe(entry.label)
    for (const st of r.steps) expect(Math.max(st.image.width, st.image.height)).toBeLessThanOrEqual(280)
  })

  it('predictPixels gives a probability row per raw image', async () => {
    const raws = manifest.slice(0, 5).map((m) => Buffer.from(m.raw, 'base64'))
    const probs = await predictor.predictPixels(s.runId, 'best', Buffer.concat(raws), 5, 28)
    expect(probs.length).toBe(50)
    for (let i = 0; i < 5; i++) {
      const row = Array.from(probs.subarray(i * 10, i * 10 + 10))
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4)
    }
    await expect(predictor.predictPixels(s.runId, 'best', new Uint8Array(10), 1, 28)).rejects.toThrow(/do not hold 1 images/)
  })

  it('picks up a checkpoint rewritten since it was loaded', async () => {
    const raw = Buffer.from(manifest[0].raw, 'base64')
    const before = await predictor.predictPixels(s.runId, 'best', raw, 1, 28)
    const dir = s.store.weightsDir(s.runId, 'best')
    const weights = readFileSync(join(dir, 'weights.bin'))
    try {
      // Zeroed weights predict the same for everything: a real change the cache must not hide.
      writeFileSync(join(dir, 'weights.bin'), Buffer.alloc(weights.length))
      const json = readFileSync(join(dir, 'model.json'))
      writeFileSync(join(dir, 'model.json'), json)
      const t = new Date(Date.now() + 5000)
      utimesSync(join(dir, 'model.json'), t, t)
      const after = await predictor.predictPixels(s.runId, 'best', raw, 1, 28)
      expect(Array.from(after)).not.toEqual(Array.from(before))
    } finally {
      writeFileSync(join(dir, 'weights.bin'), weights)
      const t = new Date(Date.now() + 10000)
      utimesSync(join(dir, 'model.json'), t, t)
    }
    const restored = await predictor.predictPixels(s.runId, 'best', raw, 1, 28)
    expect(Array.from(restored)).toEqual(Array.from(before))
  })

  describe('bad input gets a clear, typed error', () => {
    it('empty file', async () => {
      expect(await problemOf(predictor.predictFile(s.runId, 'best', 'empty.png', new Uint8Array(0), 3))).toMatchObject({
        problem: 'empty',
        message: 'empty.png: the file is empty (0 bytes).'
      })
    })

    it('a text file named .png', async () => {
      const r = await problemOf(predictor.predictFile(s.runId, 'best', 'notes.png', Buffer.from('hello, this is text\n'), 3))
      expect(r.problem).toBe('not_image')
      expect(r.message).toMatch(/^notes\.png: this is not an image/)
    })

    it('a truncated JPEG', async () => {
      const { bytes } = fixture('jpeg')
      const r = await problemOf(predictor.predictFile(s.runId, 'best', 'cut.jpg', bytes.subarray(0, Math.floor(bytes.length / 2)), 3))
      expect(r.problem).toBe('truncated')
      expect(r.message).toMatch(/^cut\.jpg: the JPEG data is truncated/)
    })

    it('a 1x1 image', async () => {
      const one = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer()
      const r = await problemOf(predictor.predictFile(s.runId, 'best', 'dot.png', one, 3))
      expect(r.problem).toBe('too_small')
      expect(r.message).toMatch(/1x1 pixels: too small to hold a digit/)
    })

    it('a 20000x20000 image is refused from its header (a 370-byte file: nothing is decoded)', async () => {
      const r = await problemOf(predictor.predictFile(s.runId, 'best', 'huge.png', pngHeader(20000, 20000), 3))
      expect(r).toMatchObject({ problem: 'too_large', code: 'too_large' })
      expect(r.message).toMatch(/20000x20000 \(400 megapixels\); the limit is 50 megapixels/)
    })

    it('a file over 30 MB', async () => {
      const r = await problemOf(decodeImage('big.jpg', new Uint8Array(31 * 1024 * 1024)))
      expect(r.problem).toBe('too_large')
      expect(r.message).toMatch(/31\.0 MB; the limit is 30\.0 MB/)
    })

    it('a blank page', async () => {
      const blank = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#f4f1ea' } }).jpeg().toBuffer()
      const r = await problemOf(predictor.predictFile(s.runId, 'best', 'blank.jpg', blank, 3))
      expect(r).toMatchObject({ problem: 'no_ink', code: 'data_error' })
      expect(r.message).toMatch(/^blank\.jpg: no ink found/)
    })

    it('unsupported formats: an OS/2 BMP (Windows BMPs are read), SVG', async () => {
      const bmp = Buffer.alloc(70)
      bmp.write('BM', 0, 'ascii')
      const bmpErr = await problemOf(predictor.predictFile(s.runId, 'best', 'scan.bmp', bmp, 3))
      expect(bmpErr.problem).toBe('unsupported')
      expect(bmpErr.message).toMatch(/OS\/2 BMP files are not supported; save it as PNG/)
      const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"><rect width="10" height="30"/></svg>')
      expect((await problemOf(predictor.predictFile(s.runId, 'best', 'd.svg', svg, 3))).problem).toBe('unsupported')
    })

    it('a run whose weights are missing, and a run that does not exist', async () => {
      const { bytes } = fixture('png')
      await expect(predictor.predictFile(s.runId, 'last', 'a.png', bytes, 3)).rejects.toThrow(
        new RegExp(`Run ${s.runId} has no last weights \\(.*model\\.json is missing\\)`)
      )
      await expect(predictor.predictFile(s.runId, 'last', 'a.png', bytes, 3)).rejects.toMatchObject({ code: 'not_found' })
      await expect(predictor.predictFile(9999, 'best', 'a.png', bytes, 3)).rejects.toBeInstanceOf(StudioError)
      // Weights that vanish after a successful load are noticed too.
      const dir = s.store.weightsDir(s.runId, 'best')
      const copy = readFileSync(join(dir, 'weights.bin'))
      const model = readFileSync(join(dir, 'model.json'))
      rmSync(join(dir, 'weights.bin'))
      const t = new Date(Date.now() + 20000)
      utimesSync(join(dir, 'model.json'), t, t)
      try {
        await expect(predictor.predictFile(s.runId, 'best', 'a.png', bytes, 3)).rejects.toThrow(/weights file .*weights\.bin is missing/)
      } finally {
        writeFileSync(join(dir, 'weights.bin'), copy)
        writeFileSync(join(dir, 'model.json'), model)
      }
    })
  })
})
