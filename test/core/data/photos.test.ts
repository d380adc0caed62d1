// CIFAR-10's binary record format, per-channel statistics and the augmentation transforms.
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { augmentBatch, normalizeBatch } from '../../../src/core/data/augment'
import { createRng } from '../../../src/core/data/batches'
import { CIFAR_RECORD, encodeCifarBatch, parseCifarBatches } from '../../../src/core/data/cifar'
import { IdxError } from '../../../src/core/data/idx'
import { channelStats } from '../../../src/core/data/normalise'

describe('CIFAR-10 binary batches', () => {
  it('reads label byte then the red, green and blue planes (CHW) into interleaved HWC', () => {
    const rec = new Uint8Array(CIFAR_RECORD * 2)
    rec[0] = 3
    rec[1] = 10 // red of pixel 0
    rec[1 + 1024] = 20 // green of pixel 0
    rec[1 + 2048] = 30 // blue of pixel 0
    rec[1 + 1023] = 99 // red of the last pixel
    rec[CIFAR_RECORD] = 9
    rec[CIFAR_RECORD + 1 + 2048 + 33] = 7 // blue of pixel (1, 1) of record 2
    const set = parseCifarBatches([{ bytes: rec, file: 'data_batch_1.bin' }])
    expect(set).toMatchObject({ count: 2, height: 32, width: 32, channels: 3 })
    expect(Array.from(set.labels)).toEqual([3, 9])
    expect(Array.from(set.images.subarray(0, 3))).toEqual([10, 20, 30])
    expect(set.images[1023 * 3]).toBe(99)
    expect(set.images[3072 + 33 * 3 + 2]).toBe(7)
    // encodeCifarBatch writes the same format back.
    expect(Buffer.compare(Buffer.from(encodeCifarBatch(set.images, set.labels)), Buffer.from(rec))).toBe(0)
  })

  it('refuses a truncated file, an empty one and a label past 9, naming the file', () => {
    expect(() => parseCifarBatches([{ bytes: new Uint8Array(CIFAR_RECORD + 5), file: 'b.bin' }])).toThrow(/b\.bin: 3078 bytes is not a whole number of 3073-byte CIFAR records/)
    expect(() => parseCifarBatches([{ bytes: new Uint8Array(0), file: 'e.bin' }])).toThrow(IdxError)
    const bad = new Uint8Array(CIFAR_RECORD)
    bad[0] = 10
    expect(() => parseCifarBatches([{ bytes: bad, file: 'l.bin' }])).toThrow(/l\.bin: record 0 has label 10/)
  })
})

describe('channelStats', () => {
  it('is the population mean and std per channel in the [0, 1] scale', () => {
    // Two 1x2 RGB images: R = 0,255,0,255; G all 51; B = 0,0,0,255.
    const images = Uint8Array.from([0, 51, 0, 255, 51, 0, 0, 51, 0, 255, 51, 255])
    const s = channelStats({ images, labels: new Uint8Array(2), count: 2, height: 1, width: 2, channels: 3 })
    expect(s.mean).toEqual([0.5, 0.2, 0.25])
    expect(s.std[0]).toBeCloseTo(0.5, 6)
    expect(s.std[1]).toBe(1) // a flat channel is only centred
    expect(s.std[2]).toBeCloseTo(Math.sqrt(0.25 * 0.75), 6)
  })
})

describe('augmentBatch and normalizeBatch', () => {
  const img = () => tf.tensor4d(Array.from({ length: 2 * 4 * 4 * 1 }, (_, i) => (i % 16) + 1), [2, 4, 4, 1])

  it('random crops are exact shifts of the zero-padded image, flips are mirror images, seeded', () => {
    const x = img()
    const out = augmentBatch(x, { cropPadding: 1, flip: false }, null, createRng(3))
    const got = out.arraySync() as number[][][][]
    const src = x.arraySync() as number[][][][]
    for (let n = 0; n < 2; n++) {
      // Some shift (dy, dx) in -1..1 explains every pixel exactly.
      const fits = [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => [dy, dx])).some(([dy, dx]) =>
        got[n].every((row, y) => row.every((v, xx) => v[0] === (src[n][y + dy]?.[xx + dx]?.[0] ?? 0)))
      )
      expect(fits).toBe(true)
    }
    const again = augmentBatch(x, { cropPadding: 1, flip: false }, null, createRng(3))
    expect(again.arraySync()).toEqual(got)
    const flipped = augmentBatch(x, { cropPadding: 0, flip: true }, null, () => 0.1).arraySync() as number[][][][]
    expect(flipped[0][0].map((v) => v[0])).toEqual([4, 3, 2, 1])
    const kept = augmentBatch(x, { cropPadding: 0, flip: true }, null, () => 0.9).arraySync()
    expect(kept).toEqual(src)
  })

  it('pads black in pixel terms after normalisation (-mean/std), as torchvision crops before Normalize', () => {
    const x = normalizeBatch(tf.ones([1, 2, 2, 1]) as tf.Tensor4D, { mean: [0.5], std: [0.25] })
    expect(Array.from(x.dataSync())).toEqual([2, 2, 2, 2])
    // Offsets 0,0 of a 1-padded 2x2: the top-left pixel of the crop is padding.
    const out = augmentBatch(x, { cropPadding: 1, flip: false }, { mean: [0.5], std: [0.25] }, () => 0).arraySync() as number[][][][]
    expect(out[0][0][0][0]).toBeCloseTo(-2, 5)
    expect(out[0][1][1][0]).toBeCloseTo(2, 5)
  })
})
