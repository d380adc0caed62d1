// `conv-studio`: the command-line host. Each command group lives in src/main/cli/<group>.ts and adds
// itself through register(program); the global --data-dir reaches them via cmd.optsWithGlobals().
// Exit status: 0 done, 1 failed, 2 used wrongly (commander's own complaints included), 130 cancelled.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { register as registerTrain } from './cli/train'
import { register as registerDatasets } from './cli/datasets'
import { register as registerDoctor } from './cli/doctor'
import { register as registerModels } from './cli/models'
import { register as registerPredict } from './cli/predict'
import { register as registerRuns } from './cli/runs'
import { register as registerInterop } from './cli/interop'
import { register as registerSweep } from './cli/sweep'
import { register as registerInspect } from './cli/inspect'
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
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    // Throw instead of process.exit(1), so main() gives usage errors status 2. Subcommands added
    // below inherit it.
    .exitOverride()
  registerDatasets(program)
  registerModels(program)
  registerTrain(program)
  registerSweep(program)
  registerRuns(program)
  registerPredict(program)
  registerDoctor(program)
  registerInterop(program)
  registerInspect(program)
  registerServe(program)
  return program
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version
}

/** A tool or script run with this Node; resolves its exit code (one line, not a stack, when it cannot start). */
function runNode(args: string[]): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' })
    const forward = () => child.kill('SIGTERM')
    process.once('SIGTERM', forward)
    child.on('error', (err) => {
      console.error(`conv-studio: could not start ${args[args.length - 1]}: ${err.message}`)
      done(1)
    })
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward)
      done(signal ? 1 : (code ?? 1))
    })
  })
}

/** `conv-studio serve`: web mode, the same as `npm run serve` (builds the page, then starts the server). */
function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start web mode: the app in a browser, at the URL it prints (the same as `npm run serve`)')
    .option('--port <port>', 'port to listen on (0 picks a free one)', process.env.PORT ?? '8765')
    .option('--host <host>', 'address to listen on; 0.0.0.0 makes it reachable from other machines', '127.0.0.1')
    .option('--allowed-host <name...>', 'more host names the server answers to (a DNS name in front of --host 0.0.0.0)')
    .option('--no-build', 'serve the page built last time (out/web) instead of building it first')
    .action(async (opts: { port: string; host: string; allowedHost?: string[]; build: boolean }, cmd: Command) => {
      const root = fileURLToPath(new URL('../..', import.meta.url))
      const require = createRequire(import.meta.url)
      if (opts.build) {
        const vite = resolve(root, 'node_modules/vite/bin/vite.js')
        const code = await runNode([vite, 'build', '--config', resolve(root, 'vite.web.config.ts'), '--logLevel', 'warn'])
        if (code !== 0) process.exit(code)
      }
      const { dataDir } = cmd.optsWithGlobals<{ dataDir?: string }>()
      const args = ['--port', opts.port, '--host', opts.host]
      for (const h of opts.allowedHost ?? []) args.push('--allowed-host', h)
      if (dataDir) args.push('--data-dir', dataDir)
      const tsx = pathToFileURL(require.resolve('tsx')).href
      process.exit(await runNode(['--import', tsx, resolve(root, 'src/main/server.ts'), ...args]))
    })
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
