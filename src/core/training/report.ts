// The trainer's results as a worker reports them (src/shared/worker-messages.ts): one builder for
// the Node worker and the Chromium worker, which differ only in how they write base64.
import type { EpochRecord } from '../../shared/domain'
import type { EpochInspectionMessage, TestResultMessage } from '../../shared/worker-messages'
import type { EpochEnd, TestEvaluation } from './trainer'

/** base64 of a typed array's bytes: Buffer in Node, btoa in a browser. */
export type Base64 = (bytes: Uint8Array | Float32Array) => string

/** The plain-number record of an epoch (what the run store keeps per epoch). */
export function epochRecordOf(e: EpochEnd): EpochRecord {
  return { epoch: e.epoch, trainLoss: e.trainLoss, trainAcc: e.trainAcc, valLoss: e.valLoss, valAcc: e.valAcc, seconds: e.seconds, examplesPerSec: e.examplesPerSec }
}

export function epochInspectionOf(e: EpochEnd, base64: Base64): EpochInspectionMessage | undefined {
  const i = e.inspection
  return i ? { histograms: i.histograms, filters: i.filters, trueProbabilities: base64(i.trueProbabilities) } : undefined
}

/** `labels`: the test labels the predictions are of (the first predictions.length of the test set). */
export function testResultOf(test: TestEvaluation, labels: Uint8Array, base64: Base64): TestResultMessage {
  return {
    loss: test.loss,
    acc: test.acc,
    confusion: test.confusion,
    precision: test.precision,
    recall: test.recall,
    predictions: base64(test.predictions),
    labels: base64(labels.subarray(0, test.predictions.length)),
    ...(test.trueProbabilities ? { trueProbabilities: base64(test.trueProbabilities) } : {})
  }
}
