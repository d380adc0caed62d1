// TensorFlow's start-up notes never reach a user's terminal; its errors and everything else do.
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { withoutNativeNoise } from '../../../src/main/services/training'

async function filtered(chunks: string[]): Promise<string> {
  const input = new PassThrough()
  const out: Buffer[] = []
  const f = input.pipe(withoutNativeNoise())
  f.on('data', (b: Buffer) => out.push(b))
  const done = new Promise((r) => f.on('end', r))
  for (const c of chunks) input.write(c)
  input.end()
  await done
  return Buffer.concat(out).toString('utf8')
}

describe('withoutNativeNoise', () => {
  it("drops absl's INFO/WARNING notes (also split across chunks) and keeps errors and our own lines", async () => {
    const text = await filtered([
      'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\nI0000 00:00:1796134794.686852    8508 po',
      'rt.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.\n',
      'W0000 00:00:1796134794.7    8508 cpu_feature_guard.cc:42] This TensorFlow binary is optimized\n',
      'E0000 00:00:1796134794.9    8508 kernel.cc:7] Out of memory\n',
      '[training-process] Error: ENOSPC\n',
      'no newline at the end'
    ])
    expect(text).toBe('E0000 00:00:1796134794.9    8508 kernel.cc:7] Out of memory\n[training-process] Error: ENOSPC\nno newline at the end')
  })
})
