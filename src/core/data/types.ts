// The in-memory form of a dataset: raw IDX bytes, no normalisation. Training, evaluation and the
// UI's sample grids all read these arrays; converting to floats is the model input's job.
import type { DatasetStyle } from '../../shared/schemas'

export interface ImageSet {
  /** count*height*width bytes as in IDX: 0 = background, 255 = ink. */
  images: Uint8Array
  labels: Uint8Array
  count: number
  height: number
  width: number
}

export interface DatasetArrays {
  id: string
  title: string
  classes: string[]
  style: DatasetStyle
  train: ImageSet
  test: ImageSet
}
