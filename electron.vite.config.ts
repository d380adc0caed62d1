import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import vue from '@vitejs/plugin-vue'

// electron-vite externalises `dependencies` only. The optional ones (the native tfjs bindings,
// webgpu's dawn.node, electron) must stay external too: bundled, webgpu's index.js looks for
// dawn.node beside out/main/chunks (never there), and the build fails outright on an install
// without them. Read from package.json so a new optional package is covered without an edit here.
const pkg = JSON.parse(readFileSync(resolve(__dirname, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> }
const optionalDeps = Object.keys(pkg.optionalDependencies ?? {})

// electron-vite picks its node/chrome build targets from the installed electron package and throws
// when there is none (npm skips it on Node < 22.12, and web-only installs may omit it). Its own
// ELECTRON_MAJOR_VER override then comes from the range we declare, so the build still targets the
// Electron we ship.
if (!existsSync(resolve(__dirname, 'node_modules/electron/package.json')) && !process.env.ELECTRON_MAJOR_VER) {
  const major = /(\d+)/.exec(pkg.optionalDependencies?.electron ?? '')?.[1]
  if (major) process.env.ELECTRON_MAJOR_VER = major
}

export default defineConfig({
  main: {
    build: {
      externalizeDeps: { include: optionalDeps },
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          // The training child process is its own entry: Electron starts it with utilityProcess.fork.
          'training-process': resolve(__dirname, 'src/main/training-process.ts')
        }
      }
    }
  },
  preload: {
    // A sandboxed preload cannot be ESM and may require only 'electron': CommonJS, named .cjs since
    // package.json says "type": "module".
    // Two: the main window's (the StudioApi bridge) and the hidden GPU window's (forwards its port).
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts'), 'gpu-window': resolve(__dirname, 'src/preload/gpu-window.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' }
      }
    }
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [vue()],
    // The page, the hidden GPU window's page, and the Chromium training worker at a fixed name,
    // worker.js, which both start by URL (as in vite.web.config.ts).
    build: {
      chunkSizeWarningLimit: 1500,
      rollupOptions: {
        input: {
          index: resolve(__dirname, 'src/renderer/index.html'),
          'gpu-window': resolve(__dirname, 'src/renderer/gpu-window.html'),
          worker: resolve(__dirname, 'src/worker/index.ts')
        },
        output: { entryFileNames: (chunk) => (chunk.name === 'worker' ? 'worker.js' : 'assets/[name]-[hash].js') }
      }
    }
  }
})
