// `conv-studio datasets list|info|import|download`: the dataset catalog from a terminal.
import { Presets, SingleBar } from 'cli-progress'
import type { Command } from 'commander'
import { StudioError } from '../../shared/contract'
import type { DatasetDetail, DatasetInfo, DownloadProgress } from '../../shared/domain'
import { DatasetStore } from '../services/datasets'
import { dataDirOf, exitCodeOf, printable, reportError } from './common'

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
    .description('import a folder holding the four IDX files (gz or raw), or the four files; they are checked, then copied into the data folder')
    .option('--title <title>', 'name shown in the catalog (default: the folder name)')
    .action(
      action(async (paths: string[], opts: { title?: string }, cmd: Command) => {
        const store = new DatasetStore({ dataDir: dataDirOf(cmd) })
        const info = paths.length === 1 ? await store.importFolder(paths[0], opts.title) : await store.importFiles(paths, opts.title)
        process.stdout.write(`imported ${printable(info.id)}: ${count(info.trainCount)} train, ${count(info.testCount)} test, ${info.classes.length} classes\n`)
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
