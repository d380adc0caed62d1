// `conv-studio datasets list|info|import|download`: the dataset catalog from a terminal.
import { Presets, SingleBar } from 'cli-progress'
import { InvalidArgumentError, type Command } from 'commander'
import { StudioError } from '../../shared/contract'
import type { DatasetDetail, DatasetInfo, DownloadProgress } from '../../shared/domain'
import { DatasetStore } from '../services/datasets'
import { basename, resolve } from 'node:path'
import type { ImageImportReport } from '../../shared/domain'
import { holdsIdx } from '../services/datasets-io'
import type { ResizePolicy } from '../services/image-decode'
import { dataDirOf, EXIT_USAGE, exitCodeOf, printable, reportError } from './common'

interface ImportFlags {
  name?: string
  title?: string
  size?: number
  channels: string
  policy: string
  testSplit: number
  json?: boolean
}

function intArg(v: string): number {
  const n = Number(v)
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got ${v}`)
  return n
}

/** A StudioError (bad id, corrupt file, failed download) becomes one line on stderr and its exit status. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await fn(...args)
    } catch (err) {
      if (!(err instanceof StudioError)) throw err
      reportError(err.message, exitCodeOf(err))
    }
  }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (/^[\d,]+$/.test(c) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

const count = (n: number | null) => (n === null ? '-' : n.toLocaleString('en-US'))

function infoText(d: DatasetDetail): string {
  const out = [
    `${printable(d.id)}: ${printable(d.title)}  [${d.status}, ${d.source}]`,
    `images ${d.imageSize}x${d.imageSize}  train ${count(d.trainCount)}  test ${count(d.testCount)}  style ${d.style}`
  ]
  if (d.note) out.push(`note: ${printable(d.note)}`)
  if (d.trainClassCounts.length) {
    out.push('')
    out.push(
      table(
        ['class', 'name', 'train', 'test'],
        d.classes.map((name, i) => [String(i), printable(name), count(d.trainClassCounts[i] ?? 0), count(d.testClassCounts[i] ?? 0)])
      ).trimEnd()
    )
  }
  return out.join('\n') + '\n'
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1)

export function register(program: Command): void {
  const datasets = program.command('datasets').description('list, inspect, import and download datasets')

  datasets
    .command('list')
    .description('the catalog: bundled, downloadable and imported datasets')
    .option('--json', 'print JSON')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const list: DatasetInfo[] = await new DatasetStore({ dataDir: dataDirOf(cmd) }).list()
        if (opts.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n')
        else
          process.stdout.write(
            table(
              ['id', 'title', 'source', 'status', 'train', 'test', 'classes'],
              list.map((d) => [printable(d.id), printable(d.title), d.source, d.status, count(d.trainCount), count(d.testCount), String(d.classes.length)])
            )
          )
      })
    )

  datasets
    .command('info <id>')
    .description('details of a dataset: counts per class, notes (a bundled one is converted on first use)')
    .option('--json', 'print JSON')
    .action(
      action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
        const detail = await new DatasetStore({ dataDir: dataDirOf(cmd) }).info(id)
        process.stdout.write(opts.json ? JSON.stringify(detail, null, 2) + '\n' : infoText(detail))
      })
    )

  datasets
    .command('import <paths...>')
    .description(
      'import a folder or .zip of pictures (<class>/* or train/<class>/* + test/<class>/*), CIFAR-10\'s extracted binary batches, ' +
        'or a folder holding the four IDX files (gz or raw) or the four files; told apart by what they hold'
    )
    .option('--name <id>', 'the dataset id (default: from the folder name)')
    .option('--title <title>', 'name shown in the catalog (default: the folder name)')
    .option('--size <n>', 'pictures: side of the cached square images (default 32 for colour, 28 for gray)', intArg)
    .option('--channels <c>', 'pictures: 1, 3 or auto (3 if any picture has colour)', 'auto')
    .option('--policy <p>', 'pictures: resize by stretch, fit (letterbox) or crop (centre)', 'stretch')
    .option('--test-split <f>', 'pictures in <class>/* folders: share of each class held out for test', Number, 0.2)
    .option('--json', 'print one JSON object: id, classes, train.count, test.count, skipped [{file, reason}], duplicates')
    .action(
      action(async (paths: string[], opts: ImportFlags, cmd: Command) => {
        if (!['auto', '1', '3'].includes(opts.channels)) return reportError(`--channels must be 1, 3 or auto, got ${printable(opts.channels)}`, EXIT_USAGE)
        if (!['stretch', 'fit', 'crop'].includes(opts.policy)) return reportError(`--policy must be stretch, fit or crop, got ${printable(opts.policy)}`, EXIT_USAGE)
        if (!(opts.testSplit > 0 && opts.testSplit < 1)) return reportError(`--test-split must be between 0 and 1 (exclusive), got ${opts.testSplit}`, EXIT_USAGE)
        const store = new DatasetStore({ dataDir: dataDirOf(cmd) })
        let info: DatasetInfo
        let report: ImageImportReport | null = null
        if (paths.length > 1) info = await store.importFiles(paths, opts.title)
        else if (holdsIdx(paths[0])) info = await store.importFolder(paths[0], opts.title)
        else {
          const ctl = new AbortController()
          const onSigint = () => ctl.abort()
          process.once('SIGINT', onSigint)
          const bar = new SingleBar(
            { format: '{phase} [{bar}] {value}/{total}', stream: process.stderr, noTTYOutput: false, clearOnComplete: true },
            Presets.shades_classic
          )
          let phase: string | null = null
          try {
            const name = opts.name ?? opts.title ?? basename(resolve(paths[0])).replace(/\.zip$/i, '')
            const r = await store.importImages(paths[0], name, {
              size: opts.size,
              channels: opts.channels === 'auto' ? 'auto' : (Number(opts.channels) as 1 | 3),
              policy: opts.policy as ResizePolicy,
              testSplit: opts.testSplit,
              signal: ctl.signal,
              onProgress: (p) => {
                if (!process.stderr.isTTY || opts.json) return
                if (p.phase !== phase && (p.phase === 'scanning' || p.phase === 'decoding')) {
                  if (phase) bar.stop()
                  bar.start(p.total, p.done, { phase: p.phase })
                  phase = p.phase
                } else bar.update(p.done, { phase: p.phase })
              }
            })
            info = r.info
            report = r.report
          } finally {
            if (phase) bar.stop()
            process.off('SIGINT', onSigint)
          }
        }
        if (opts.json) {
          process.stdout.write(
            JSON.stringify({
              id: info.id,
              classes: info.classes,
              channels: info.channels ?? 1,
              size: info.imageSize,
              train: { count: info.trainCount, perClass: report?.train.perClass ?? null },
              test: { count: info.testCount, perClass: report?.test.perClass ?? null },
              skipped: report?.skipped ?? [],
              duplicates: report?.duplicates ?? []
            }) + '\n'
          )
          return
        }
        process.stdout.write(`imported ${printable(info.id)}: ${count(info.trainCount)} train, ${count(info.testCount)} test, ${info.classes.length} classes\n`)
        if (report) {
          process.stdout.write(`${report.size}x${report.size}, ${report.channels === 3 ? 'colour' : 'gray'}, ${report.policy}${report.testSplit !== null ? `, ${report.testSplit} of each class held out for test` : ''}\n`)
          for (const s of report.skipped) process.stdout.write(`skipped ${printable(s.file)}: ${printable(s.reason)}\n`)
          const said = { class: 'the same picture twice in one class', classes: 'the same picture in two classes', leak: 'the same picture in train and in test' }
          for (const d of report.duplicates) process.stdout.write(`duplicate (${said[d.kind]}): ${d.files.map((f) => printable(f)).join(', ')}\n`)
        }
      })
    )

  datasets
    .command('download <id>')
    .description('download a dataset from its canonical mirrors (resumes, checks md5)')
    .option('--mirror <url...>', 'base URL(s) to try instead of the canonical mirrors (the md5s are still checked)')
    .action(
      action(async (id: string, opts: { mirror?: string[] }, cmd: Command) => {
        let bar: SingleBar | null = null
        let barFile: string | null = null
        const tty = process.stderr.isTTY === true
        const onProgress = (p: DownloadProgress) => {
          if (p.phase === 'downloading') {
            if (barFile !== p.file) {
              bar?.stop()
              barFile = p.file
              bar = new SingleBar(
                { format: '{file} [{bar}] {percentage}% | {got}/{size} MB', stream: process.stderr, noTTYOutput: !tty, notTTYSchedule: 5000 },
                Presets.shades_classic
              )
              bar.start(p.totalBytes ?? 0, p.receivedBytes, { file: p.file, got: mb(p.receivedBytes), size: p.totalBytes ? mb(p.totalBytes) : '?' })
            }
            if (p.totalBytes) bar?.setTotal(p.totalBytes)
            bar?.update(p.receivedBytes, { got: mb(p.receivedBytes), size: p.totalBytes ? mb(p.totalBytes) : '?' })
          } else if (p.phase === 'done' || p.phase === 'error') {
            bar?.stop()
            bar = null
            barFile = null
            // A failure's message is printed once, by action(), when download() rejects.
            if (p.phase === 'done') process.stderr.write(`${p.file}: md5 ok\n`)
          }
        }
        const ctl = new AbortController()
        const onSigint = () => ctl.abort()
        process.once('SIGINT', onSigint)
        try {
          const mirrors = opts.mirror ? { [id]: opts.mirror } : undefined
          const info = await new DatasetStore({ dataDir: dataDirOf(cmd), onProgress, mirrors }).download(id, ctl.signal)
          process.stdout.write(`${info.id} is ${info.status}: ${count(info.trainCount)} train, ${count(info.testCount)} test\n`)
        } finally {
          process.off('SIGINT', onSigint)
          ;(bar as SingleBar | null)?.stop()
        }
      })
    )
}
