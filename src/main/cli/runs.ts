// `conv-studio runs list|show|rm|export|import`: the run history from a terminal.
import { createInterface } from 'node:readline/promises'
import { Command, InvalidArgumentError, Option } from 'commander'
import { StudioError } from '../../shared/contract'
import type { RunRecord, RunSummary } from '../../shared/domain'
import { RunSortKeySchema, RunStatusSchema, type RunQuery } from '../../shared/schemas'
import type { RunStore } from '../services/runs'
import { printable, withStore } from './common'
import { exportAs } from './interop'

function runId(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a run id is a whole number >= 1')
  return n
}

function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new InvalidArgumentError('expected a whole number from 1 to 500')
  return n
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`)
const fixed = (v: number | null, d = 4) => (v === null ? '-' : v.toFixed(d))

/** A plain text table: columns padded to their widest cell, numbers right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^[-\d.,%]+$/.test(r[i])))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

function summaryRows(rows: RunSummary[]): string[][] {
  return rows.map((r) => [
    String(r.id),
    printable(r.name),
    r.status,
    printable(r.model),
    printable(r.dataset),
    `${r.epochsDone}/${r.epochsPlanned}`,
    pct(r.bestValAcc),
    pct(r.testAcc),
    r.createdAt.slice(0, 16).replace('T', ' '),
    printable(r.tags.join(','))
  ])
}

function showText(run: RunRecord, store: RunStore): string {
  const out: string[] = []
  out.push(`Run ${run.id}: ${printable(run.name)}  [${run.status}]`)
  out.push(`model ${printable(run.model)}  dataset ${printable(run.dataset)}  parameters ${run.paramCount?.toLocaleString('en-US') ?? '-'}`)
  out.push(`backend ${printable(run.backend ?? '-')}${run.device ? ` (${printable(run.device)})` : ''}  examples/s ${run.examplesPerSec?.toFixed(0) ?? '-'}`)
  out.push(`created ${run.createdAt}  started ${run.startedAt ?? '-'}  finished ${run.finishedAt ?? '-'}`)
  if (run.tags.length) out.push(`tags: ${printable(run.tags.join(', '))}`)
  if (run.notes) out.push(`notes: ${printable(run.notes, true)}`)
  if (run.error) out.push(`error: ${printable(run.error)}`)
  out.push('', 'config:')
  const c = run.config
  const v = c.validation.source === 'test' ? 'test set (d2l)' : `${c.validation.fraction} split${c.validation.stratified ? ', stratified' : ''}`
  out.push(
    table(
      ['setting', 'value'],
      [
        ['optimizer', c.optimizer],
        ['lr', String(c.lr)],
        ['momentum', String(c.momentum)],
        ['weight decay', String(c.weightDecay)],
        ['schedule', JSON.stringify(c.schedule)],
        ['batch size', String(c.batchSize)],
        ['epochs', String(c.epochs)],
        ['seed', String(c.seed)],
        ['validation', v],
        ['init', c.init],
        ['backend', c.backend],
        ['layers', c.spec.layers.map((l) => l.type).join(' > ')]
      ]
    ).trimEnd()
  )
  const epochs = store.epochs(run.id)
  out.push('', `epochs (${epochs.length} of ${run.epochsPlanned}${run.bestEpoch ? `, best ${run.bestEpoch}` : ''}):`)
  out.push(
    epochs.length
      ? table(
          ['epoch', 'train loss', 'train acc', 'val loss', 'val acc', 'seconds', 'examples/s'],
          epochs.map((e) => [
            String(e.epoch) + (e.epoch === run.bestEpoch ? '*' : ''),
            fixed(e.trainLoss),
            pct(e.trainAcc),
            fixed(e.valLoss),
            pct(e.valAcc),
            e.seconds.toFixed(1),
            e.examplesPerSec.toFixed(0)
          ])
        ).trimEnd()
      : '  (none)'
  )
  out.push('', run.testAcc === null ? 'test: not evaluated' : `test: loss ${fixed(run.testLoss)}  accuracy ${pct(run.testAcc)}`)
  if (run.testPrecision && run.testRecall && run.testPrecision.length === run.classes.length)
    out.push(table(['class', 'precision', 'recall'], run.classes.map((name, i) => [printable(name), pct(run.testPrecision![i]), pct(run.testRecall![i] ?? null)])).trimEnd())
  return out.join('\n') + '\n'
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim())
  } finally {
    rl.close()
  }
}

export function register(program: Command): void {
  const runs = program.command('runs').description('list, show, delete, export and import recorded runs')

  runs
    .command('list')
    .description('list runs, newest first')
    .addOption(new Option('--status <status>', 'only runs with this status').choices(RunStatusSchema.options))
    .option('--model <id>', 'only runs of this model preset')
    .option('--dataset <id>', 'only runs on this dataset')
    .option('--tag <tag>', 'only runs with this tag')
    .option('--search <text>', 'text in the name or notes')
    .addOption(new Option('--sort <key>', 'sort key').choices(RunSortKeySchema.options).default('createdAt'))
    .option('--desc', 'descending (the default)')
    .option('--asc', 'ascending')
    .option('--limit <n>', 'at most this many rows (1-500)', positiveInt, 50)
    .option('--offset <n>', 'skip this many rows', (v) => Math.max(0, Math.floor(Number(v)) || 0), 0)
    .option('--json', 'print { rows, total } as JSON')
    .action(
      withStore((store, ...args) => {
        const o = args[0] as {
          status?: RunQuery['status']
          model?: string
          dataset?: string
          tag?: string
          search?: string
          sort: RunQuery['sortBy']
          desc?: boolean
          asc?: boolean
          limit: number
          offset: number
          json?: boolean
        }
        if (o.asc && o.desc) throw new StudioError('invalid_argument', 'Pass --asc or --desc, not both.')
        const result = store.list({
          status: o.status,
          model: o.model,
          dataset: o.dataset,
          tag: o.tag,
          search: o.search,
          sortBy: o.sort,
          sortDir: o.asc ? 'asc' : 'desc',
          limit: o.limit,
          offset: o.offset
        })
        if (o.json) {
          process.stdout.write(JSON.stringify(result, null, 2) + '\n')
          return
        }
        if (result.rows.length === 0) {
          process.stdout.write(result.total === 0 ? 'No runs.\n' : `No runs on this page (${result.total} in all).\n`)
          return
        }
        process.stdout.write(table(['id', 'name', 'status', 'model', 'dataset', 'epochs', 'best val', 'test acc', 'created', 'tags'], summaryRows(result.rows)))
        process.stdout.write(`${result.rows.length} of ${result.total} run(s)\n`)
      }, { readOnly: true })
    )

  runs
    .command('show')
    .argument('<id>', 'run id', runId)
    .description('a run: its config, epochs and test metrics')
    .option('--json', 'print the run record with its epochs as JSON')
    .action(
      withStore((store, ...args) => {
        const id = args[0] as number
        const o = args[1] as { json?: boolean }
        const run = store.get(id)
        if (o.json) process.stdout.write(JSON.stringify({ ...run, epochs: store.epochs(id) }, null, 2) + '\n')
        else process.stdout.write(showText(run, store))
      }, { readOnly: true })
    )

  runs
    .command('rm')
    .argument('<id>', 'run id', runId)
    .description('delete a run with its weights')
    .option('--yes', 'do not ask')
    .action(
      withStore(async (store, ...args) => {
        const id = args[0] as number
        const o = args[1] as { yes?: boolean }
        const run = store.get(id)
        if (!o.yes) {
          if (!process.stdin.isTTY) throw new StudioError('invalid_argument', `Not deleting run ${id} without confirmation: pass --yes.`)
          if (!(await confirm(`Delete run ${id} "${printable(run.name)}" and its weights? [y/N] `))) {
            process.stdout.write('Kept.\n')
            return
          }
        }
        store.delete(id)
        process.stdout.write(`Deleted run ${id} (${printable(run.name)}).\n`)
      })
    )

  runs
    .command('export')
    .argument('<id>', 'run id', runId)
    .argument('[path]', 'a .zip file or a folder (or --out)')
    .addOption(new Option('--format <format>', 'archive: the run as a zip; pytorch, onnx, tfjs: its weights as a folder').choices(['archive', 'pytorch', 'onnx', 'tfjs']).default('archive'))
    .option('--out <path>', 'where to write: the folder for pytorch/onnx/tfjs, a .zip or folder for archive')
    .description('write the run as a zip, or its weights for PyTorch, ONNX or tfjs')
    .action(
      withStore(async (store, ...args) => {
        const id = args[0] as number
        const o = args[2] as { format: 'archive' | 'pytorch' | 'onnx' | 'tfjs'; out?: string }
        const path = (args[1] as string | undefined) ?? o.out
        if (!path) throw new StudioError('invalid_argument', 'Say where to write: runs export <id> <path>, or --out <path>.')
        const where = o.format === 'archive' ? await store.exportRun(id, path) : await exportAs(store, args[3] as Command, id, o.format, path)
        process.stdout.write(`${printable(where)}\n`)
      }, { readOnly: true })
    )

  runs
    .command('import <zip>')
    .description('add a run exported by Conv Studio')
    .action(
      withStore(async (store, ...args) => {
        const run = await store.importRun(args[0] as string)
        process.stdout.write(`Imported as run ${run.id} (${printable(run.name)}).\n`)
      })
    )
}
