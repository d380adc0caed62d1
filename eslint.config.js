// ESLint flat config. Besides the usual rules it enforces the layering of docs/architecture.md:
//   shared <- everyone; core <- main; renderer imports only shared and browser libraries;
//   preload imports only shared and electron. A wrong arrow fails `npm run lint`.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import pluginVue from 'eslint-plugin-vue'
import vueParser from 'vue-eslint-parser'
import { builtinModules } from 'node:module'

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)]
const platformPackages = ['electron', 'better-sqlite3', 'sharp', 'ws', 'commander', 'cli-progress', 'fflate']

/** Restrictions per layer; exported so a test can check that they bite. */
export const layerRules = {
  core: {
    paths: [...nodeBuiltins, ...platformPackages, 'vue', 'pinia'].map((name) => ({
      name,
      message: 'src/core is pure: it may import tfjs and src/shared only (see docs/architecture.md).'
    })),
    patterns: [
      { group: ['**/main/**', '**/renderer/**', '**/preload/**'], message: 'src/core may import only src/shared.' }
    ]
  },
  renderer: {
    paths: [...nodeBuiltins, ...platformPackages].map((name) => ({
      name,
      message: 'The renderer is browser code: it talks to the services only through the StudioApi contract.'
    })),
    patterns: [
      { group: ['@tensorflow/*'], message: 'The renderer does not run models; the services do.' },
      { group: ['**/main/**', '**/core/**', '**/preload/**', '**/worker/**'], message: 'The renderer may import only src/shared (it starts the worker by URL).' }
    ]
  },
  shared: {
    paths: [...nodeBuiltins, ...platformPackages].map((name) => ({ name, message: 'src/shared has no runtime deps but zod.' })),
    patterns: [{ group: ['**/main/**', '**/core/**', '**/renderer/**', '**/preload/**', '@tensorflow/*'], message: 'src/shared imports nothing of ours.' }]
  },
  // The Chromium training worker: browser code that runs the core (tfjs and its browser backends).
  worker: {
    paths: [...nodeBuiltins, ...platformPackages, 'vue', 'pinia', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'webgpu'].map((name) => ({
      name,
      message: 'src/worker runs in a browser: it may import src/core, src/shared and browser tfjs backends only.'
    })),
    patterns: [{ group: ['**/main/**', '**/renderer/**', '**/preload/**'], message: 'src/worker may import only src/core and src/shared.' }]
  },
  preload: {
    paths: [],
    patterns: [{ group: ['**/main/**', '**/core/**', '**/renderer/**', '@tensorflow/*'], message: 'The preload imports only electron and src/shared.' }]
  }
}

export default tseslint.config(
  { ignores: ['out/**', 'dist/**', 'release/**', 'node_modules/**', 'docs/**', 'coverage/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...pluginVue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parser: vueParser, parserOptions: { parser: tseslint.parser, sourceType: 'module' } }
  },
  {
    rules: {
      // TypeScript already reports undefined names, with the right DOM/Node globals per tsconfig
      // (typescript-eslint's advice); ESLint's own check would need every global listed twice.
      'no-undef': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'vue/multi-word-component-names': 'off',
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off'
    }
  },
  { files: ['src/core/**'], rules: { 'no-restricted-imports': ['error', layerRules.core] } },
  { files: ['src/renderer/**'], rules: { 'no-restricted-imports': ['error', layerRules.renderer] } },
  { files: ['src/shared/**'], rules: { 'no-restricted-imports': ['error', layerRules.shared] } },
  { files: ['src/preload/**'], rules: { 'no-restricted-imports': ['error', layerRules.preload] } },
  { files: ['src/worker/**'], rules: { 'no-restricted-imports': ['error', layerRules.worker] } }
)
