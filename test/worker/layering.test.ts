// src/worker is browser code running the core: ESLint keeps Node, the services and the renderer out
// of it, and the renderer from importing it (the page starts it by URL). These lint offending code
// where it would live, proving the rules bite.
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const eslint = new ESLint({ cwd: process.cwd() })

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('src/worker layering', () => {
  it.each(['node:fs', 'better-sqlite3', 'electron', '@tensorflow/tfjs-node', 'webgpu', '../main/services/runs', '../renderer/src/api'])(
    'src/worker may not import %s',
    async (module) => {
      expect(await restricted('src/worker/offender.ts', `import x from '${module}'\nexport default x\n`)).toHaveLength(1)
    }
  )

  it('src/worker may import the core, src/shared and tfjs with its WebGPU backend', async () => {
    const code = `import * as tf from '@tensorflow/tfjs'\nimport '@tensorflow/tfjs-backend-webgpu'\nimport { train } from '../core/training/trainer'\nimport { frame } from '../shared/browser-gpu'\nexport const f = [tf, train, frame]\n`
    expect(await restricted('src/worker/fine.ts', code)).toEqual([])
  })

  it('the renderer may not import the worker', async () => {
    expect(await restricted('src/renderer/src/api/offender.ts', `import x from '../../../worker/index'\nexport default x\n`)).toHaveLength(1)
  })
})
