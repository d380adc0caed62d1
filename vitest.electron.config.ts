import { defineConfig } from 'vitest/config'

// The desktop app itself: Playwright's _electron drives the built app (test/electron). Skips, saying
// why, where Electron cannot run (no display, no binary, no better-sqlite3 build for it).
export default defineConfig({
  test: {
    include: ['test/electron/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false
  }
})
