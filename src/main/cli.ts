// `conv-studio`: the command-line host. Each command group lives in src/main/cli/<group>.ts and adds
// itself through register(program); the global --data-dir reaches them via cmd.optsWithGlobals().
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { CliUsageError, register as registerTrain } from './cli/train'
import { register as registerDatasets } from './cli/datasets'
import { register as registerDoctor } from './cli/doctor'
import { register as registerModels } from './cli/models'
import { register as registerPredict } from './cli/predict'
import { register as registerRuns } from './cli/runs'

export function buildProgram(): Command {
  const program = new Command()
  program
    .name('conv-studio')
    .description('Train the classic convolutional networks, keep and compare every run.')
    .option('--data-dir <dir>', 'data folder (default: $CONV_STUDIO_DATA_DIR or the per-OS app data folder)')
    .showHelpAfterError()
  registerDatasets(program)
  registerModels(program)
  registerTrain(program)
  registerRuns(program)
  registerPredict(program)
  registerDoctor(program)
  return program
}

async function main(): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode)
    const message = err instanceof Error ? err.message : String(err)
    console.error(`conv-studio: ${message}`)
    process.exit(err instanceof CliUsageError ? 2 : 1)
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main()
