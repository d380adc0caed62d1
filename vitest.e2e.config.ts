import { defineConfig } from 'vitest/config'

// End-to-end: the real web-mode server, a real training process and Debian's Chromium.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false
  }
})
