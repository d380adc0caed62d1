// What every command group shares: where the data folder is, how a failure is printed and which
// exit status it gets (2: the command was used wrongly; 1: it failed), opening the run store for one
// command, and making stored text safe to print.
import type { Command } from 'commander'
import { StudioError } from '../../shared/contract'
import { defaultDataDir } from '../paths'
import { RunStore } from '../services/runs'

/** A problem with what the user asked for: printed as one line, exit status 2. */
export class CliUsageError extends Error {}

export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2

export function dataDirOf(cmd: Command): string {
  const opts = cmd.optsWithGlobals() as { dataDir?: string }
  return opts.dataDir ?? defaultDataDir()
}

// C0 controls, DEL and C1 controls (0x9b is a one-byte CSI on some terminals). Matching them is the point.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g

/**
 * Text from the data folder (run names, tags, notes, class names, error messages) as the terminal
 * should see it: control characters written out as \xNN, so an imported name cannot clear the
 * screen, retitle the window or forge lines. `multiline` keeps line breaks (notes).
 */
export function printable(text: string, multiline = false): string {
  return text.replace(multiline ? CONTROL_BUT_NEWLINE : CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** One line on stderr and the exit status that goes with it. */
export function reportError(message: string, code: number = EXIT_FAILURE): void {
  process.stderr.write(`error: ${printable(message)}\n`)
  process.exitCode = code
}

/** A StudioError's exit status: a bad argument is a usage error, everything else a failure. */
export function exitCodeOf(err: StudioError): number {
  return err.code === 'invalid_argument' ? EXIT_USAGE : EXIT_FAILURE
}

/**
 * Wraps a command's action: opens the run store (read-only where the folder cannot be written and
 * the command only reads), turns a StudioError into one line on stderr with its exit status, and
 * closes the store. Commander passes the command last.
 */
export function withStore<A extends unknown[]>(fn: (store: RunStore, ...args: A) => void | Promise<void>, opts: { readOnly?: boolean } = {}) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as Command
    let store: RunStore | null = null
    try {
      const dir = dataDirOf(cmd)
      store = RunStore.open(dir, { allowReadOnly: opts.readOnly === true })
      if (store.readOnly) process.stderr.write(`note: ${printable(dir)} is not writable; the runs are opened read-only.\n`)
      await fn(store, ...args)
    } catch (err) {
      if (!(err instanceof StudioError)) throw err
      reportError(err.message, exitCodeOf(err))
    } finally {
      store?.close()
    }
  }
}
