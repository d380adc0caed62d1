// An in-memory StudioApi for component and store tests: each test says what every method answers,
// and pushes events by hand. (The E2E drives the real services through the real WebSocket.)
import { StudioError, type EventName, type Events, type MethodArgs, type MethodName, type MethodResult } from '../../src/shared/contract'
import type { ModelPreset, RunRecord, RunSummary } from '../../src/shared/domain'
import type { StudioClient } from '../../src/renderer/src/api'
import { createEventHub } from '../../src/shared/wire'

type Handler<M extends MethodName> = (args: MethodArgs<M>) => MethodResult<M> | Promise<MethodResult<M>>
export type Handlers = { [M in MethodName]?: Handler<M> }

export class FakeApi implements StudioClient {
  readonly calls: { method: MethodName; args: unknown }[] = []
  private readonly events = createEventHub()

  constructor(public handlers: Handlers = {}) {}

  async invoke<M extends MethodName>(method: M, args: MethodArgs<M>): Promise<MethodResult<M>> {
    this.calls.push({ method, args })
    const h = this.handlers[method] as Handler<M> | undefined
    if (!h) throw new StudioError('internal', `no fake answer for ${method}`)
    return await h(args)
  }

  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): () => void {
    return this.events.on(event, handler)
  }

  emit<E extends EventName>(event: E, payload: Events[E]): void {
    this.events.emit(event, payload)
  }

  called(method: MethodName): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args)
  }
}

export const lenetPreset: ModelPreset = {
  id: 'lenet5',
  title: 'LeNet-5 (d2l)',
  description: 'Sigmoid LeNet as in Dive into Deep Learning.',
  spec: {
    name: 'LeNet-5',
    inputSize: 28,
    inputChannels: 1,
    numClasses: 10,
    layers: [
      { type: 'conv2d', outChannels: 6, kernelSize: 5, stride: 1, padding: 2 },
      { type: 'sigmoid' },
      { type: 'avgPool2d', kernelSize: 2, stride: 2 },
      { type: 'flatten' },
      { type: 'linear', outFeatures: 10 }
    ]
  },
  recommended: { optimizer: 'sgd', lr: 0.9, batchSize: 256, epochs: 10 }
}

export function summaryRow(id: number, over: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    name: `run ${id}`,
    status: 'completed',
    model: 'lenet5',
    dataset: 'mnist-sample',
    tags: [],
    createdAt: '2026-11-23T10:00:00.000Z',
    finishedAt: '2026-11-23T10:01:00.000Z',
    backend: 'tensorflow',
    paramCount: 61706,
    bestEpoch: 1,
    bestValAcc: 0.9,
    testAcc: 0.89,
    testLoss: 0.3,
    examplesPerSec: 4000,
    epochsDone: 1,
    epochsPlanned: 1,
    sweepId: null,
    ...over
  }
}

export function runRecord(id: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    ...summaryRow(id),
    notes: '',
    config: {
      model: 'lenet5',
      spec: lenetPreset.spec,
      dataset: 'mnist-sample',
      optimizer: 'sgd',
      lr: 0.9,
      momentum: 0,
      weightDecay: 0,
      schedule: { type: 'constant' },
      batchSize: 256,
      epochs: 1,
      seed: 1,
      validation: { source: 'test' },
      init: 'xavier',
      earlyStoppingPatience: null,
      backend: 'auto',
      trainLimit: null,
      normalize: null,
      augment: { cropPadding: 0, flip: false },
      imagePrep: null
    },
    device: null,
    libVersions: {},
    startedAt: null,
    error: null,
    testPrecision: null,
    testRecall: null,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    initFrom: null,
    ...over
  }
}
