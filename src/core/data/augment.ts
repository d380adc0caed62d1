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
    const p = a.cropPadding
    const H = h + 2 * p
    const W = w + 2 * p
    let src = x
    if (p > 0) {
      const pad = n ? tf.tensor1d(n.mean.map((m, k) => -m / n.std[k])) : tf.zeros([c])
      src = tf.add(tf.pad(tf.sub(x, pad), [[0, 0], [p, p], [p, p], [0, 0]]), pad) as tf.Tensor4D
    }
    // One gather with indices drawn here: every output pixel is a copy of one input pixel (no
    // interpolation, so a crop is an exact shift and a flip an exact mirror).
    const index = new Int32Array(count * h * w)
    for (let i = 0, o = 0; i < count; i++) {
      const oy = p > 0 ? Math.floor(rng() * (2 * p + 1)) : 0
      const ox = p > 0 ? Math.floor(rng() * (2 * p + 1)) : 0
      const mirror = a.flip && rng() < 0.5
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++, o++) index[o] = (i * H + oy + y) * W + ox + (mirror ? w - 1 - xx : xx)
    }
    return tf.reshape(tf.gather(tf.reshape(src, [count * H * W, c]), tf.tensor1d(index, 'int32')), [count, h, w, c]) as tf.Tensor4D
  })
}
