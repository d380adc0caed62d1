import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { encodeIdx, IdxError, isGzip, parseIdx, parseImages, parseLabels, toImageSet } from '../../../src/core/data/idx'

const raw = (name: string) => new Uint8Array(readFileSync(join(__dirname, '../../fixtures/data/tiny-raw', name)))
const trainImages = raw('train-images.idx3-ubyte')
const trainLabels = raw('train-labels.idx1-ubyte')

function idxError(fn: () => unknown): IdxError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(IdxError)
    return err as IdxError
  }
  throw new Error('expected an IdxError')
}

describe('IDX parsing', () => {
  it('reads the fixture images and labels with their dims', () => {
    const im = parseImages(trainImages, 'train-images')
    expect([im.count, im.height, im.width]).toEqual([20, 28, 28])
    expect(im.images.length).toBe(20 * 784)
    const labels = parseLabels(trainLabels, 'train-labels')
    expect(Array.from(labels.subarray(0, 5))).toEqual([0, 7, 4, 1, 8])
    // The fixture draws a bar on row 2 + 2*label: image 1 (label 7) has ink on row 16, none on row 2.
    expect(im.images[784 + 16 * 28 + 10]).toBeGreaterThan(0)
    expect(im.images[784 + 2 * 28 + 10]).toBe(0)
  })

  it('round-trips any number of dims', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i)
    const t = parseIdx(encodeIdx([2, 3, 4, 5], data), 'four-d')
    expect(t.dims).toEqual([2, 3, 4, 5])
    expect(Array.from(t.data)).toEqual(Array.from(data))
    expect(parseIdx(encodeIdx([0, 28, 28], new Uint8Array(0)), 'none').dims).toEqual([0, 28, 28])
  })

  it('joins images and labels into an ImageSet', () => {
    const set = toImageSet({ bytes: trainImages, file: 'a' }, { bytes: trainLabels, file: 'b' }, 10)
    expect(set.count).toBe(20)
    expect(set.labels.length).toBe(20)
  })

  it('detects gzip by its magic, not its name', () => {
    expect(isGzip(new Uint8Array([0x1f, 0x8b, 8]))).toBe(true)
    expect(isGzip(trainImages)).toBe(false)
  })

  describe('typed errors that name the file and the problem', () => {
    it('empty file', () => {
      const e = idxError(() => parseIdx(new Uint8Array(0), '/x/empty-images'))
      expect(e.code).toBe('empty')
      expect(e.file).toBe('/x/empty-images')
      expect(e.message).toContain('/x/empty-images')
    })
    it('bad magic', () => {
      const b = trainImages.slice()
      b[0] = 0x50
      b[1] = 0x4b
      const e = idxError(() => parseIdx(b, 'zip-not-idx'))
      expect(e.code).toBe('bad_magic')
      expect(e.message).toMatch(/zip-not-idx: bad magic number 50 4b 08 03/)
      const c = trainImages.slice()
      c[2] = 0x42
      expect(idxError(() => parseIdx(c, 'f')).code).toBe('bad_magic')
    })
    it('wrong dtype', () => {
      const b = trainImages.slice()
      b[2] = 0x0d
      const e = idxError(() => parseIdx(b, 'floats'))
      expect(e.code).toBe('wrong_dtype')
      expect(e.message).toContain('float32')
    })
    it('truncated header and data', () => {
      expect(idxError(() => parseIdx(trainImages.subarray(0, 3), 'h')).code).toBe('truncated')
      expect(idxError(() => parseIdx(trainImages.subarray(0, 10), 'h')).code).toBe('truncated')
      const e = idxError(() => parseIdx(trainImages.subarray(0, trainImages.length - 100), 'cut'))
      expect(e.code).toBe('truncated')
      expect(e.message).toContain(`need ${20 * 784} data bytes, found ${20 * 784 - 100}`)
    })
    it('trailing bytes', () => {
      const b = new Uint8Array(trainLabels.length + 3)
      b.set(trainLabels)
      expect(idxError(() => parseIdx(b, 'long')).code).toBe('trailing_data')
    })
    it('wrong dims for images or labels', () => {
      expect(idxError(() => parseImages(trainLabels, 'labels-as-images')).code).toBe('wrong_dims')
      expect(idxError(() => parseLabels(trainImages, 'images-as-labels')).code).toBe('wrong_dims')
    })
    it('double gzip is named as such', () => {
      expect(idxError(() => parseIdx(new Uint8Array([0x1f, 0x8b, 8, 0, 0]), 'g')).code).toBe('corrupt_gzip')
    })
    it('images/labels count mismatch', () => {
      const fewer = encodeIdx([19], parseLabels(trainLabels, 'l').subarray(0, 19))
      const e = idxError(() => toImageSet({ bytes: trainImages, file: 'imgs' }, { bytes: fewer, file: 'lbls' }, 10))
      expect(e.code).toBe('count_mismatch')
      expect(e.file).toBe('lbls')
      expect(e.message).toBe('lbls: holds 19 labels but imgs holds 20 images')
    })
    it('label out of range', () => {
      const labels = parseLabels(trainLabels, 'l').slice()
      labels[5] = 12
      const e = idxError(() => toImageSet({ bytes: trainImages, file: 'i' }, { bytes: encodeIdx([20], labels), file: 'bad-labels' }, 10))
      expect(e.code).toBe('label_out_of_range')
      expect(e.message).toContain('label 12 at index 5')
    })
  })
})
