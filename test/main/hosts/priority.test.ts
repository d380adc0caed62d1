// Training yields the CPU to the window from its first instant: the Node spawner lowers the child's
// priority right after fork, before the child has loaded tsx, tfjs or the native addon (its own
// setPriority call only runs once those imports are done).
import { constants, getPriority } from 'node:os'
import { describe, expect, it } from 'vitest'
import { nodeSpawner } from '../../../src/main/services/training'

describe('training process priority', () => {
  it('is below normal as soon as fork returns', async () => {
    const child = nodeSpawner()()
    const exited = new Promise<void>((r) => child.onExit(() => r()))
    try {
      expect(child.pid).toBeTypeOf('number')
      expect(getPriority(child.pid!)).toBe(constants.priority.PRIORITY_BELOW_NORMAL)
    } finally {
      child.kill('SIGKILL')
      await exited
    }
  })
})
