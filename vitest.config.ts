import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'

// Unit and integration tests. Renderer tests opt into happy-dom with a file-level
// `// @vitest-environment happy-dom` comment; everything else runs in Node.
export default defineConfig({
  plugins: [vue()],
  test: {
    include: ['test/core/**/*.test.ts', 'test/main/**/*.test.ts', 'test/renderer/**/*.test.ts', 'test/worker/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
