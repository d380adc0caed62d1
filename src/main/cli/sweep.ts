// `conv-studio sweep`: the train options as a base, --grid / --random over any of them, --seeds; the
// runs are queued under one sweep and trained by the same queue the app uses. One line per finished
// epoch and run, then a table sorted by validation accuracy. --json: one object per event, the last
// {"event":"sweep","sweepId",…,"runs":[{"id","status","testAcc","config"}…]}.
import { Command, InvalidArgumentError } from 'commander'
import type { RunRecord } from '../../shared/domain'
import { RandomKeySchema, SweepKeySchema, type SweepDetail, type SweepSpecInput } from '../../shared/sweeps'
import { TrainConfigSchema } from '../../shared/schemas'
import { defaultDataDir } from '../paths'
import { createServices, zodMessage } from '../services'
import { describe } from '../services/sweeps'
import type { HostEvent } from '../services/training'
import { addTrainOptions, configFromFlags } from './train'
import { CliUsageError, printable } from './common'

type Grid = { key: string; values: string[] }
type RandomRange = { key: string; lo: number; hi: number; log: boolean }

function collectGrid(value: string, prev: Grid[]): Grid[] {
  const eq = value.indexOf('=')
  const key = value.slice(0, eq)
  const values = value.slice(eq + 1).split(',').map((v) => v.trim())
  if (eq < 1 || values.some((v) => v === '')) throw new InvalidArgumentError(`--grid takes <key>=<v1>,<v2>,… (e.g. lr=0.1,0.3), not '${value}'.`)
  if (!SweepKeySchema.safeParse(key).success) throw new InvalidArgumentError(`--grid: '${key}' is not a train option a sweep can vary (${SweepKeySchema.options.join(', ')}).`)
  return [...prev, { key, values }]
}

function collectRandom(value: string, prev: RandomRange[]): RandomRange[] {
  const m = /^([a-z-]+)=([^:]+):([^:]+)(:log)?$/.exec(value)
  const lo = Number(m?.[2])
  const hi = Number(m?.[3])
  if (!m || !Number.isFinite(lo) || !Number.isFinite(hi)) throw new InvalidArgumentError(`--random takes <key>=<lo>:<hi>[:log] (e.g. lr=0.01:1:log), not '${value}'.`)
  if (!RandomKeySchema.safeParse(m[1]).success) throw new InvalidArgumentError(`--random: '${m[1]}' has no continuous range (${RandomKeySchema.options.join(', ')}).`)
  return [...prev, { key: m[1], lo, hi, log: m[4] !== undefined }]
}

function seedList(value: string): number[] {
  const seeds = value.split(',').map((v) => Number(v.trim()))
  if (!seeds.length || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new InvalidArgumentError(`--seeds takes whole numbers separated by commas (e.g. 0,1,2), not '${value}'.`)
  return seeds
}

const fmt = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(4))

/** The final table, best validation accuracy first; runs without one last. */
export function sweepTable(d: SweepDetail): string {
  const rows = [...d.runs].sort((a, b) => (b.run.bestValAcc ?? -1) - (a.run.bestValAcc ?? -1) || a.run.id - b.run.id)
  const keys = d.sweep.keys
  const head = ['run', 'status', ...keys, 'val acc', 'test acc']
  const body = rows.map((r) => [String(r.run.id), r.run.status, ...keys.map((k) => String(r.values[k])), fmt(r.run.bestValAcc), fmt(r.run.testAcc)])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(head), ...body.map(line)].join('\n')
}

async function runSweep(flags: Record<string, unknown>, cmd: Command): Promise<number> {
  const globals = cmd.optsWithGlobals<{ dataDir?: string }>()
  const json = flags.json === true
  const out = (obj: Record<string, unknown>) => process.stdout.write(JSON.stringify(obj) + '\n')
  const base = TrainConfigSchema.safeParse(configFromFlags(flags as unknown as Parameters<typeof configFromFlags>[0]))
  if (!base.success) throw new CliUsageError(zodMessage(base.error, 'sweep'))
  const grid = (flags.grid as Grid[] | undefined) ?? []
  const random = (flags.random as RandomRange[] | undefined) ?? []
  if (random.length && flags.trials === undefined) throw new CliUsageError('--random needs --trials <n>: how many draws to make.')
  if (!grid.length && !random.length && !flags.seeds) throw new CliUsageError('A sweep needs at least one --grid, --random or --seeds.')
  const spec = {
    ...(flags.name ? { name: String(flags.name) } : {}),
    base: base.data,
    grid,
    random,
    ...(flags.trials !== undefined ? { trials: Number(flags.trials) } : {}),
    ...(flags.seeds ? { seeds: flags.seeds as number[] } : {})
  } as SweepSpecInput

  const services = await createServices({ dataDir: globals.dataDir ?? defaultDataDir(), host: 'cli', maxConcurrent: flags.concurrency as number | undefined })
  let sweep: SweepDetail | null = null
  const names = new Map<number, string>()
  const unsubscribe = services.training.subscribe((e: HostEvent) => {
    if (!names.has(e.runId)) return
    if (json) {
      if (e.type !== 'finished' && e.type !== 'batch') {
        const { type, ...rest } = e
        out({ event: type, ...rest })
      }
      return
    }
    const label = names.get(e.runId)
    if (e.type === 'epoch')
      console.log(`run ${e.runId} ${label}: epoch ${e.epoch.epoch}  val acc ${fmt(e.epoch.valAcc)}  train loss ${fmt(e.epoch.trainLoss)}`)
    else if (e.type === 'finished')
      console.log(`run ${e.runId} ${label}: ${e.run.status}${e.run.error ? ` (${printable(e.run.error)})` : ''}${e.run.testAcc !== null ? `  test acc ${fmt(e.run.testAcc)}` : ''}`)
  })
  let cancelling = false
  const onSigint = () => {
    if (!sweep || cancelling) return
    cancelling = true
    if (!json) console.error('\nCancelling the sweep...')
    void services.sweeps.cancel(sweep.sweep.id).catch(() => undefined)
  }
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigint)
  let final: SweepDetail
  try {
    const reply = await services.handle('sweeps.start', spec)
    if (!reply.ok) throw reply.error.code === 'invalid_argument' ? new CliUsageError(reply.error.message) : new Error(reply.error.message)
    sweep = reply.value as SweepDetail
    sweep.runs.forEach((r, i) => names.set(r.run.id, `[${i + 1}/${sweep!.runs.length}] ${describe(r.values)}`))
    if (json) out({ event: 'created', sweepId: sweep.sweep.id, runIds: sweep.runs.map((r) => r.run.id) })
    else console.log(`Sweep ${sweep.sweep.id}: ${sweep.runs.length} runs queued (${sweep.sweep.name})`)
    await services.sweeps.whenFinished(sweep.sweep.id)
    final = services.sweeps.get(sweep.sweep.id)
  } finally {
    unsubscribe()
    process.off('SIGINT', onSigint)
    process.off('SIGTERM', onSigint)
    await services.close()
  }
  if (json) {
    out({
      event: 'sweep',
      sweepId: final.sweep.id,
      status: final.sweep.status,
      runs: final.runs.map((r: { run: RunRecord; values: Record<string, string | number> }) => ({
        id: r.run.id,
        status: r.run.status,
        testAcc: r.run.testAcc,
        bestValAcc: r.run.bestValAcc,
        error: r.run.error,
        values: r.values,
        config: r.run.config
      }))
    })
  } else {
    console.log(`\nSweep ${final.sweep.id} ${final.sweep.status}, best validation accuracy first:\n${sweepTable(final)}`)
  }
  if (final.sweep.status === 'cancelled') return 130
  return final.runs.every((r) => r.run.status === 'completed') ? 0 : 1
}

export function register(program: Command): void {
  addTrainOptions(program.command('sweep').description('queue runs over a grid and/or random draws of train options and seeds, train them one after another, and table the results'))
    .option('--grid <key=v1,v2,…>', 'a train option and its values (repeatable; the grid is their product), e.g. --grid lr=0.1,0.3', collectGrid, [])
    .option('--random <key=lo:hi[:log]>', 'a continuous range to draw from (repeatable; lr, momentum, weight-decay, val-split)', collectRandom, [])
    .option('--trials <n>', 'random draws to make', (v) => {
      const n = Number(v)
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--trials must be a whole number >= 1, not '${v}'.`)
      return n
    })
    .option('--seeds <list>', 'seeds to repeat every configuration with, e.g. 0,1,2 (a seed group each)', seedList)
    .option('--concurrency <n>', 'runs training at once (default 1)', (v) => {
      const n = Number(v)
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError(`--concurrency must be a whole number from 1 to 16, not '${v}'.`)
      return n
    })
    .option('--name <name>', 'sweep name')
    .option('--json', 'print one JSON object per event; the last one is the sweep with every run')
    .action(async (flags: Record<string, unknown>, cmd: Command) => {
      process.exitCode = await runSweep(flags, cmd)
    })
}
