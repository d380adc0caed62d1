// `conv-studio predict --run <id> <files or folders...>`: what a trained run sees in your images.
// Folders are walked for images; every file gets a row, a file that cannot be read gets its reason.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join, relative } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { StudioError } from '../../shared/contract'
import { BackendNameSchema, type BackendName } from '../../shared/schemas'
import { defaultDataDir } from '../paths'
import { ImageDecodeError, MAX_FILE_BYTES } from '../services/image-decode'
import { Predictor, type WeightsKind } from '../services/predict'
import { RunStore } from '../services/runs'
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
      // Refuse a huge file before reading it into memory.
      const size = statSync(file).size
      if (size > MAX_FILE_BYTES) throw new ImageDecodeError('too_large', file, `the file is ${(size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_FILE_BYTES / 1024 / 1024} MB.`)
      bytes = readFileSync(file)
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
            shown(r.file),
            r.top[0].label,
            r.top[0].probability.toFixed(3),
            r.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join(', '),
            (r.milliseconds ?? 0).toFixed(1)
          ]
        : [shown(r.file), '-', '-', `error: ${r.error?.startsWith(r.file) ? r.error.slice(r.file.length + 2) : r.error}`, '-']
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
    .action(async (paths: string[], flags: PredictFlags, cmd: Command) => {
      const { dataDir } = cmd.optsWithGlobals() as { dataDir?: string }
      const { files, missing } = collectFiles(paths)
      for (const m of missing) process.stderr.write(`error: ${m}: no such file or folder\n`)
      if (files.length === 0) {
        process.stderr.write(`error: no images found in ${paths.join(', ')}\n`)
        process.exitCode = 1
        return
      }
      if (flags.backend) {
        const { selectBackend } = await import('../backends')
        await selectBackend(flags.backend)
      }
      let store: RunStore | null = null
      try {
        store = RunStore.open(dataDir ?? defaultDataDir())
        const rows = await predictFiles(store, flags, files)
        if (flags.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n')
        else process.stdout.write(rowsTable(rows, process.cwd()))
        if (missing.length > 0 || rows.some((r) => r.error)) process.exitCode = 1
      } catch (err) {
        if (!(err instanceof StudioError)) throw err
        process.stderr.write(`error: ${err.message}\n`)
        process.exitCode = 1
      } finally {
        store?.close()
      }
    })
}
