// Per-channel mean/std of a training split (torchvision's transforms.Normalize(mean, std) with the
// values people compute from their own data), in the [0, 1] pixel scale the model input uses.
import type { ImageSet } from './types'

export interface ChannelStats {
  mean: number[]
  std: number[]
}

/** Population mean and standard deviation per channel over every pixel of the set (one pass, exact sums). */
export function channelStats(set: ImageSet): ChannelStats {
  const c = set.channels ?? 1
  const sum = new Float64Array(c)
  const sq = new Float64Array(c)
  const px = set.images
  const total = set.count * set.height * set.width * c
  if (set.count === 0) throw new RangeError('channelStats: the set holds no images')
  // A histogram per channel: sums of bytes are exact and the pass is one increment per pixel.
  const hist = Array.from({ length: c }, () => new Float64Array(256))
  for (let i = 0; i < total; i += c) for (let k = 0; k < c; k++) hist[k][px[i + k]]++
  const n = set.count * set.height * set.width
  const mean: number[] = []
  const std: number[] = []
  for (let k = 0; k < c; k++) {
    for (let v = 0; v < 256; v++) {
      sum[k] += hist[k][v] * v
      sq[k] += hist[k][v] * v * v
    }
    const m = sum[k] / n
    const variance = Math.max(0, sq[k] / n - m * m)
    mean.push(round6(m / 255))
    // A flat channel (every pixel equal) would divide by zero: 1 leaves it merely centred.
    std.push(variance > 0 ? round6(Math.sqrt(variance) / 255) : 1)
  }
  return { mean, std }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6
}
