// Run import against hostile archives (review D2, D5, D7a, D8, D10): real zips written here with
// names, sizes and attributes no exporter would produce, imported through the real RunStore.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as path from 'node:path'
import { unzipSync } from 'fflate'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { RunStore } from '../../../src/main/services/runs'
import { entryNameProblem, resolveUnder } from '../../../src/main/storage/archive'
import { StudioError } from '../../../src/shared/contract'
import { CLASSES, config, confusion, epochRecord, tempDir, writeCheckpoint } from '../runs/helpers'
import { manifestFor, writeZip, type ZipEntry } from './zip-writer'

let dir: string
let store: RunStore
let files: Record<string, Uint8Array>

beforeEach(async () => {
  dir = tempDir('archive-hostile-')
  store = RunStore.open(dir)
  const run = store.create(config({ epochs: 2 }), { name: 'base', classes: CLASSES, paramCount: 10 })
  store.markStarted(run.id, { backend: 'cpu', device: null, libVersions: { tfjs: '4.22.0' } })
  for (let e = 1; e <= 2; e++) {
    store.recordEpoch(run.id, epochRecord(e), confusion(), new Uint8Array([1, 2, 3]), [
      { kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(run.id), `b${e}`), 64, e) },
      { kind: 'last', stagedDir: writeCheckpoint(join(store.stagingDir(run.id), `l${e}`), 64, e) }
    ])
  }
  store.finish(run.id, { status: 'completed', bestEpoch: 2, bestValAcc: 0.52 })
  files = unzipSync(readFileSync(await store.exportRun(run.id, join(dir, 'base.zip'))))
  delete files['manifest.json']
})
afterEach(() => store.close())

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8')
const bytes = (s: string) => new Uint8Array(Buffer.from(s))

/** A zip of `listed` with a manifest that lists them (hashes right), plus unlisted `extra` entries. */
function archive(listed: Record<string, Uint8Array>, extra: ZipEntry[] = [], opts: { entry?: (e: ZipEntry) => ZipEntry } = {}): string {
  const entries: ZipEntry[] = [{ name: 'manifest.json', data: manifestFor(listed) }, ...Object.entries(listed).map(([name, data]) => ({ name, data }))]
  const out = join(dir, `hostile-${Math.random().toString(36).slice(2)}.zip`)
  writeFileSync(out, writeZip([...entries.map(opts.entry ?? ((e) => e)), ...extra]))
  return out
}

function runJson(edit: (r: Record<string, unknown>) => void): Record<string, Uint8Array> {
  const r = JSON.parse(text(files['run.json'])) as Record<string, unknown>
  edit(r)
  return { ...files, 'run.json': bytes(JSON.stringify(r)) }
}

function state() {
  return {
    rows: store.db.prepare('SELECT COUNT(*) FROM runs').pluck().get(),
    folders: readdirSync(join(dir, 'runs')).sort()
  }
}

async function refusal(zip: string): Promise<string> {
  const before = state()
  const err = await store.importRun(zip).then(
    () => null,
    (e: unknown) => e
  )
  expect(err, zip).toBeInstanceOf(StudioError)
  // Nothing imported, no staging folder left behind.
  expect(state()).toEqual(before)
  return (err as StudioError).message
}

describe('entry names (D2), by the same rules on every OS', () => {
  it('refuses backslashes, colons, drive letters, NUL, absolute paths and dot segments', () => {
    const hostile = [
      'best/..\\..\\..\\..\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\x.cmd',
      'best\\weights.bin',
      'C:/Users/x.cmd',
      'c:x.cmd',
      'best/weights.bin:stream',
      '/etc/passwd',
      'best/../../x',
      'best/./weights.bin',
      'best//weights.bin',
      'best/weights\u0000.bin',
      'run\u001b[2J.json',
      ''
    ]
    for (const name of hostile) expect(entryNameProblem(name), JSON.stringify(name)).not.toBeNull()
    for (const name of ['best/weights.bin', 'predictions/epoch-12.bin', 'run.json', 'best/']) expect(entryNameProblem(name), name).toBeNull()
  })

  it('keeps every write under the staging folder with win32 and posix path rules alike', () => {
    const roots: [path.PlatformPath, string][] = [
      [path.win32, 'C:\\Users\\alice\\AppData\\Roaming\\conv-studio\\runs\\.import-1'],
      [path.posix, '/home/alice/.config/conv-studio/runs/.import-1']
    ]
    for (const [p, root] of roots) {
      expect(resolveUnder(root, 'best/weights.bin', p)).toBe(p.join(root, 'best', 'weights.bin'))
      // The review's D2 entry: with win32 rules, a join would land in the Startup folder.
      expect(p.join(root, ...'best/..\\..\\..\\..\\..\\x.cmd'.split('/')).startsWith(root)).toBe(p === path.posix)
      for (const name of ['best/..\\..\\..\\..\\..\\x.cmd', 'C:\\Windows\\x.cmd', 'D:/x', '../x', 'best/../../x', '/etc/x'])
        expect(() => resolveUnder(root, name, p), `${name} (${p === path.win32 ? 'win32' : 'posix'})`).toThrow(StudioError)
    }
  })
})

describe('hostile run archives', () => {
  it('imports the untouched archive (the control for every case below)', async () => {
    const run = await store.importRun(archive(files))
    expect(run.name).toBe('base')
    expect(readFileSync(join(store.weightsDir(run.id, 'best'), 'weights.bin'))).toEqual(Buffer.from(files['best/weights.bin']))
  })

  it('refuses the Windows zip-slip entry even when the manifest lists it with the right hash', async () => {
    const name = 'best/..\\..\\..\\..\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\conv-studio-pwn.cmd'
    const message = await refusal(archive({ ...files, [name]: bytes('echo pwned') }))
    expect(message).toMatch(/has a backslash in its name/)
    expect(existsSync(join(dir, 'runs', '..\\..\\..\\..\\Microsoft'))).toBe(false)
    for (const n of ['C:/x.cmd', '/tmp/x', 'best/../../x', 'best/w\u0000.bin'])
      expect(await refusal(archive({ ...files, [n]: bytes('x') }))).toMatch(/the entry .* (colon|absolute|segment|control)/)
  })

  it('refuses files the format does not define: extra weights, unknown names, deep folders, 20,000 files (D8)', async () => {
    expect(await refusal(archive({ ...files, 'best/extra.bin': new Uint8Array(1024) }))).toMatch(/best\/extra\.bin is not a weights file best\/model\.json names/)
    expect(await refusal(archive({ ...files, 'extra.txt': bytes('hi') }))).toMatch(/extra\.txt is not a file a run export has/)
    const deep = (levels: number) => 'best/' + Array.from({ length: levels }, (_, i) => `d${i}`).join('/') + '/x'
    expect(await refusal(archive({ ...files, [deep(30)]: bytes('x') }))).toMatch(/best\/d0\/d1.* is not a file a run export has/)
    expect(await refusal(archive({ ...files, [deep(140)]: bytes('x') }))).toMatch(/has an empty or overlong name/)
    const many: ZipEntry[] = Array.from({ length: 20_000 }, (_, i) => ({ name: `best/many/${i}.bin`, data: new Uint8Array(1), method: 0 }))
    expect(await refusal(archive(files, many))).toMatch(/holds 20\d{3} entries; a run export has at most/)
  })

  it('refuses symlink entries, duplicate names (also by case) and a second run.json', async () => {
    const link = archive(files, [], { entry: (e) => (e.name === 'best/weights.bin' ? { ...e, mode: 0o120777 } : e) })
    expect(await refusal(link)).toMatch(/best\/weights\.bin is a symbolic link/)
    const tampered = bytes(text(files['run.json']).replace('"base"', '"tampered"'))
    // The review's case: the tampered copy first, the original (which the manifest hashes) last.
    expect(await refusal(archive(files, [{ name: 'run.json', data: tampered }]))).toMatch(/run\.json appears twice/)
    expect(await refusal(archive(files, [{ name: 'BEST/weights.bin', data: new Uint8Array(4) }]))).toMatch(/appears twice/)
  })

  it('refuses an unlisted 1 GiB entry from the central directory alone, before inflating it (D7a)', async () => {
    // Its data is garbage: reading it would fail with an inflate error, not with these messages.
    const bomb = (name: string): ZipEntry => ({ name, data: new Uint8Array(4096), corrupt: true, declaredSize: 1024 ** 3 })
    expect(await refusal(archive(files, [bomb('predictions/epoch-9.bin')]))).toMatch(/predictions\/epoch-9\.bin is not listed in the manifest/)
    expect(await refusal(archive(files, [bomb('zeros.bin')]))).toMatch(/zeros\.bin is not a file a run export has/)
    // Listed, with the manifest agreeing on 1 GiB: refused by the format's cap on that kind of file.
    const huge = archive({ ...files, 'predictions/test.bin': new Uint8Array(4) }, [], {
      entry: (e) => (e.name === 'predictions/test.bin' ? bomb(e.name) : e.name === 'manifest.json' ? { ...e, data: bytes(text(e.data).replace(/("name":"predictions\/test\.bin","size":)4/, `$1${1024 ** 3}`)) } : e)
    })
    expect(await refusal(huge)).toMatch(/predictions\/test\.bin is 1073741824 bytes, more than a run export's/)
    // The control: the same garbage, listed with a small size, is read, and the read fails.
    const small = archive({ ...files, 'predictions/test.bin': new Uint8Array(4096) }, [], { entry: (e) => (e.name === 'predictions/test.bin' ? { ...e, corrupt: true } : e) })
    expect(await refusal(small)).toMatch(/predictions\/test\.bin cannot be unpacked \(invalid/)
  })

  it('takes names, tags, notes and class names without control characters, within the limits (D10)', async () => {
    const esc = '\u001b[2J\u001b[H\u001b]0;pwned-title\u0007\u001b[31m'
    const run = await store.importRun(
      archive(
        runJson((r) => {
          r.name = `ok${esc}FAKE\u009b`
          r.tags = [`t${esc}`, '\u0007']
          r.notes = `line 1\n\tline 2${esc}\r\nend`
          r.classes = CLASSES.map((c) => `${c}\u001b[1m`)
        })
      )
    )
    expect(run.name).toBe('ok[2J[H]0;pwned-title[31mFAKE')
    expect(run.tags).toEqual(['imported', 't[2J[H]0;pwned-title[31m'])
    expect(run.notes).toBe('line 1\n\tline 2[2J[H]0;pwned-title[31m\nend')
    expect(run.classes).toEqual(CLASSES.map((c) => `${c}[1m`))
    expect(await refusal(archive(runJson((r) => (r.name = 'x'.repeat(500)))))).toMatch(/run\.json: name: /)
    expect(await refusal(archive(runJson((r) => (r.classes = CLASSES.map((c) => c + 'x'.repeat(200))))))).toMatch(/run\.json: classes\.0: /)
    expect(await refusal(archive(runJson((r) => (r.tags = Array.from({ length: 40 }, (_, i) => `t${i}`)))))).toMatch(/run\.json: tags: /)
  })

  it("refuses a run whose config names a folder path instead of a dataset id (D8)", async () => {
    const cfg = JSON.parse(text(files['config.json'])) as Record<string, unknown>
    cfg.dataset = '/etc'
    const edited = runJson((r) => {
      r.dataset = '/etc'
      ;(r.config as Record<string, unknown>).dataset = '/etc'
    })
    expect(await refusal(archive({ ...edited, 'config.json': bytes(JSON.stringify(cfg)) }))).toMatch(/config\.json: dataset "\/etc" is not a dataset id/)
  })
})

describe('big archives (D7)', () => {
  it('streams 32 MB of weights out and back in, byte for byte, leaving no temp file', async () => {
    const run = store.create(config({ epochs: 1 }), { name: 'big', classes: CLASSES, paramCount: 10 })
    store.markStarted(run.id, { backend: 'cpu', device: null, libVersions: {} })
    const floats = 8 * 1024 * 1024
    store.recordEpoch(run.id, epochRecord(1), confusion(), new Uint8Array([1]), [
      { kind: 'best', stagedDir: writeCheckpoint(join(store.stagingDir(run.id), 'b'), floats, 3) }
    ])
    store.finish(run.id, { status: 'completed', bestEpoch: 1, bestValAcc: 0.5 })
    const out = join(dir, 'out')
    const zip = await store.exportRun(run.id, out)
    expect(readdirSync(out)).toEqual([zip.split('/').pop()])
    const back = await store.importRun(zip)
    const a = readFileSync(join(store.weightsDir(run.id, 'best'), 'weights.bin'))
    expect(a.length).toBe(floats * 4)
    expect(readFileSync(join(store.weightsDir(back.id, 'best'), 'weights.bin')).equals(a)).toBe(true)
  })
})

describe('archive paths that are not regular files (D5)', () => {
  it('refuses a FIFO and /dev/zero at once', { timeout: 5000 }, async () => {
    const fifo = join(dir, 'fifo.zip')
    execFileSync('mkfifo', [fifo])
    expect(await refusal(fifo)).toMatch(/fifo\.zip is not a valid Conv Studio run export: is a named pipe \(FIFO\), not a regular file/)
    expect(await refusal('/dev/zero')).toMatch(/\/dev\/zero is not a valid Conv Studio run export: is a character device, not a regular file/)
    expect(await refusal(dir)).toMatch(/is a folder, not a regular file/)
  })
})
