// The import layering of docs/architecture.md is enforced by ESLint; these tests prove the rule bites by linting
// offending code under the paths where it would live.
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const eslint = new ESLint({ cwd: process.cwd() })

async function restrictedImportMessages(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('import layering', () => {
  it.each(['node:fs', 'fs', 'electron', 'better-sqlite3', 'sharp', '../main/services/runs', '../renderer/src/main'])(
    'src/core may not import %s',
    async (module) => {
      const messages = await restrictedImportMessages('src/core/models/offender.ts', `import x from '${module}'\nexport default x\n`)
      expect(messages.length).toBe(1)
    }
  )

  it('src/core may import tfjs and src/shared', async () => {
    const code = `import * as tf from '@tensorflow/tfjs'\nimport type { ModelSpec } from '../../shared/schemas'\nexport const f = (s: ModelSpec) => tf.scalar(s.inputSize)\n`
    expect(await restrictedImportMessages('src/core/models/fine.ts', code)).toEqual([])
  })

  it.each(['node:path', 'better-sqlite3', 'electron', '@tensorflow/tfjs', '../../main/server', '../../core/models/presets'])(
    'the renderer may not import %s',
    async (module) => {
      const messages = await restrictedImportMessages('src/renderer/src/offender.ts', `import x from '${module}'\nexport default x\n`)
      expect(messages.length).toBe(1)
    }
  )

  it('the preload may not import services', async () => {
    const messages = await restrictedImportMessages('src/preload/offender.ts', `import x from '../main/services/index'\nexport default x\n`)
    expect(messages.length).toBe(1)
  })
})
