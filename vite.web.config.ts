import { resolve } from 'node:path'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The renderer as a plain web app, served by `npm run serve` (web mode). The Electron build of the
// same renderer comes from electron.vite.config.ts.
// Two entries: the page, and the Chromium training worker (src/worker) at a fixed name, worker.js,
// which the page starts by URL when a run trains in this browser's GPU (it never imports it).
export default defineConfig({
  root: resolve(__dirname, 'src/renderer'),
  base: './',
  plugins: [vue()],
  build: {
    outDir: resolve(__dirname, 'out/web'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      input: { index: resolve(__dirname, 'src/renderer/index.html'), worker: resolve(__dirname, 'src/worker/index.ts') },
      output: { entryFileNames: (chunk) => (chunk.name === 'worker' ? 'worker.js' : 'assets/[name]-[hash].js') }
    }
  }
})
