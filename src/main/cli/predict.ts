// `conv-studio predict --run <id> <files or folders...>`: what a trained run sees in your images.
// Folders are walked for images; every file gets a row, a file that cannot be read gets its reason.
import { readdirSync, statSync } from 'node:fs'
import { extname, join, relative } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { BackendNameSchema, type BackendName } from '../../shared/schemas'
import { ImageDecodeError, readImageFile } from '../services/image-decode'
import { Predictor, type WeightsKind } from '../services/predict'
import type { RunStore } from '../services/runs'
import { printable, reportError, withStore } from './common'
import { table } from './runs'

/** Extensions picked up when walking a folder; files named explicitly are always tried. */
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.bmp'])

interface PredictFlags {
  run: number
  weights: WeightsKind
  top: number
  json?: boolean
  backend?: BackendName
}

export interface PredictRow {
  file: string
  top: { classIndex: number; label: string; probability: number }[] | null
  milliseconds: number | null
  error: string | null
}

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`)
    return n
  }
}

/** Files named, and the images inside folders named (recursively, sorted), in the order given. */
export function collectFiles(inputs: string[]): { files: string[]; missing: string[] } {
  const files: string[] = []
  const missing: string[] = []
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
    for (const e of entries) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) files.push(p)
    }
  }
  for (const input of inputs) {
    let st
    try {
      st = statSync(input)
    } catch {
      missing.push(input)
      continue
    }
    if (st.isDirectory()) walk(input)
    else files.push(input)
  }
  return { files, missing }
}

export async function predictFiles(store: RunStore, flags: PredictFlags, files: string[]): Promise<PredictRow[]> {
  const predictor = new Predictor({ runs: store })
  const rows: PredictRow[] = []
  for (const file of files) {
    let bytes: Uint8Array
    try {
      // Regular files only, at most the limit: a FIFO or /dev/zero gets its row instead of a hang.
      bytes = readImageFile(file)
    } catch (err) {
      rows.push({ file, top: null, milliseconds: null, error: err instanceof ImageDecodeError ? err.message : `${file}: cannot be read (${err instanceof Error ? err.message : String(err)})` })
      continue
    }
    try {
      const r = await predictor.predictFile(flags.run, flags.weights, file, bytes, flags.top)
      rows.push({ file, top: r.top, milliseconds: r.milliseconds, error: null })
    } catch (err) {
      // Only a problem of this file is a row; a missing run or damaged weights stop the command.
      if (!(err instanceof ImageDecodeError)) throw err
      rows.push({ file, top: null, milliseconds: null, error: err.message })
    }
  }
  predictor.evict()
  return rows
}

function rowsTable(rows: PredictRow[], base: string): string {
  const shown = (f: string) => {
    const r = relative(base, f)
    return r && !r.startsWith('..') ? r : f
  }
  return table(
    ['file', 'label', 'prob', 'top', 'ms'],
    rows.map((r) =>
      r.top
        ? [
            printable(shown(r.file)),
            printable(r.top[0].label),
            r.top[0].probability.toFixed(3),
            printable(r.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join(', ')),
            (r.milliseconds ?? 0).toFixed(1)
          ]
        : [printable(shown(r.file)), '-', '-', printable(`error: ${r.error?.startsWith(r.file) ? r.error.slice(r.file.length + 2) : r.error}`), '-']
    )
  )
}

export function register(program: Command): void {
  program
    .command('predict')
    .description("Predict the class of your own images with a run's weights (folders are searched for images).")
    .argument('<paths...>', 'image files or folders')
    .requiredOption('--run <id>', 'run id', wholeNumber(1, Number.MAX_SAFE_INTEGER))
    .addOption(new Option('--weights <kind>', 'which checkpoint').choices(['best', 'last']).default('best'))
    .option('--top <k>', 'how many classes to show', wholeNumber(1, 10), 3)
    .option('--json', 'print JSON instead of a table')
    .addOption(new Option('--backend <name>', 'tfjs backend (default: the pure-JS cpu backend, enough for LeNet)').choices(BackendNameSchema.options))
    .action(
      withStore(
        async (store, paths: string[], flags: PredictFlags) => {
          const { files, missing } = collectFiles(paths)
          for (const m of missing) reportError(`${m}: no such file or folder`)
          if (files.length === 0) {
            reportError(`no images found in ${paths.join(', ')}`)
            return
          }
          if (flags.backend) {
            const { selectBackend } = await import('../backends')
            await selectBackend(flags.backend)
          }
          const rows = await predictFiles(store, flags, files)
          if (flags.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n')
          else process.stdout.write(rowsTable(rows, process.cwd()))
          if (missing.length > 0 || rows.some((r) => r.error)) process.exitCode = 1
        },
        { readOnly: true }
      )
    )
}
