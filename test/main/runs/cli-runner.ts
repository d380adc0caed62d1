// Runs the `runs` command group as src/main/cli.ts wires it: a commander program with the global
// --data-dir option. Used by cli.test.ts as a real child process.
import { Command } from 'commander'
import { register } from '../../../src/main/cli/runs'

const program = new Command('conv-studio').option('--data-dir <path>', 'the data folder')
register(program)
await program.parseAsync(process.argv)
