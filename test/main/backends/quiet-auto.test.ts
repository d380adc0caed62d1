// Dawn and the GPU drivers print warnings ("Couldn't load Vulkan: ... /home/runner/work/node-webgpu/...")
// to the process's stderr as soon as they load. `auto` reaches webgpu on every machine without
// tfjs-node; it must find out about the adapter without that noise reaching the user's terminal.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import type { BackendCandidate } from '../../../src/shared/domain'

function run(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script], { timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    )
  })
}

it('auto without the native packages passes webgpu by quietly: no Dawn or driver line on stderr', async () => {
  const r = await run(join(__dirname, 'auto-without-native.ts'))
  expect(r.code, r.stderr).toBe(0)
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { chosen: string; candidates: BackendCandidate[] }
  expect(['wasm', 'cpu', 'webgpu']).toContain(out.chosen)
  const webgpu = out.candidates.find((c) => c.name === 'webgpu')
  // It was considered, with a reason: a software adapter, no adapter, or (on a GPU machine) chosen.
  expect(webgpu?.reason ?? out.chosen).toBeTruthy()
  expect(r.stderr).not.toMatch(/vulkan|dawn|node-webgpu|Warning:/i)
}, 180_000)
