// The photo-set transforms of the torchvision CIFAR recipes, on a batch tensor (NHWC):
// RandomCrop(size, padding=p) then RandomHorizontalFlip(), drawn from a seeded stream so a run
// repeats exactly; and Normalize(mean, std). Training applies augmentation to its batches only;
// normalisation is applied everywhere the network sees pixels (training, evaluation, prediction).
import * as tf from '@tensorflow/tfjs'
import type { Augment, Normalize } from '../../shared/schemas'

/** (x - mean) / std per channel; x itself when `n` is null. */
export function normalizeBatch(x: tf.Tensor4D, n: Normalize | 'dataset' | null): tf.Tensor4D {
  if (!n) return x
  if (n === 'dataset') throw new RangeError("normalize: 'dataset' must be resolved to numbers first (channelStats)")
  const c = x.shape[3]
  if (n.mean.length !== c || n.std.length !== c) throw new RangeError(`normalize: ${n.mean.length} means and ${n.std.length} stds for ${c} channels`)
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(n.mean)), tf.tensor1d(n.std)) as tf.Tensor4D)
}

/**
 * Random crops of the zero-padded images (zero in pixel terms: black, as torchvision pads before
 * ToTensor/Normalize, so the pad is -mean/std after normalisation) and random mirror images.
 * `rng` draws two offsets and a coin per example.
 */
export function augmentBatch(x: tf.Tensor4D, a: Augment, n: Normalize | 'dataset' | null, rng: () => number): tf.Tensor4D {
  if (n === 'dataset') throw new RangeError("normalize: 'dataset' must be resolved to numbers first (channelStats)")
  if (a.cropPadding === 0 && !a.flip) return x
  return tf.tidy(() => {
    const [count, h, w, c] = x.shape
    let out = x
    if (a.cropPadding > 0) {
      const p = a.cropPadding
      const pad = n ? tf.tensor1d(n.mean.map((m, k) => -m / n.std[k])) : tf.zeros([c])
      const padded = tf.add(tf.pad(tf.sub(out, pad), [[0, 0], [p, p], [p, p], [0, 0]]), pad) as tf.Tensor4D
      const H = h + 2 * p
      const W = w + 2 * p
      const boxes: number[] = []
      for (let i = 0; i < count; i++) {
        const oy = Math.floor(rng() * (2 * p + 1))
        const ox = Math.floor(rng() * (2 * p + 1))
        // Integer pixel boxes sampled at their own size: cropAndResize copies them exactly.
        boxes.push(oy / (H - 1), ox / (W - 1), (oy + h - 1) / (H - 1), (ox + w - 1) / (W - 1))
      }
      out = tf.image.cropAndResize(padded, tf.tensor2d(boxes, [count, 4]), tf.range(0, count, 1, 'int32') as tf.Tensor1D, [h, w], 'bilinear')
    }
    if (a.flip) {
      const coins: number[] = []
      for (let i = 0; i < count; i++) coins.push(rng() < 0.5 ? 1 : 0)
      const mask = tf.tensor4d(coins, [count, 1, 1, 1], 'bool')
      out = tf.where(tf.broadcastTo(mask, out.shape), tf.reverse(out, 2), out) as tf.Tensor4D
    }
    return out
  })
}
