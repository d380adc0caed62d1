// The messages between the service host and its worker processes (training runs, backend probes,
// benchmarks, and the model worker that predicts). Both sides import this module and nothing of
// each other. Plain JSON-safe values (typed arrays travel as base64), so the same messages cross
// Node's fork IPC and Electron's utilityProcess port.
import { constants as osConstants, setPriority } from 'node:os'
import type { BackendReport, BatchPoint, BenchmarkResult, EpochRecord, InspectResult, PredictResult, RunRecord, TrainStartInfo } from '../shared/domain'
import type { CheckpointKind, DatasetStyle, ModelSpec, TrainConfig } from '../shared/schemas'
import type { ErrorCode } from '../shared/contract'
import type { EpochInspectionMessage, TestResultMessage } from '../shared/worker-messages'

/** The run a prediction uses, as the host knows it: the worker reads the weights, never the database. */
export interface PredictRun {
  record: RunRecord
  weights: CheckpointKind
  /** The checkpoint folder (runs/<id>/best or last). */
  dir: string
  /** How the run's dataset frames its images, which decides how a dropped picture is placed. */
  style: DatasetStyle
}

export type PredictJob =
  | { kind: 'file'; fileName: string; /** base64 */ bytes: string; topK: number }
  | { kind: 'pixels'; /** base64 of count*size*size bytes */ images: string; count: number; size: number }
  /** One image seen through the network (layer outputs, Grad-CAM, saliency): a dropped file or a dataset example's pixels. */
  | { kind: 'inspect'; source: { fileName: string; /** base64 */ bytes: string } | { /** base64 of size*size*channels bytes (RGB interleaved) */ pixels: string; size: number }; classIndex: number | null }

export type ToChild =
  | {
      type: 'start'
      runId: number
      config: TrainConfig
      dataDir: string
      stagingDir: string
      /** Continue the run after its last finished epoch: its 'last' folder (weights + train state) and 'best' folder. */
      resume?: { lastDir: string; bestDir: string }
      /** Fine-tune: start from the weights in this checkpoint folder (another run's, same shapes). */
      initFrom?: { dir: string }
    }
  | { type: 'cancel' }
  | { type: 'probe' }
  | { type: 'benchmark'; seconds: number }
  | { type: 'predict'; id: number; run: PredictRun; job: PredictJob }
  /** models import: read PyTorch weights onto the spec, evaluate them on the dataset's test set, stage them as a tfjs checkpoint. */
  | { type: 'evaluate'; file: string; spec: ModelSpec; dataset: string; dataDir: string; stagingDir: string }

export type FromChild =
  | { type: 'started'; backend: string; device: string | null; versions: Record<string, string>; reason: string }
  | ({ type: 'info' } & TrainStartInfo)
  | ({ type: 'batch' } & BatchPoint)
  | {
      type: 'epoch'
      epoch: EpochRecord
      confusion: number[][]
      /** base64 of one byte per validation example. */
      predictions: string
      isBest: boolean
      checkpoints: { kind: CheckpointKind; stagedDir: string }[]
      inspection?: EpochInspectionMessage
    }
  | {
      type: 'done'
      status: 'completed' | 'cancelled'
      epochsDone: number
      bestEpoch: number | null
      bestValAcc: number | null
      examplesPerSec: number
      test: TestResultMessage | null
    }
  | { type: 'error'; message: string }
  | { type: 'report'; report: BackendReport }
  | { type: 'benchmark'; results: BenchmarkResult[] }
  | { type: 'predicted'; id: number; result: PredictResult }
  /** base64 of count*numClasses float32 probabilities. */
  | { type: 'probabilities'; id: number; probabilities: string }
  | { type: 'predictFailed'; id: number; code: ErrorCode; message: string }
  | { type: 'inspected'; id: number; result: InspectResult }
  | { type: 'evaluated'; test: TestResultMessage; style: string; format: string; backend: string; device: string | null; versions: Record<string, string> }
  | { type: 'evaluateFailed'; code: ErrorCode; message: string }

/** A started worker process, whichever way it was started. */
export interface ChildHandle {
  readonly pid: number | undefined
  send(msg: ToChild): void
  onMessage(fn: (msg: FromChild) => void): void
  /** Called once; `signal` is the name of the signal that ended it, if one did. `interrupted`: a worker
      that was cut off from outside (a browser tab closed, a GPU device lost) says why, and the run
      ends 'interrupted' with that sentence instead of 'failed'. */
  onExit(fn: (code: number | null, signal: string | null, interrupted?: string) => void): void
  kill(signal?: NodeJS.Signals): void
}

/** Starts a worker process (Electron passes one built on utilityProcess.fork), or a browser worker (transports/browser-worker.ts). */
export type Spawner = () => ChildHandle

export function toBase64(bytes: Uint8Array | Float32Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'))
}

/** Float32 values sent with toBase64, copied so they are aligned whatever Buffer's pool offset was. */
export function float32FromBase64(text: string): Float32Array {
  const bytes = fromBase64(text)
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

/** Workers yield the CPU to the window (pid 0: this process); where lowering is not permitted they run at normal priority. */
export function lowerPriority(pid = 0): void {
  try {
    setPriority(pid, osConstants.priority.PRIORITY_BELOW_NORMAL)
  } catch {
    // EPERM/EACCES on some systems: nothing to do.
  }
}

/** A message's payload without its `type` envelope. */
export function omitType<T extends { type: string }>(msg: T): Omit<T, 'type'> {
  const { type: _type, ...rest } = msg
  return rest
}
