// Kernels that make convolutional networks train on @tensorflow/tfjs-backend-wasm 4.22.
//
// * Conv2DBackpropFilter is missing from the wasm backend, so any conv layer fails at its first
//   training step ("Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'").
// * Conv2DBackpropInput exists but is a plain C++ loop, 5-15x slower than the forward convolution
//   (XNNPACK): it dominated a LeNet-5 step.
//
// * BatchMatMul / _FusedMatMul with a transposed operand and AvgPoolGrad exist but are slow loops
//   (see below); they are wrapped to reach XNNPACK-backed kernels.
//
// Both convolution gradients are themselves convolutions, so both are built from the wasm backend's fast Conv2D:
//
//   dW[i,j,ci,co] = sum_{n,p,q} xPad[n, p*s+i, q*s+j, ci] * dy[n,p,q,co]
//     = a stride-1 convolution of xPad with channels and batch swapped ([Cin,H,W,N]) by the filter
//       dy as [oh,ow,N,Cout], with dilation s: output [Cin,fh,fw,Cout].
//   dx = the full correlation of dy (zero-dilated by the stride) with the filter rotated by 180
//     degrees and its in/out channels swapped.
//
// Measured on a 2-core EPYC (wasm SIMD, one thread), LeNet-5 shapes at batch 256:
// filter gradient via dilated conv ~19 ms vs ~390 ms for a slice + transposed MatMul loop (im2col).
// The kernels compose tfjs ops inside a tidy; ops called from inside a kernel are not recorded on
// the gradient tape (the engine only records at kernel depth 0), and a Tensor returned by a kernel
// becomes the op's output as is.
import * as tf from '@tensorflow/tfjs'

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding
type DataFormat = 'NHWC' | 'NCHW'

interface BackpropFilterAttrs {
  strides: [number, number] | number
  pad: Pad
  dataFormat: DataFormat
  dimRoundingMode?: 'floor' | 'round' | 'ceil'
  filterShape: [number, number, number, number]
}

interface BackpropInputAttrs {
  strides: [number, number] | number
  pad: Pad
  dataFormat: DataFormat
  dimRoundingMode?: 'floor' | 'round' | 'ceil'
  inputShape: [number, number, number, number]
}

export class WasmKernelError extends Error {
  override name = 'WasmKernelError'
}

function asTensor4D(value: unknown, kernel: string, input: string): tf.Tensor4D {
  // The engine hands kernels the op's own Tensors; a raw TensorInfo would mean an internal caller
  // this module was not written for, and treating it as a Tensor would corrupt reference counts.
  if (!(value instanceof tf.Tensor)) throw new WasmKernelError(`${kernel}: input '${input}' is not a Tensor`)
  if (value.rank !== 4) throw new WasmKernelError(`${kernel}: input '${input}' must be rank 4, got shape [${value.shape.join(', ')}]`)
  return value as tf.Tensor4D
}

/** Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let y = x
  if (top > 0 || bottom > 0 || left > 0 || right > 0) {
    y = tf.pad(y, [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]])
  }
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = y.shape
    const t = Math.max(-top, 0)
    const l = Math.max(-left, 0)
    y = tf.slice(y, [0, t, l, 0], [n, h - t - Math.max(-bottom, 0), w - l - Math.max(-right, 0), c])
  }
  return y
}

/** Inserts (s-1) zeros between neighbouring rows and columns: [N,H,W,C] -> [N,(H-1)*sh+1,(W-1)*sw+1,C]. */
function dilate(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape
  let y: tf.Tensor4D = x
  if (sh > 1) {
    const rows = tf.pad(tf.reshape(y, [n * h, 1, w * c]), [[0, 0], [0, sh - 1], [0, 0]])
    y = tf.slice(tf.reshape(rows, [n, h * sh, w, c]), [0, 0, 0, 0], [n, (h - 1) * sh + 1, w, c]) as tf.Tensor4D
  }
  if (sw > 1) {
    const hh = y.shape[1]
    const cols = tf.pad(tf.reshape(y, [n * hh * w, 1, c]), [[0, 0], [0, sw - 1], [0, 0]])
    y = tf.slice(tf.reshape(cols, [n, hh, w * sw, c]), [0, 0, 0, 0], [n, hh, (w - 1) * sw + 1, c]) as tf.Tensor4D
  }
  return y
}

function toNHWC(x: tf.Tensor4D, dataFormat: DataFormat): tf.Tensor4D {
  return dataFormat === 'NCHW' ? tf.transpose(x, [0, 2, 3, 1]) : x
}

function convInfo(xShape: [number, number, number, number], filterShape: [number, number, number, number], attrs: BackpropFilterAttrs | BackpropInputAttrs) {
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false,
    attrs.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast')
}

/** dW of a 2-D convolution, as the wasm backend is missing it. */
export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, attrs: BackpropFilterAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, attrs.filterShape, attrs)
    const [fh, fw] = attrs.filterShape
    const { top, left } = info.padInfo
    const xs = toNHWC(x, attrs.dataFormat)
    const dys = toNHWC(dy, attrs.dataFormat)
    // Rows/columns beyond the last window never touch the output; cropping them keeps the dilated
    // convolution's output exactly fh x fw.
    const usedH = (info.outHeight - 1) * info.strideHeight + fh
    const usedW = (info.outWidth - 1) * info.strideWidth + fw
    const padded = padOrCrop(xs, top, usedH - xs.shape[1] - top, left, usedW - xs.shape[2] - left)
    const images = tf.transpose(padded, [3, 1, 2, 0]) // [Cin, H', W', N]: N becomes the channel axis
    const filter = tf.transpose(dys, [1, 2, 0, 3]) as tf.Tensor4D // [oh, ow, N, Cout]
    const dw = tf.conv2d(images, filter, 1, 'valid', 'NHWC', [info.strideHeight, info.strideWidth]) // [Cin, fh, fw, Cout]
    return tf.transpose(dw, [1, 2, 0, 3])
  })
}

/** dx of a 2-D convolution; replaces the wasm backend's slow loop. */
export function conv2dBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, attrs: BackpropInputAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(attrs.inputShape, filter.shape, attrs)
    const [fh, fw] = filter.shape
    const { top, left } = info.padInfo
    const [n, h, w, cin] = attrs.dataFormat === 'NCHW'
      ? [attrs.inputShape[0], attrs.inputShape[2], attrs.inputShape[3], attrs.inputShape[1]]
      : attrs.inputShape
    const dys = dilate(toNHWC(dy, attrs.dataFormat), info.strideHeight, info.strideWidth)
    // Full correlation, cut to the input's extent: row h of dx sums dyDilated[h + top - i] * W[i].
    const padTop = fh - 1 - top
    const padLeft = fw - 1 - left
    const framed = padOrCrop(dys, padTop, h + fh - 1 - padTop - dys.shape[1], padLeft, w + fw - 1 - padLeft - dys.shape[2])
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D // [fh, fw, Cout, Cin]
    const dx = tf.conv2d(framed, rotated, 1, 'valid')
    if (dx.shape[0] !== n || dx.shape[3] !== cin) {
      throw new WasmKernelError(`Conv2DBackpropInput: computed [${dx.shape.join(', ')}] for input shape [${attrs.inputShape.join(', ')}]`)
    }
    return attrs.dataFormat === 'NCHW' ? tf.transpose(dx, [0, 3, 1, 2]) : dx
  })
}

const BACKEND = 'wasm'
/** The wasm backend's own kernels that the wrappers below hand the cases they do not speed up to. */
const originalKernels = new Map<string, tf.KernelFunc>()

// wasm's BatchMatMul/_FusedMatMul reach XNNPACK only without transposes; with transposeA or
// transposeB (both used by every dense layer's backward pass) they run a loop 10-20x slower
// (256x400 @ 400x120: 1.2 ms plain, 24 ms transposeA). Transposing the operand first is cheap.
function transposeLastTwo(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i)
  const r = perm.length
  ;[perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]]
  return tf.transpose(x, perm)
}

function untransposedMatMul(kernelName: string): tf.KernelFunc {
  return (args) => {
    const original = originalKernels.get(kernelName)
    if (!original) throw new WasmKernelError(`${kernelName}: the wasm backend's own kernel was not found`)
    const attrs = args.attrs as { transposeA: boolean; transposeB: boolean }
    if (!attrs.transposeA && !attrs.transposeB) return original(args)
    const { a, b } = args.inputs
    if (!(a instanceof tf.Tensor) || !(b instanceof tf.Tensor)) throw new WasmKernelError(`${kernelName}: inputs are not Tensors`)
    const a2 = attrs.transposeA ? transposeLastTwo(a) : a
    const b2 = attrs.transposeB ? transposeLastTwo(b) : b
    try {
      return original({ ...args, inputs: { ...args.inputs, a: a2, b: b2 }, attrs: { ...args.attrs, transposeA: false, transposeB: false } })
    } finally {
      if (a2 !== a) a2.dispose()
      if (b2 !== b) b2.dispose()
    }
  }
}

// wasm's AvgPoolGrad is a loop ~12x slower than its AvgPool (LeNet's first pooling: 19.6 ms). For
// non-overlapping windows (pool size = stride, no padding: LeNet's 2/2) the gradient is dy spread
// evenly over each window, i.e. a broadcast multiply; other shapes keep the backend's kernel.
function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v
}

const avgPoolGradKernel: tf.KernelFunc = (args) => {
  const attrs = args.attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: unknown }
  const [fh, fw] = pair(attrs.filterSize)
  const [sh, sw] = pair(attrs.strides)
  const original = originalKernels.get(tf.AvgPoolGrad)
  const dy = args.inputs.dy
  const input = args.inputs.input
  const tiled = fh === sh && fw === sw && attrs.pad === 'valid' && dy instanceof tf.Tensor && dy.rank === 4 && input !== undefined
  if (!tiled) {
    if (!original) throw new WasmKernelError('AvgPoolGrad: the wasm backend\'s own kernel was not found')
    return original(args)
  }
  const [n, oh, ow, c] = (dy as tf.Tensor4D).shape
  const [, h, w] = input.shape
  return tf.tidy(() => {
    const spread = tf.mul(tf.reshape(dy, [n, oh, 1, ow, 1, c]), tf.fill([1, 1, fh, 1, fw, 1], 1 / (fh * fw)))
    const dx = tf.reshape(spread, [n, oh * fh, ow * fw, c]) as tf.Tensor4D
    // Rows and columns past the last full window got no gradient.
    return padOrCrop(dx, 0, h - oh * fh, 0, w - ow * fw)
  })
}

// wasm's MaxPoolGrad gives wrong gradients (tfjs-backend-wasm 4.22; max error 2.3 on unit-normal
// inputs against the cpu backend, which made Grad-CAM, saliency and training through max-pooling
// wrong there). The gradient goes to each window's first maximum (row-major scan, as the cpu
// backend routes it), for any valid windows:
//  * tiled windows (pool = stride, LeNet's 2/2): one reshape puts each window on its own axis;
//  * other strides (AlexNet's overlapping 3/2): each of the fh*fw window offsets is a strided view
//    of the input; the first maximum is picked across those views, and each view's share of dy is
//    put back at its strided positions (zero-dilated, shifted) and summed, so a pixel that is the
//    maximum of two overlapping windows gets both gradients, as it must.
const maxPoolGradKernel: tf.KernelFunc = (args) => {
  const attrs = args.attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: unknown; dimRoundingMode?: unknown }
  const [fh, fw] = pair(attrs.filterSize)
  const [sh, sw] = pair(attrs.strides)
  const dy = args.inputs.dy
  const input = args.inputs.input
  const original = originalKernels.get(tf.MaxPoolGrad)
  if (!(dy instanceof tf.Tensor) || !(input instanceof tf.Tensor) || dy.rank !== 4 || attrs.pad !== 'valid' || attrs.dimRoundingMode != null) {
    if (!original) throw new WasmKernelError("MaxPoolGrad: the wasm backend's own kernel was not found")
    return original(args)
  }
  const x = input as tf.Tensor4D
  const [n, oh, ow, c] = (dy as tf.Tensor4D).shape
  const [, h, w] = x.shape
  if (fh === sh && fw === sw) {
    return tf.tidy(() => {
      const windows = tf.slice(x, [0, 0, 0, 0], [n, oh * fh, ow * fw, c])
      // [n, oh, ow, c, fh*fw]: each window's values in row-major order, as the cpu backend scans them.
      const flat = tf.reshape(tf.transpose(tf.reshape(windows, [n, oh, fh, ow, fw, c]), [0, 1, 3, 5, 2, 4]), [n, oh, ow, c, fh * fw])
      const first = tf.oneHot(tf.argMax(flat, 4), fh * fw)
      const spread = tf.mul(first, tf.reshape(dy, [n, oh, ow, c, 1]))
      const dx = tf.reshape(tf.transpose(tf.reshape(spread, [n, oh, ow, c, fh, fw]), [0, 1, 4, 2, 5, 3]), [n, oh * fh, ow * fw, c]) as tf.Tensor4D
      return padOrCrop(dx, 0, h - oh * fh, 0, w - ow * fw)
    })
  }
  return tf.tidy(() => {
    const offsets: [number, number][] = []
    for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) offsets.push([i, j])
    // views[k][b, p, q, ch] = x[b, p*sh + i, q*sw + j, ch] for offset k = (i, j).
    const views = offsets.map(([i, j]) => tf.stridedSlice(x, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c], [1, sh, sw, 1]))
    const first = tf.oneHot(tf.argMax(tf.stack(views, 4), 4), fh * fw)
    const shares = tf.unstack(tf.mul(first, tf.reshape(dy, [n, oh, ow, c, 1])), 4)
    const placed = offsets.map(([i, j], k) => {
      // Zero-dilate by the stride: [n, oh, 1, ow, 1, c] padded to [n, oh, sh, ow, sw, c], then crop the tail.
      const spaced = tf.reshape(tf.pad(tf.reshape(shares[k], [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]), [n, oh * sh, ow * sw, c]) as tf.Tensor4D
      const dilated = tf.slice(spaced, [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]) as tf.Tensor4D
      return padOrCrop(dilated, i, h - i - dilated.shape[1], j, w - j - dilated.shape[2])
    })
    return tf.addN(placed)
  })
}

const matMulKernels = new Map<string, tf.KernelFunc>([
  [tf.BatchMatMul, untransposedMatMul(tf.BatchMatMul)],
  [tf._FusedMatMul, untransposedMatMul(tf._FusedMatMul)]
])

/**
 * Registers the kernels above for the 'wasm' backend (idempotent). Call before the first training
 * step on wasm; registering needs only @tensorflow/tfjs-backend-wasm to be imported, not active.
 * Returns the names of the kernels this module provides.
 */
export function registerWasmKernels(): string[] {
  const names: string[] = []
  const register = (kernelName: string, kernelFunc: tf.KernelFunc): void => {
    names.push(kernelName)
    const existing = tf.getKernel(kernelName, BACKEND)
    if (existing?.kernelFunc === kernelFunc) return
    // Replacing the backend's own (slow) kernel must not print tfjs' "already registered" warning,
    // and must keep its setupFunc: the wasm backend binds its C functions there at initialisation.
    if (existing) tf.unregisterKernel(kernelName, BACKEND)
    tf.registerKernel({ ...existing, kernelName, backendName: BACKEND, kernelFunc })
  }
  register(tf.Conv2DBackpropFilter, backpropFilterKernel)
  register(tf.Conv2DBackpropInput, backpropInputKernel)
  for (const [kernelName, kernelFunc] of [...matMulKernels, [tf.AvgPoolGrad, avgPoolGradKernel] as const, [tf.MaxPoolGrad, maxPoolGradKernel] as const]) {
    const existing = tf.getKernel(kernelName, BACKEND)
    if (!existing) continue // a wasm build without it; nothing to speed up
    if (existing.kernelFunc !== kernelFunc) originalKernels.set(kernelName, existing.kernelFunc)
    register(kernelName, kernelFunc)
  }
  return names
}

const backpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const x = asTensor4D(inputs.x, 'Conv2DBackpropFilter', 'x')
  const dy = asTensor4D(inputs.dy, 'Conv2DBackpropFilter', 'dy')
  return conv2dBackpropFilter(x, dy, attrs as unknown as BackpropFilterAttrs)
}

const backpropInputKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const dy = asTensor4D(inputs.dy, 'Conv2DBackpropInput', 'dy')
  const filter = asTensor4D(inputs.filter, 'Conv2DBackpropInput', 'filter')
  return conv2dBackpropInput(dy, filter, attrs as unknown as BackpropInputAttrs)
}

/** Kernels a conv-net training step needs; registerWasmKernels() fills the ones wasm lacks. */
export const TRAINING_KERNELS = [
  'Conv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'AvgPool', 'AvgPoolGrad', 'MaxPool', 'MaxPoolGrad',
  'FusedBatchNorm', 'Sigmoid', 'Relu', 'LeakyRelu', 'Prelu', 'BatchMatMul', '_FusedMatMul', 'Softmax', 'Mean', 'Sum'
] as const

/** The kernels of TRAINING_KERNELS the named backend has no registration for. */
export function missingKernels(backendName: string): string[] {
  return TRAINING_KERNELS.filter((k) => tf.getKernel(k, backendName) === undefined)
}
