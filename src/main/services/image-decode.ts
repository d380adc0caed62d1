// Turns the bytes of a dropped file into RGBA pixels, or into a sentence that says what is wrong
// with the file. Size limits are checked on the header, before anything is decoded, so a hostile
// or accidental 20000x20000 image costs milliseconds, not gigabytes.
import sharp from 'sharp'
import { StudioError, type ErrorCode } from '../../shared/contract'
import { readRegularFile, SafeReadError } from '../storage/safe-read'

export const MAX_FILE_BYTES = 30 * 1024 * 1024
export const MAX_PIXELS = 50_000_000
/** Smallest side that can hold a recognisable digit. */
export const MIN_SIDE = 8
/** Longest side the pipeline works on; larger pictures are shrunk while decoding (JPEG shrinks on load). */
export const WORK_SIDE = 512

export type ImageProblem =
  | 'empty'
  | 'not_image'
  | 'truncated'
  | 'too_small'
  | 'too_large'
  | 'unsupported'
  | 'undecodable'
  | 'no_ink'
  | 'missing'
  | 'not_file'
  | 'unreadable'

const codeOf: Record<ImageProblem, ErrorCode> = {
  empty: 'invalid_argument',
  not_image: 'invalid_argument',
  truncated: 'data_error',
  too_small: 'invalid_argument',
  too_large: 'too_large',
  unsupported: 'invalid_argument',
  undecodable: 'data_error',
  no_ink: 'data_error',
  missing: 'not_found',
  not_file: 'invalid_argument',
  unreadable: 'storage_error'
}

/** A StudioError that also says which kind of problem the file has, for callers and tests
 *  ('no_ink' is raised after decoding, by the predictor, for a picture with nothing on it). */
export class ImageDecodeError extends StudioError {
  constructor(
    readonly problem: ImageProblem,
    readonly fileName: string,
    message: string
  ) {
    super(codeOf[problem], `${fileName}: ${message}`)
    this.name = 'ImageDecodeError'
  }
}

/**
 * An image file's bytes, read through the safe reader: a FIFO or a device (/dev/zero) is refused at
 * once instead of hanging or filling memory, and nothing past MAX_FILE_BYTES is read.
 */
export function readImageFile(path: string): Uint8Array {
  try {
    return readRegularFile(path, MAX_FILE_BYTES)
  } catch (err) {
    if (!(err instanceof SafeReadError)) throw err
    const problem: ImageProblem = err.problem === 'too_large' ? 'too_large' : err.problem
    throw new ImageDecodeError(problem, path, `${err.reason}.`)
  }
}

export interface DecodedImage {
  /** width*height*4 bytes. */
  rgba: Uint8Array
  width: number
  height: number
  format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff'
  /** Size of the picture in the file, before any shrinking. */
  originalWidth: number
  originalHeight: number
}

const readable = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff'])
const READABLE_TEXT = 'PNG, JPEG, WebP, GIF or TIFF'

/** Formats people drop that we recognise by their first bytes but do not read. */
function sniffUnsupported(b: Uint8Array): string | null {
  const ascii = (start: number, text: string): boolean =>
    b.length >= start + text.length && [...text].every((ch, i) => b[start + i] === ch.charCodeAt(0))
  if (ascii(0, 'BM')) return 'BMP'
  if (ascii(4, 'ftypheic') || ascii(4, 'ftypheix') || ascii(4, 'ftypmif1')) return 'HEIC'
  if (ascii(4, 'ftypavif')) return 'AVIF'
  if (ascii(0, '%PDF')) return 'PDF'
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && (b[2] === 1 || b[2] === 2) && b[3] === 0) return 'ICO/CUR'
  const head = new TextDecoder().decode(b.subarray(0, 256)).trimStart().toLowerCase()
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'SVG'
  return null
}

export async function decodeImage(fileName: string, bytes: Uint8Array): Promise<DecodedImage> {
  if (bytes.length === 0) throw new ImageDecodeError('empty', fileName, 'the file is empty (0 bytes).')
  if (bytes.length > MAX_FILE_BYTES) {
    throw new ImageDecodeError('too_large', fileName, `the file is ${mb(bytes.length)}; the limit is ${mb(MAX_FILE_BYTES)}.`)
  }
  const unsupported = sniffUnsupported(bytes)
  if (unsupported) {
    throw new ImageDecodeError('unsupported', fileName, `${unsupported} images are not supported; save it as ${READABLE_TEXT}.`)
  }

  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let meta: sharp.Metadata
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata()
  } catch {
    throw new ImageDecodeError('not_image', fileName, `this is not an image: its bytes are not ${READABLE_TEXT}.`)
  }
  const format = meta.format
  if (!format || !readable.has(format)) {
    throw new ImageDecodeError('unsupported', fileName, `${(format ?? 'this').toUpperCase()} images are not supported; save it as ${READABLE_TEXT}.`)
  }
  const width = meta.width ?? 0
  const height = meta.height ?? 0
  if (width * height > MAX_PIXELS) {
    throw new ImageDecodeError(
      'too_large',
      fileName,
      `the image is ${width}x${height} (${(width * height / 1e6).toFixed(0)} megapixels); the limit is ${MAX_PIXELS / 1e6} megapixels. Crop or shrink it first.`
    )
  }
  if (width < MIN_SIDE || height < MIN_SIDE) {
    throw new ImageDecodeError('too_small', fileName, `the image is ${width}x${height} pixels: too small to hold a digit (at least ${MIN_SIDE}x${MIN_SIDE} is needed).`)
  }

  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_PIXELS, failOn: 'truncated', pages: 1 })
      // Phones store photos sideways and say so in EXIF; people expect what they see.
      .rotate()
      .resize({ width: WORK_SIDE, height: WORK_SIDE, fit: 'inside', withoutEnlargement: true })
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    if (info.channels !== 4) throw new Error(`expected 4 channels, got ${info.channels}`)
    return {
      rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
      format: format as DecodedImage['format'],
      originalWidth: width,
      originalHeight: height
    }
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err)
    if (/premature end|truncat|end of (file|stream|data)|unexpected end|not enough data|read error|corrupt/i.test(text)) {
      throw new ImageDecodeError('truncated', fileName, `the ${format.toUpperCase()} data is truncated or damaged (${firstLine(text)}).`)
    }
    throw new ImageDecodeError('undecodable', fileName, `the ${format.toUpperCase()} image could not be decoded (${firstLine(text)}).`)
  }
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim().slice(0, 200)
}
