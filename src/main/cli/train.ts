// `conv-studio train`: d2l's train_ch6 from the terminal, through the same TrainingHost the app uses
// (so the run lands in the run store), with a live progress bar per epoch and d2l's closing lines.
import { Command, InvalidArgumentError, Option } from 'commander'
import cliProgress from 'cli-progress'
import type { RunRecord } from '../../shared/domain'
import { TrainConfigSchema, type Schedule, type TrainConfig, type TrainConfigInput } from '../../shared/schemas'
import { getPreset, presets } from '../../core/models/presets'
import { bufferCount, formatBuffers, formatSummary, summarize } from '../../core/models/summary'
import { defaultDataDir } from '../paths'
import { createServices, zodMessage } from '../services'
import type { HostEvent } from '../services/training'
import { CliUsageError, printable } from './common'


interface TrainFlags {
  model: string
  dataset: string
  optimizer?: 'sgd' | 'adam'
  lr?: number
  batchSize?: number
  epochs?: number
  seed: number
  momentum?: number
  weightDecay?: number
  schedule?: Schedule
  valSplit?: number
  init?: 'xavier' | 'default'
  backend: string
  patience?: number
  trainLimit?: number
  normalize?: boolean
  augment?: { cropPadding: number; flip: boolean }
  name?: string
  json?: boolean
  resume?: number
  initFrom?: number
}

function number(what: string, opts: { int?: boolean; min?: number; max?: number } = {}) {
  return (value: string): number => {
    const n = Number(value)
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, not '${value}'.`)
    if (opts.int && !Number.isInteger(n)) throw new InvalidArgumentError(`${what} must be a whole number, not '${value}'.`)
    if (opts.min !== undefined && n < opts.min) throw new InvalidArgumentError(`${what} must be at least ${opts.min}.`)
    if (opts.max !== undefined && n > opts.max) throw new InvalidArgumentError(`${what} must be at most ${opts.max}.`)
    return n
  }
}

/** constant | step:<epochs>:<gamma> | cosine[:<minLr>] */
export function parseSchedule(value: string): Schedule {
  const [kind, a, b] = value.split(':')
  if (kind === 'constant' && a === undefined) return { type: 'constant' }
  if (kind === 'step' && a !== undefined && b !== undefined) {
    const stepEpochs = Number(a)
    const gamma = Number(b)
    if (Number.isInteger(stepEpochs) && stepEpochs >= 1 && gamma > 0 && gamma <= 1) return { type: 'step', stepEpochs, gamma }
  }
  if (kind === 'cosine' && b === undefined) {
    const minLr = a === undefined ? 0 : Number(a)
    if (Number.isFinite(minLr) && minLr >= 0) return { type: 'cosine', minLr }
  }
  throw new InvalidArgumentError(`--schedule takes constant, step:<epochs>:<gamma> (e.g. step:5:0.1) or cosine[:<minLr>], not '${value}'.`)
}

/** The run's config: the preset's recommended settings, overridden by whatever flags were given. */
export function configFromFlags(f: TrainFlags): TrainConfigInput {
  const preset = getPreset(f.model)
  if (!preset) throw new CliUsageError(`Unknown model '${f.model}'. Models: ${presets.map((p) => p.id).join(', ')}.`)
  const r = preset.recommended
  const validation: TrainConfigInput['validation'] =
    f.valSplit !== undefined ? { source: 'split', fraction: f.valSplit, stratified: true } : (r.validation ?? { source: 'test' })
  return {
    model: preset.id,
    spec: preset.spec,
    dataset: f.dataset,
    optimizer: f.optimizer ?? r.optimizer ?? 'sgd',
    lr: f.lr ?? r.lr ?? 0.9,
    momentum: f.momentum ?? r.momentum ?? 0,
    weightDecay: f.weightDecay ?? r.weightDecay ?? 0,
    schedule: f.schedule ?? r.schedule ?? { type: 'constant' },
    batchSize: f.batchSize ?? r.batchSize ?? 256,
    epochs: f.epochs ?? r.epochs ?? 10,
    seed: f.seed,
    validation,
    init: f.init ?? r.init ?? 'xavier',
    earlyStoppingPatience: f.patience ?? null,
    backend: f.backend as TrainConfigInput['backend'],
    trainLimit: f.trainLimit ?? null,
    normalize: f.normalize ? 'dataset' : null,
    augment: f.augment ?? { cropPadding: 0, flip: false }
  }
}

/** crop:<padding>, flip, or both joined by a comma (torchvision's RandomCrop(padding) and RandomHorizontalFlip). */
export function parseAugment(value: string): { cropPadding: number; flip: boolean } {
  const out = { cropPadding: 0, flip: false }
  for (const part of value.split(',')) {
    const crop = /^crop:(\d{1,2})$/.exec(part)
    if (crop && Number(crop[1]) <= 16) out.cropPadding = Number(crop[1])
    else if (part === 'flip') out.flip = true
    else throw new InvalidArgumentError(`--augment takes crop:<padding 0..16>, flip, or both (crop:4,flip), not '${value}'.`)
  }
  return out
}

const fmt = (n: number | null | undefined, digits = 3) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits))
const thousands = (n: number) => Math.round(n).toLocaleString('en-US')

function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--'
  const s = Math.max(0, Math.round(seconds))
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

async function runTrain(flags: TrainFlags, cmd: Command): Promise<number> {
  const globals = cmd.optsWithGlobals<{ dataDir?: string }>()
  const resumeId = flags.resume
  if (resumeId !== undefined && flags.initFrom !== undefined) throw new CliUsageError('--resume continues a run; --init-from starts a new one: give one of them.')
  let config: TrainConfig
  let services: Awaited<ReturnType<typeof createServices>> | null = null
  if (resumeId === undefined) {
    const parsed = TrainConfigSchema.safeParse(configFromFlags(flags))
    if (!parsed.success) throw new CliUsageError(zodMessage(parsed.error, 'train'))
    config = parsed.data
  } else {
    // The run's own config: the other training options do not apply to a resume.
    services = await createServices({ dataDir: globals.dataDir ?? defaultDataDir(), host: 'cli' })
    const got = await services.handle('runs.get', { runId: resumeId })
    if (!got.ok) {
      await services.close()
      throw new Error(got.error.message)
    }
    config = (got.value as RunRecord).config
  }
  const json = flags.json === true
  const out = (obj: Record<string, unknown>) => process.stdout.write(JSON.stringify(obj) + '\n')

  // One count everywhere: torchsummary's (PyTorch's sum(p.numel())), which is also the run's
  // paramCount; BatchNorm's running statistics are named apart, as PyTorch's buffers.
  const summary = summarize(config.spec)
  const buffers = bufferCount(config.spec)
  if (!json) {
    console.log(formatSummary(summary))
    const line = formatBuffers(config.spec)
    if (line) console.log(line)
  }
  services ??= await createServices({ dataDir: globals.dataDir ?? defaultDataDir(), host: 'cli' })
  let bar: cliProgress.SingleBar | null = null
  let stepsPerEpoch = 1
  let runId: number | null = null
  let lastEpoch = null as { trainLoss: number; trainAcc: number } | null
  let backend = config.backend as string
  let device: string | null = null
  const stopBar = () => {
    bar?.stop()
    bar = null
  }

  const unsubscribe = services.training.subscribe((e: HostEvent) => {
    if (runId !== null && e.runId !== runId) return
    if (json) {
      if (e.type === 'info') {
        // The trainer counts tfjs weights, BatchNorm's running statistics included: print the summary's split.
        const { type, ...rest } = e
        out({ event: type, ...rest, paramCount: summary.totalParams, buffers })
      } else if (e.type !== 'finished') {
        const { type, ...rest } = e
        out({ event: type, ...rest })
      }
    }
    switch (e.type) {
      case 'started':
        backend = e.backend
        device = e.device
        if (!json) console.log(`\nBackend: ${e.backend}${e.device ? ` on ${e.device}` : ''}\n  ${e.reason}`)
        return
      case 'info':
        stepsPerEpoch = e.stepsPerEpoch
        if (!json)
          console.log(
            `${thousands(summary.totalParams)} parameters${buffers ? ` (+${thousands(buffers)} BatchNorm buffers)` : ''}; ${thousands(e.trainCount)} training, ${thousands(e.valCount)} validation, ${thousands(e.testCount)} test examples; ${e.stepsPerEpoch} steps per epoch\n`
          )
        return
      case 'batch':
        if (json) return
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: `epoch ${e.epoch}/${config.epochs} [{bar}] {value}/{total} | loss {loss} acc {acc} | {eps} ex/s | ETA {eta}`,
              hideCursor: true,
              clearOnComplete: true,
              noTTYOutput: false,
              barsize: 24
            },
            cliProgress.Presets.shades_classic
          )
          bar.start(stepsPerEpoch, 0, { loss: '-', acc: '-', eps: '-', eta: '--' })
        }
        bar.update(e.batch, { loss: fmt(e.loss), acc: fmt(e.acc), eps: thousands(e.examplesPerSec), eta: formatEta(e.etaSeconds) })
        return
      case 'epoch':
        lastEpoch = e.epoch
        if (json) return
        stopBar()
        console.log(
          `epoch ${e.epoch.epoch}/${config.epochs}  train loss ${fmt(e.epoch.trainLoss)} acc ${fmt(e.epoch.trainAcc)}  ` +
            `val loss ${fmt(e.epoch.valLoss)} acc ${fmt(e.epoch.valAcc)}  ${e.epoch.seconds.toFixed(1)} s  ${thousands(e.epoch.examplesPerSec)} ex/s`
        )
        return
      default:
        return
    }
  })

  let cancelling = false
  const onSigint = () => {
    if (runId === null || cancelling) return
    cancelling = true
    stopBar()
    if (!json) console.error('\nCancelling...')
    void services.training.cancel(runId).catch(() => undefined)
  }
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)

  let run: RunRecord
  try {
    const reply =
      resumeId !== undefined
        ? await services.handle('training.resume', { runId: resumeId })
        : await services.handle('training.start', {
            config,
            ...(flags.name ? { name: flags.name } : {}),
            ...(flags.initFrom !== undefined ? { initFrom: flags.initFrom } : {})
          })
    // A config the host refuses is a usage error; a disk that is full or a dataset that is missing is a failure.
    if (!reply.ok) throw reply.error.code === 'invalid_argument' ? new CliUsageError(reply.error.message) : new Error(reply.error.message)
    const started = reply.value as RunRecord
    runId = started.id
    if (json) out(resumeId !== undefined ? { event: 'resumed', runId, fromEpoch: started.epochsDone } : { event: 'created', runId })
    else if (resumeId !== undefined) console.log(`Run ${runId} resumes after epoch ${started.epochsDone} of ${started.epochsPlanned}`)
    else console.log(`Run ${runId} created in ${services.dataDir}`)
    run = await services.training.whenFinished(runId)
  } finally {
    stopBar()
    unsubscribe()
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
    await services.close()
  }

  const final = {
    event: 'result',
    runId: run.id,
    status: run.status,
    error: run.error,
    trainLoss: lastEpoch?.trainLoss ?? null,
    trainAcc: lastEpoch?.trainAcc ?? null,
    testLoss: run.testLoss,
    testAcc: run.testAcc,
    bestEpoch: run.bestEpoch,
    bestValAcc: run.bestValAcc,
    examplesPerSec: run.examplesPerSec,
    backend: run.backend ?? backend,
    device: run.device ?? device,
    epochsDone: run.epochsDone
  }
  if (json) {
    out(final)
  } else if (run.status === 'completed') {
    console.log(`loss ${fmt(final.trainLoss)}, train acc ${fmt(final.trainAcc)}, test acc ${fmt(final.testAcc)}`)
    console.log(`${(run.examplesPerSec ?? 0).toFixed(1)} examples/sec on ${final.backend}${final.device ? ` (${final.device})` : ''}`)
    console.log(`run id ${run.id}`)
  } else {
    console.error(`Run ${run.id} ${run.status}${run.error ? `: ${printable(run.error)}` : '.'}`)
  }
  if (run.status === 'completed') return 0
  if (run.status === 'cancelled') return 130
  return 1
}

/** The options a run's config is made of, shared with `conv-studio sweep` (whose keys are these names). */
export function addTrainOptions(cmd: Command): Command {
  return cmd
    .option('--model <preset>', `model preset (${presets.map((p) => p.id).join(', ')})`, 'lenet5')
    .option('--dataset <id|folder>', 'catalog dataset id, or a folder holding the four IDX files', 'fashion-mnist')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['sgd', 'adam']))
    .option('--lr <rate>', 'learning rate', number('--lr', { min: 1e-12 }))
    .option('--batch-size <n>', 'batch size', number('--batch-size', { int: true, min: 1 }))
    .option('--epochs <n>', 'epochs', number('--epochs', { int: true, min: 1 }))
    .option('--seed <n>', 'random seed (weights, shuffling, split)', number('--seed', { int: true, min: 0 }), 1)
    .option('--momentum <m>', 'SGD momentum', number('--momentum', { min: 0, max: 0.999 }))
    .option('--weight-decay <wd>', 'L2 weight decay', number('--weight-decay', { min: 0 }))
    .option('--schedule <s>', 'learning-rate schedule: constant, step:<epochs>:<gamma>, cosine[:<minLr>]', parseSchedule)
    .option('--val-split <fraction>', 'hold out this fraction of the training set for validation (default: validate on the test set, as d2l)', number('--val-split', { min: 0.001, max: 0.999 }))
    .addOption(new Option('--init <init>', 'weight initialisation').choices(['xavier', 'default']))
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']).default('auto'))
    .option('--patience <epochs>', 'stop early after this many epochs without a better validation accuracy', number('--patience', { int: true, min: 1 }))
    .option('--train-limit <n>', 'use only the first N training examples', number('--train-limit', { int: true, min: 1 }))
    .option('--normalize', "per-channel mean/std of the dataset's training split (stored with the run, applied at prediction)")
    .option('--augment <list>', 'training-time augmentation: crop:<padding>, flip, or crop:4,flip (never for digit sets)', parseAugment)
}

export function register(program: Command): void {
  addTrainOptions(program.command('train').description("train a model and record the run (defaults: the preset's recommended settings, d2l's for lenet5)"))
    .option('--name <name>', 'run name')
    .option('--json', 'print one JSON object per event; the last holds the final metrics and the run id')
    .option('--resume <runId>', 'continue an interrupted, cancelled or failed run in place after its last finished epoch (its own settings; the other options do not apply)', number('--resume', { int: true, min: 1 }))
    .option('--init-from <runId>', "fine-tune: start from that run's best weights (same model shapes) instead of a fresh initialisation", number('--init-from', { int: true, min: 1 }))
    .action(async (flags: TrainFlags, cmd: Command) => {
      const code = await runTrain(flags, cmd)
      process.exitCode = code
    })
}
