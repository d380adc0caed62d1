// The in-memory form of a dataset: raw IDX bytes, no normalisation. Training, evaluation and the
// UI's sample grids all read these arrays; converting to floats is the model input's job.
import type { DatasetStyle } from '../../shared/schemas'

export interface ImageSet {
  /** count*height*width*channels bytes as in IDX: 0 = background, 255 = ink; colour is
   *  interleaved RGB per pixel (HWC, tfjs' layout). */
  images: Uint8Array
  labels: Uint8Array
  count: number
  height: number
  width: number
  /** 1 (gray, every IDX set) or 3 (RGB: image folders, CIFAR-10); absent means 1. */
  channels?: 1 | 3
}

/** Bytes of one image of a set. */
export function imageBytes(set: Pick<ImageSet, 'height' | 'width' | 'channels'>): number {
  return set.height * set.width * (set.channels ?? 1)
}

export interface DatasetArrays {
  id: string
  title: string
  classes: string[]
  style: DatasetStyle
  train: ImageSet
  test: ImageSet
}
