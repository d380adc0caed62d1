// `conv-studio`: the command-line host. Each command group lives in src/main/cli/<group>.ts and adds
// itself through register(program); the global --data-dir reaches them via cmd.optsWithGlobals().
// Exit status: 0 done, 1 failed, 2 used wrongly (commander's own complaints included), 130 cancelled.
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { register as registerTrain } from './cli/train'
import { register as registerDatasets } from './cli/datasets'
import { register as registerDoctor } from './cli/doctor'
import { register as registerModels } from './cli/models'
import { register as registerPredict } from './cli/predict'
import { register as registerRuns } from './cli/runs'
import { CliUsageError, EXIT_FAILURE, EXIT_USAGE, printable } from './cli/common'

/**
 * The status for what an action or commander threw: commander's help and version exits keep their
 * 0, its other errors (unknown option, missing argument, a value its parser refused) are usage errors.
 */
export function exitCodeOfThrown(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE
  return err instanceof CliUsageError ? EXIT_USAGE : EXIT_FAILURE
}

export function buildProgram(): Command {
  const program = new Command()
  program
    .name('conv-studio')
    .description('Train the classic convolutional networks, keep and compare every run.')
    .option('--data-dir <dir>', 'data folder (default: $CONV_STUDIO_DATA_DIR or the per-OS app data folder)')
    .showHelpAfterError()
    // Throw instead of process.exit(1), so main() gives usage errors status 2. Subcommands added
    // below inherit it.
    .exitOverride()
  registerDatasets(program)
  registerModels(program)
  registerTrain(program)
  registerRuns(program)
  registerPredict(program)
  registerDoctor(program)
  return program
}

/** `runs list | head -1`: the reader has gone, so there is nobody left to tell; end quietly. */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode))
    throw err
  })
}

async function main(): Promise<void> {
  quietOnClosedPipe(process.stdout)
  quietOnClosedPipe(process.stderr)
  const program = buildProgram()
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    // Commander has already printed its own message (and the help after it).
    if (!(err instanceof CommanderError)) {
      const message = err instanceof Error ? err.message : String(err)
      process.stderr.write(`conv-studio: ${printable(message.split('\n')[0])}\n`)
    }
    process.exit(exitCodeOfThrown(err))
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main()
