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
  format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'bmp'
  /** Size of the picture in the file, before any shrinking. */
  originalWidth: number
  originalHeight: number
}

const readable = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff'])
const READABLE_TEXT = 'PNG, JPEG, WebP, GIF, BMP or TIFF'

/** Formats people drop that we recognise by their first bytes but do not read. */
function sniffUnsupported(b: Uint8Array): string | null {
  const ascii = (start: number, text: string): boolean =>
    b.length >= start + text.length && [...text].every((ch, i) => b[start + i] === ch.charCodeAt(0))
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

  if (isBmp(bytes)) {
    const bmp = decodeBmp(fileName, bytes)
    const { data, info } = await sharp(Buffer.from(bmp.rgba.buffer, bmp.rgba.byteOffset, bmp.rgba.byteLength), { raw: { width: bmp.width, height: bmp.height, channels: 4 } })
      .resize({ width: WORK_SIDE, height: WORK_SIDE, fit: 'inside', withoutEnlargement: true })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    return { rgba: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, format: 'bmp', originalWidth: bmp.width, originalHeight: bmp.height }
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

// ---------------------------------------------------------------------------------------------
// BMP: libvips as sharp ships it cannot read BMP, and Windows users have folders of them. The
// uncompressed kinds (1/4/8-bit palette, 16/24/32-bit, BI_RGB or BI_BITFIELDS) are decoded here;
// RLE and embedded JPEG/PNG are refused with the reason.

export function isBmp(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d
}

/** RGBA pixels of a BMP file, top row first. */
export function decodeBmp(fileName: string, b: Uint8Array): { rgba: Uint8Array; width: number; height: number } {
  const fail = (problem: ImageProblem, why: string): never => {
    throw new ImageDecodeError(problem, fileName, why)
  }
  if (b.length < 26) fail('truncated', 'the BMP header is truncated.')
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const dataOffset = v.getUint32(10, true)
  const dib = v.getUint32(14, true)
  if (dib < 40) fail('unsupported', 'OS/2 BMP files are not supported; save it as PNG.')
  if (b.length < 14 + dib) fail('truncated', 'the BMP header is truncated.')
  const width = v.getInt32(18, true)
  const rawHeight = v.getInt32(22, true)
  const bpp = v.getUint16(28, true)
  const compression = v.getUint32(30, true)
  const height = Math.abs(rawHeight)
  const topDown = rawHeight < 0
  if (width <= 0 || height <= 0) fail('undecodable', `the BMP header says ${width}x${rawHeight} pixels.`)
  if (width * height > MAX_PIXELS) fail('too_large', `the image is ${width}x${height}; the limit is ${MAX_PIXELS / 1e6} megapixels.`)
  if (width < MIN_SIDE || height < MIN_SIDE) fail('too_small', `the image is ${width}x${height} pixels (at least ${MIN_SIDE}x${MIN_SIDE} is needed).`)
  if (compression !== 0 && compression !== 3) fail('unsupported', `compressed BMP files (method ${compression}) are not supported; save it as PNG.`)
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) fail('unsupported', `${bpp}-bit BMP files are not supported.`)
  let masks: [number, number, number, number] | null = null
  if (bpp === 16 || bpp === 32) {
    if (compression === 3) {
      const at = dib >= 52 ? 54 : 14 + dib
      if (b.length < at + 12) fail('truncated', 'the BMP colour masks are truncated.')
      masks = [v.getUint32(at, true), v.getUint32(at + 4, true), v.getUint32(at + 8, true), dib >= 56 ? v.getUint32(at + 12, true) : 0]
    } else masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0xff0000, 0xff00, 0xff, 0]
  }
  const paletteAt = 14 + dib + (compression === 3 && dib === 40 ? 12 : 0)
  const colours = bpp <= 8 ? v.getUint32(46, true) || 1 << bpp : 0
  if (bpp <= 8 && b.length < paletteAt + 4 * colours) fail('truncated', 'the BMP palette is truncated.')
  const stride = Math.ceil((width * bpp) / 32) * 4
  if (dataOffset + stride * height > b.length) fail('truncated', `the BMP pixel data is truncated (${b.length} bytes; its header needs ${dataOffset + stride * height}).`)
  const field = (px: number, mask: number): number => {
    if (mask === 0) return 255
    let shift = 0
    while (((mask >>> shift) & 1) === 0) shift++
    const max = mask >>> shift
    return Math.round((((px & mask) >>> shift) * 255) / max)
  }
  const rgba = new Uint8Array(width * height * 4)
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4
      if (bpp <= 8) {
        const bit = x * bpp
        let idx = (b[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1)
        if (idx >= colours) idx = 0
        const p = paletteAt + 4 * idx
        rgba[o] = b[p + 2]
        rgba[o + 1] = b[p + 1]
        rgba[o + 2] = b[p]
        rgba[o + 3] = 255
      } else if (bpp === 24) {
        const p = row + 3 * x
        rgba[o] = b[p + 2]
        rgba[o + 1] = b[p + 1]
        rgba[o + 2] = b[p]
        rgba[o + 3] = 255
      } else {
        const px = bpp === 16 ? v.getUint16(row + 2 * x, true) : v.getUint32(row + 4 * x, true)
        const [r, g, bl, a] = masks!
        rgba[o] = field(px, r)
        rgba[o + 1] = field(px, g)
        rgba[o + 2] = field(px, bl)
        rgba[o + 3] = field(px, a)
      }
    }
  }
  return { rgba, width, height }
}

// ---------------------------------------------------------------------------------------------
// Images of a dataset: every picture becomes size x size pixels of 1 or 3 channels, the way the
// import and the prediction of a photo set both do it (one function, so they cannot differ).

export type ResizePolicy = 'stretch' | 'fit' | 'crop'

export interface ProbedImage {
  format: DecodedImage['format']
  width: number
  height: number
  /** The file stores colour (not only gray levels). */
  colour: boolean
}

/** Header facts of a file (sharp reads the header only), or an ImageDecodeError saying why it is no image. */
export async function probeImage(fileName: string, bytes: Uint8Array): Promise<ProbedImage> {
  if (bytes.length === 0) throw new ImageDecodeError('empty', fileName, 'the file is empty (0 bytes).')
  if (bytes.length > MAX_FILE_BYTES) throw new ImageDecodeError('too_large', fileName, `the file is ${mb(bytes.length)}; the limit is ${mb(MAX_FILE_BYTES)}.`)
  if (isBmp(bytes)) {
    const bmp = decodeBmp(fileName, bytes)
    let colour = false
    for (let i = 0; i < bmp.rgba.length && !colour; i += 4) colour = bmp.rgba[i] !== bmp.rgba[i + 1] || bmp.rgba[i + 1] !== bmp.rgba[i + 2]
    return { format: 'bmp', width: bmp.width, height: bmp.height, colour }
  }
  const unsupported = sniffUnsupported(bytes)
  if (unsupported) throw new ImageDecodeError('unsupported', fileName, `${unsupported} images are not supported; save it as ${READABLE_TEXT}.`)
  let meta: sharp.Metadata
  try {
    meta = await sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { limitInputPixels: false }).metadata()
  } catch {
    throw new ImageDecodeError('not_image', fileName, `this is not an image: its bytes are not ${READABLE_TEXT}.`)
  }
  if (!meta.format || !readable.has(meta.format))
    throw new ImageDecodeError('unsupported', fileName, `${(meta.format ?? 'this').toUpperCase()} images are not supported; save it as ${READABLE_TEXT}.`)
  const width = meta.width ?? 0
  const height = meta.height ?? 0
  if (width * height > MAX_PIXELS) throw new ImageDecodeError('too_large', fileName, `the image is ${width}x${height}; the limit is ${MAX_PIXELS / 1e6} megapixels.`)
  if (width < 1 || height < 1) throw new ImageDecodeError('undecodable', fileName, 'the image has no pixels.')
  const colour = (meta.channels ?? 1) >= 3 && meta.space !== 'b-w' && meta.space !== 'grey16'
  return { format: meta.format as DecodedImage['format'], width, height, colour }
}

/** size*size*channels bytes (HWC), alpha flattened onto black, as `policy` frames it. */
export async function decodeForDataset(
  fileName: string,
  bytes: Uint8Array,
  o: { size: number; channels: 1 | 3; policy: ResizePolicy }
): Promise<Uint8Array> {
  let img: sharp.Sharp
  if (isBmp(bytes)) {
    const bmp = decodeBmp(fileName, bytes)
    img = sharp(Buffer.from(bmp.rgba.buffer, bmp.rgba.byteOffset, bmp.rgba.byteLength), { raw: { width: bmp.width, height: bmp.height, channels: 4 } })
  } else {
    // Phones store photos sideways and say so in EXIF; people expect what they see.
    img = sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { limitInputPixels: MAX_PIXELS, failOn: 'truncated', pages: 1 }).rotate()
  }
  const fit = o.policy === 'stretch' ? 'fill' : o.policy === 'fit' ? 'contain' : 'cover'
  try {
    const { data, info } = await img
      .flatten({ background: '#000000' })
      .resize(o.size, o.size, { fit, background: '#000000', position: 'centre' })
      .toColourspace(o.channels === 1 ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    if (info.channels === o.channels) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    // A gray picture asked for in colour comes back with one channel: repeat it.
    if (info.channels === 1 && o.channels === 3) {
      const out = new Uint8Array(data.length * 3)
      for (let i = 0; i < data.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = data[i]
      return out
    }
    throw new Error(`expected ${o.channels} channels, got ${info.channels}`)
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err)
    // The header read fine (probeImage): a failure now is damage in the pixel data, whatever
    // words libvips finds for it ('Unknown error' for a PNG cut in half).
    throw new ImageDecodeError('truncated', fileName, `the image data is truncated or damaged (${firstLine(text)}).`)
  }
}
