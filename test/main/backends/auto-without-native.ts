// `selectBackend('auto')` on a machine where the optional native packages are not installed (most
// users' machines: tfjs-node's libtensorflow download is optional), so auto walks on to webgpu.
// Run as a child process by quiet-auto.test.ts, which reads its stderr.
import Module from 'node:module'

// As if npm had skipped the optional dependencies: resolving them fails the way a missing package does.
const resolve = (Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string })._resolveFilename
;(Module as unknown as { _resolveFilename: typeof resolve })._resolveFilename = function (request: string, ...rest: unknown[]) {
  if (/^@tensorflow\/tfjs-node(-gpu)?(\/|$)/.test(request)) throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}

const { selectBackend, releaseBackends } = await import('../../../src/main/backends')
const selected = await selectBackend('auto')
process.stdout.write(JSON.stringify({ chosen: selected.name, candidates: selected.report.candidates }) + '\n')
releaseBackends()
