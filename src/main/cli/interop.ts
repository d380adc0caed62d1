// `conv-studio models import <file>` (PyTorch weights in, evaluated and recorded as an 'imported'
// run), `conv-studio runs predictions <id>` (every predicted class of a split), and the weight
// formats of `runs export --format pytorch|onnx|tfjs` (exportAs). They join the models and runs
// groups that cli/models.ts and cli/runs.ts create.
import { resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import type { RunRecord } from '../../shared/domain'
import { StudioError } from '../../shared/contract'
import { createServices } from '../services'
import { runPredictions } from '../interop/import-run'
import { exportWeights, type ExportFormat } from '../interop/export'
import { DatasetStore } from '../services/datasets'
import type { RunStore } from '../services/runs'
import { dataDirOf, exitCodeOf, printable, reportError, withStore } from './common'

function wholeNumber(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1')
  return n
}

function group(program: Command, name: string): Command {
  const found = program.commands.find((c) => c.name() === name)
  if (!found) throw new Error(`register the '${name}' commands before cli/interop`)
  return found
}

const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`)

export function register(program: Command): void {
  group(program, 'models')
    .command('import')
    .argument('<file>', 'a .pth/.pt written by torch.save(model.state_dict()), or a .safetensors file')
    .requiredOption('--model <preset>', 'the preset whose layers the weights fill (see models list)')
    .requiredOption('--dataset <id|folder>', 'evaluate on the test set of this dataset (an id or a folder of IDX files)')
    .option('--name <name>', 'the run name (default: the file name and dataset)')
    .option('--json', 'print the run as one JSON line: { runId, testAcc, testLoss, run }')
    .description('read PyTorch weights onto a preset, evaluate them on a test set and record an imported run')
    .action(async (file: string, o: { model: string; dataset: string; name?: string; json?: boolean }, cmd: Command) => {
      const services = await createServices({ dataDir: dataDirOf(cmd), host: 'cli' })
      try {
        if (!o.json) process.stderr.write(`Evaluating ${printable(file)} as ${printable(o.model)} on ${printable(o.dataset)} (in a worker process)…\n`)
        const reply = await services.handle('models.import', { path: resolve(file), model: o.model, dataset: o.dataset, ...(o.name ? { name: o.name } : {}) })
        if (!reply.ok) {
          reportError(reply.error.message, exitCodeOf(new StudioError(reply.error.code, reply.error.message)))
          return
        }
        const run = reply.value as RunRecord
        if (o.json) process.stdout.write(JSON.stringify({ runId: run.id, testAcc: run.testAcc, testLoss: run.testLoss, run }) + '\n')
        else process.stdout.write(`Imported as run ${run.id} (${printable(run.name)}): test accuracy ${pct(run.testAcc)}, loss ${run.testLoss?.toFixed(4) ?? '-'}.\n${printable(run.notes)}\n`)
      } finally {
        await services.close()
      }
    })

  group(program, 'runs')
    .command('predictions')
    .argument('<id>', 'run id', wholeNumber)
    .addOption(new Option('--split <split>', 'test: the test set in dataset order; val: an epoch\'s validation examples').choices(['test', 'val']).default('test'))
    .option('--epoch <n>', 'with --split val: this epoch (default: the best, else the last)', wholeNumber)
    .option('--json', 'print a JSON array (the default prints one class index per line)')
    .description('the predicted class of every example of a split')
    .action(
      withStore((store, ...args) => {
        const id = args[0] as number
        const o = args[1] as { split: 'test' | 'val'; epoch?: number; json?: boolean }
        const classes = runPredictions(store, { runId: id, split: o.split, epoch: o.epoch })
        process.stdout.write(o.json ? JSON.stringify(classes) + '\n' : classes.join('\n') + '\n')
      }, { readOnly: true })
    )
}

/**
 * `runs export --format pytorch|onnx|tfjs --out <dir>`: the run's weights as a folder for that
 * framework, with metadata.json. Returns the folder.
 */
export async function exportAs(store: RunStore, cmd: Command, runId: number, format: ExportFormat, out: string): Promise<string> {
  const run = store.get(runId)
  const style = (await new DatasetStore({ dataDir: dataDirOf(cmd) }).list()).find((d) => d.id === run.config.dataset)?.style ?? 'digits'
  return exportWeights(store, runId, format, resolve(out), style)
}
