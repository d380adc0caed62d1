// How long an epoch will take, before it starts: from a LeNet-5 throughput measured on each backend
// (the Device page's benchmark, the browser GPU's measurement) and the chosen model's training
// FLOPs. Pure; the New run form shows it.
import type { LayerSpec, ModelSpec } from './schemas'

/** Multiply-adds of one forward pass of one example (conv and linear layers; the rest is small). */
export function forwardMacs(spec: ModelSpec): number {
  let c: number = spec.inputChannels
  let h = spec.inputSize
  let w = spec.inputSize
  let flat: number | null = null
  let macs = 0
  const out = (size: number, k: number, s: number, p: number) => Math.floor((size + 2 * p - k) / s) + 1
  for (const l of spec.layers as LayerSpec[]) {
    if (l.type === 'conv2d') {
      h = out(h, l.kernelSize, l.stride, l.padding)
      w = out(w, l.kernelSize, l.stride, l.padding)
      macs += h * w * l.outChannels * c * l.kernelSize * l.kernelSize
      c = l.outChannels
    } else if (l.type === 'avgPool2d' || l.type === 'maxPool2d') {
      h = out(h, l.kernelSize, l.stride, 0)
      w = out(w, l.kernelSize, l.stride, 0)
    } else if (l.type === 'flatten') {
      flat = c * h * w
    } else if (l.type === 'linear') {
      const inFeatures = flat ?? c * h * w
      macs += inFeatures * l.outFeatures
      flat = l.outFeatures
    }
  }
  return macs
}

/** FLOPs of one training example: forward, plus the backward's two products (≈ 3× forward). */
export function trainingFlops(spec: ModelSpec): number {
  return 6 * forwardMacs(spec)
}

/**
 * Small networks are bound by per-op overhead, big ones by arithmetic, so throughput does not fall
 * in proportion to FLOPs. Fitted to our own figures on one 2-core CPU (native backend): LeNet-5
 * ~16k examples/s and AlexNet (batch 128) ~52 examples/s, a FLOP ratio of ~2,250 for a speed ratio
 * of ~310: rate ∝ FLOPs^-0.75. A rough guide (±50%), said so in the form.
 */
export const FLOP_EXPONENT = 0.75

/** The LeNet-5 preset's training FLOPs per example (the spec the benchmarks measure). */
export function examplesPerSecFor(spec: ModelSpec, lenetExamplesPerSec: number, lenetFlops: number): number {
  const ratio = trainingFlops(spec) / lenetFlops
  return lenetExamplesPerSec / Math.pow(Math.max(ratio, 1e-6), FLOP_EXPONENT)
}

export interface MeasuredBackend {
  /** What the form's backend select calls it ('tensorflow', 'browser-webgpu', ...). */
  backend: string
  label: string
  lenetExamplesPerSec: number
}

export interface EpochEstimate {
  backend: string
  label: string
  examplesPerSec: number
  secondsPerEpoch: number
}

export function estimateEpochs(spec: ModelSpec, lenetFlops: number, examplesPerEpoch: number, measured: MeasuredBackend[]): EpochEstimate[] {
  return measured
    .filter((m) => m.lenetExamplesPerSec > 0)
    .map((m) => {
      const rate = examplesPerSecFor(spec, m.lenetExamplesPerSec, lenetFlops)
      return { backend: m.backend, label: m.label, examplesPerSec: rate, secondsPerEpoch: examplesPerEpoch / rate }
    })
    .sort((a, b) => a.secondsPerEpoch - b.secondsPerEpoch)
}

/** "40 s", "19 min", "3.2 h". */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`
  return `${(seconds / 3600).toFixed(seconds < 36000 ? 1 : 0)} h`
}
