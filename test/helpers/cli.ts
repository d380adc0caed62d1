// Runs a CLI command group in this process, as the real program would (global --data-dir, the
// group's register()), with stdout/stderr captured and the exit code read and reset.
import { Command } from 'commander'
import { vi } from 'vitest'
import { exitCodeOfThrown } from '../../src/main/cli'

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export async function runCli(register: (program: Command) => void, dataDir: string, args: string[]): Promise<CliResult> {
  const program = new Command('conv-studio').option('--data-dir <path>', 'the data folder').exitOverride()
  register(program)
  let stdout = ''
  let stderr = ''
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true))
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true))
  process.exitCode = 0
  let code = 0
  try {
    await program.parseAsync(['--data-dir', dataDir, ...args], { from: 'user' })
  } catch (e) {
    // exitOverride turns commander's own exits (bad flags, --help) into throws; statuses as main() gives them.
    code = exitCodeOfThrown(e)
  } finally {
    out.mockRestore()
    err.mockRestore()
  }
  code ||= Number(process.exitCode ?? 0)
  process.exitCode = 0
  return { code, stdout, stderr }
}
