// What the packaged app would hold, measured by electron-builder itself: `electron-builder --dir`
// with its real file selection (files, asarUnpack, extraResources, the production dependency walk)
// but a stub Electron distribution (electronDist), since downloading Electron is not always
// possible. Electron's own ~250 MB are therefore not counted; everything the config adds is.
//
//   node scripts/packed-size.js [--config electron-builder.yml] [--json]
//
// npmRebuild is forced off for the measurement: it rebuilds node_modules in place (see
// electron-builder.yml), which a measurement must never do.
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'
import { installedVersion, projectRoot } from './electron-sqlite.js'

const require = createRequire(import.meta.url)
const args = process.argv.slice(2)
const config = args.includes('--config') ? args[args.indexOf('--config') + 1] : 'electron-builder.yml'
const asJson = args.includes('--json')

/** The top-level group of a path inside the app: out/, package.json, node_modules/<pkg> (scoped as one). */
function groupOf(rel) {
  const parts = rel.split(/[\\/]/).filter(Boolean)
  if (parts[0] !== 'node_modules') return parts[0]
  return parts[1]?.startsWith('@') ? `node_modules/${parts[1]}/${parts[2]}` : `node_modules/${parts[1]}`
}

function add(totals, group, bytes) {
  totals.set(group, (totals.get(group) ?? 0) + bytes)
}

function walk(dir, fn) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    if (entry.isDirectory()) walk(p, fn)
    else if (entry.isFile()) fn(p, statSync(p).size)
  }
}

const work = mkdtempSync(join(tmpdir(), 'conv-studio-packed-'))
try {
  const stub = join(work, 'electron-dist')
  mkdirSync(join(stub, 'resources'), { recursive: true })
  writeFileSync(join(stub, 'electron'), '#!/bin/sh\n')
  chmodSync(join(stub, 'electron'), 0o755)
  for (const f of ['LICENSE', 'LICENSES.chromium.html', 'chrome-sandbox', 'version']) writeFileSync(join(stub, f), '')
  const electronVersion = installedVersion('electron') ?? process.env.ELECTRON_VERSION ?? '45.5.0'
  const builder = join(require.resolve('electron-builder/package.json'), '..', 'cli.js')
  const output = join(work, 'release')
  // The config as given, less what needs a real Electron binary (fuses are flipped in it) or would
  // touch node_modules (npmRebuild).
  const measured = join(work, 'measure.yml')
  writeFileSync(
    measured,
    [`extends: ${JSON.stringify(resolve(projectRoot, config))}`, `electronDist: ${JSON.stringify(stub)}`, `electronVersion: ${JSON.stringify(electronVersion)}`, 'electronFuses: null', 'npmRebuild: false', 'directories:', `  output: ${JSON.stringify(output)}`].join('\n') + '\n'
  )
  const r = spawnSync(
    process.execPath,
    [builder, '--dir', '--linux', '--x64', '--config', measured],
    { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, CSC_IDENTITY_AUTO_DISCOVERY: 'false' } }
  )
  if (r.status !== 0) {
    console.error(`packed-size: electron-builder failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`)
    process.exit(1)
  }
  const resources = join(output, 'linux-unpacked', 'resources')
  const totals = new Map()
  const asar = join(resources, 'app.asar')
  if (existsSync(asar)) {
    const { listPackage, statFile } = require('@electron/asar')
    for (const file of listPackage(asar, { isPack: false })) {
      const st = statFile(asar, file.slice(1), false)
      if (st && 'size' in st && !('files' in st) && !st.unpacked) add(totals, groupOf(file), st.size)
    }
  }
  if (existsSync(`${asar}.unpacked`)) walk(`${asar}.unpacked`, (p, size) => add(totals, groupOf(relative(`${asar}.unpacked`, p)), size))
  // extraResources: beside app.asar.
  for (const entry of readdirSync(resources)) {
    if (entry === 'app.asar' || entry === 'app.asar.unpacked') continue
    walk(join(resources, entry), (p, size) => add(totals, `resources/${relative(resources, p).split(sep)[0]}`, size))
  }
  const mb = (b) => Math.round((b / 1e6) * 10) / 10
  const total = [...totals.values()].reduce((a, b) => a + b, 0)
  // By top-level folder of the app (node_modules as one), then the largest packages.
  const top = new Map()
  for (const [g, b] of totals) add(top, g.startsWith('node_modules/') ? 'node_modules' : g, b)
  const packages = [...totals].filter(([g]) => g.startsWith('node_modules/')).sort((a, b) => b[1] - a[1])
  if (asJson) {
    console.log(JSON.stringify({ config, totalMB: mb(total), byTopLevel: Object.fromEntries([...top].map(([g, b]) => [g, mb(b)])), packages: Object.fromEntries(packages.map(([g, b]) => [g, mb(b)])) }, null, 2))
  } else {
    console.log(`${config}: ${mb(total)} MB besides Electron itself`)
    for (const [g, b] of [...top].sort((a, b) => b[1] - a[1])) console.log(`  ${String(mb(b)).padStart(8)} MB  ${g}`)
    console.log('  largest packages:')
    for (const [g, b] of packages.slice(0, 12)) console.log(`  ${String(mb(b)).padStart(8)} MB  ${g}`)
    console.log(`  (${packages.length} packages in all)`)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
