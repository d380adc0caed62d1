// Inside Electron (the desktop app's main and utility processes) dawn.node cannot work: Electron
// forbids the external ArrayBuffers it maps GPU buffers with. The backend says so instead of loading
// it. This file runs in its own vitest worker, which plays Electron by carrying process.versions.electron.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { selectBackend } from '../../../src/main/backends'
import { dawnWasLoaded } from '../../../src/main/backends/webgpu'

beforeAll(() => {
  Object.defineProperty(process.versions, 'electron', { value: '45.5.0', configurable: true, enumerable: true })
})
afterAll(() => {
  delete (process.versions as Record<string, string | undefined>).electron
})

describe('webgpu under Electron', () => {
  it('is refused with the reason, and Dawn is never loaded', async () => {
    await expect(selectBackend('webgpu')).rejects.toThrow(
      "Backend 'webgpu' is not available: not in the desktop app: Electron forbids the external buffers dawn.node uses; the CLI and web mode can use it"
    )
    expect(dawnWasLoaded()).toBe(false)
  })
})
