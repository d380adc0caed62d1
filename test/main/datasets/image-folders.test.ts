// Importing folders and zips of pictures: real files drawn and encoded by sharp (and by hand for
// BMP), real zips written by yazl, a real FIFO and a real symlink loop.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import yazl from 'yazl'
import { clearDatasetMemory, DatasetStore } from '../../../src/main/services/datasets'
import { COLOURS, drawShape, encode, makeShapesFolder } from '../../helpers/shapes'

let dir: string
let store: DatasetStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cs-imgs-'))
  store = new DatasetStore({ dataDir: join(dir, 'data') })
  clearDatasetMemory()
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const three = { 'red circle': ['circle', 'red'], 'blue square': ['square', 'blue'], 'grün △': ['triangle', 'green'] } as const

async function shapes(name = 'shapes', perClass = 10, extra: Partial<Parameters<typeof makeShapesFolder>[1]> = {}): Promise<string> {
  const root = join(dir, name)
  await makeShapesFolder(root, { classes: three as never, perClass, side: [20, 60], formats: ['png', 'jpeg', 'webp', 'gif', 'tiff', 'bmp'], ...extra })
  return root
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

function zipOf(root: string, files: Record<string, Uint8Array | string>, out: string): Promise<string> {
  const z = new yazl.ZipFile()
  for (const [name, data] of Object.entries(files)) z.addBuffer(Buffer.from(data), name)
  z.end()
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    z.outputStream.on('data', (c: Buffer) => chunks.push(c))
    z.outputStream.on('end', () => {
      writeFileSync(join(root, out), Buffer.concat(chunks))
      resolve(join(root, out))
    })
    z.outputStream.on('error', reject)
  })
}

function filesUnder(root: string, rel = ''): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {}
  for (const name of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${name.name}` : name.name
    if (name.isDirectory()) Object.assign(out, filesUnder(root, r))
    else out[r] = readFileSync(join(root, r))
  }
  return out
}

describe('importing a folder of pictures', () => {
  it('reads every format at mixed sizes, classes from folder names (spaces, Unicode), a seeded stratified split', async () => {
    const root = await shapes()
    const { info, report } = await store.importImages(root, 'shapes')
    expect(info).toMatchObject({ id: 'shapes', source: 'imported', status: 'ready', style: 'photos', channels: 3, imageSize: 32 })
    expect(report!.classes).toEqual(['blue square', 'grün △', 'red circle'])
    expect(report!.skipped).toEqual([])
    // 10 per class, 20% held out of each class.
    expect(report!.train.perClass).toEqual([8, 8, 8])
    expect(report!.test.perClass).toEqual([2, 2, 2])
    const data = await store.load('shapes')
    expect(data.train).toMatchObject({ count: 24, height: 32, width: 32, channels: 3 })
    expect(data.train.images.length).toBe(24 * 32 * 32 * 3)
    expect(data.classes).toEqual(report!.classes)
    // The same folder and seed give the same split.
    const again = await store.importImages(root, 'shapes-again')
    const b = await store.load('shapes-again')
    expect(Buffer.compare(Buffer.from(b.test.labels), Buffer.from(data.test.labels))).toBe(0)
    expect(again.report!.test.count).toBe(6)
  })

  it('keeps colour: a red circle is red in the cache (BMP and PNG alike)', async () => {
    const root = join(dir, 'two')
    for (const [cls, colour, fmt] of [['red', COLOURS.red, 'bmp'], ['blue', COLOURS.blue, 'png']] as const) {
      mkdirSync(join(root, cls), { recursive: true })
      for (let i = 0; i < 5; i++) writeFileSync(join(root, cls, `${i}.${fmt}`), await encode(drawShape('square', colour, 32, 32, () => 0.5, 0), 32, 32, fmt))
    }
    await store.importImages(root, 'two', { testSplit: 0.4 })
    const data = await store.load('two')
    const centre = (k: number) => Array.from(data.train.images.subarray(k * 3072 + (16 * 32 + 16) * 3, k * 3072 + (16 * 32 + 16) * 3 + 3))
    const byLabel = (l: number) => centre(data.train.labels.indexOf(l))
    // classes sorted: blue=0, red=1
    const [br, bg, bb] = byLabel(0)
    const [rr, rg, rb] = byLabel(1)
    expect(bb).toBeGreaterThan(br + 100)
    expect(bb).toBeGreaterThan(bg + 100)
    expect(rr).toBeGreaterThan(rg + 100)
    expect(rr).toBeGreaterThan(rb + 100)
  })

  it('gray pictures make a 1-channel set at 28 px by default; --channels 3 and --size override', async () => {
    const root = await shapes('gray', 5, { gray: true, formats: ['png', 'jpeg'] })
    const gray = await store.importImages(root, 'gray')
    expect(gray.report).toMatchObject({ channels: 1, size: 28 })
    expect((await store.load('gray')).train.channels ?? 1).toBe(1)
    const colour = await store.importImages(root, 'gray-rgb', { channels: 3, size: 40, policy: 'crop' })
    expect(colour.report).toMatchObject({ channels: 3, size: 40, policy: 'crop' })
    expect((await store.load('gray-rgb')).train.images.length).toBe(colour.report!.train.count * 40 * 40 * 3)
  })

  it('the fit policy pads a wide picture with black bars; stretch fills the frame', async () => {
    const root = join(dir, 'wide')
    for (const cls of ['a', 'b']) {
      mkdirSync(join(root, cls), { recursive: true })
      const white = new Uint8Array(64 * 16 * 3).fill(255)
      for (let i = 0; i < 3; i++) writeFileSync(join(root, cls, `${i}.png`), await encode(white, 64, 16, 'png'))
    }
    await store.importImages(root, 'wide-fit', { policy: 'fit', size: 16, testSplit: 0.34 })
    await store.importImages(root, 'wide-fill', { policy: 'stretch', size: 16, testSplit: 0.34 })
    const fit = (await store.load('wide-fit')).train.images
    const fill = (await store.load('wide-fill')).train.images
    expect(fit[0]).toBe(0) // top-left corner is a pad bar
    expect(fit[(8 * 16 + 8) * 3]).toBe(255)
    expect(fill[0]).toBe(255)
  })

  it('train/ and test/ (and val/) are kept as the folder says', async () => {
    const root = join(dir, 'split')
    await makeShapesFolder(root, { classes: three as never, perClass: 4, sub: 'train' })
    await makeShapesFolder(root, { classes: three as never, perClass: 2, sub: 'test', seed: 2 })
    await makeShapesFolder(root, { classes: three as never, perClass: 1, sub: 'val', seed: 3 })
    const { report } = await store.importImages(root, 'split')
    expect(report).toMatchObject({ layout: 'split', testSplit: null, valMerged: 3, train: { count: 15 }, test: { count: 6 } })
  })

  it('skips and lists stray, empty, truncated, text and non-image files with the reason; nothing silently dropped', async () => {
    const root = await shapes('messy', 5, { formats: ['png'] })
    const png = readFileSync(join(root, 'red circle', '00000.png'))
    writeFileSync(join(root, '.DS_Store'), 'x')
    writeFileSync(join(root, 'red circle', 'Thumbs.db'), 'x')
    writeFileSync(join(root, 'red circle', 'notes.txt'), 'these are my pictures')
    writeFileSync(join(root, 'red circle', 'empty.png'), '')
    writeFileSync(join(root, 'red circle', 'cut.png'), png.subarray(0, Math.floor(png.length / 2)))
    writeFileSync(join(root, 'README.md'), '# readme')
    writeFileSync(join(root, 'blue square', 'bad.bmp'), Buffer.from('BM' + 'x'.repeat(60)))
    const { report } = await store.importImages(root, 'messy')
    const reasons = Object.fromEntries(report!.skipped.map((s) => [s.file, s.reason]))
    expect(reasons['.DS_Store']).toMatch(/hidden|system/)
    expect(reasons['red circle/Thumbs.db']).toMatch(/system file/)
    expect(reasons['red circle/notes.txt']).toMatch(/not an image/)
    expect(reasons['red circle/empty.png']).toMatch(/empty/)
    expect(reasons['red circle/cut.png']).toMatch(/truncated|damaged/)
    expect(reasons['README.md']).toMatch(/not inside a class folder/)
    expect(reasons['blue square/bad.bmp']).toMatch(/BMP|truncated/)
    expect(report!.skipped).toHaveLength(7)
    expect(report!.train.count + report!.test.count).toBe(15)
  })

  it('reports exact duplicates inside a class, across classes and between train and test', async () => {
    const root = join(dir, 'dups')
    await makeShapesFolder(root, { classes: { a: ['circle', 'red'], b: ['square', 'blue'] }, perClass: 3, sub: 'train' })
    await makeShapesFolder(root, { classes: { a: ['circle', 'red'], b: ['square', 'blue'] }, perClass: 2, sub: 'test', seed: 9 })
    copyFileSync(join(root, 'train/a/00000.png'), join(root, 'train/a/copy.png'))
    copyFileSync(join(root, 'train/a/00001.png'), join(root, 'train/b/from-a.png'))
    copyFileSync(join(root, 'train/b/00002.png'), join(root, 'test/b/leak.png'))
    const { report } = await store.importImages(root, 'dups')
    const kinds = report!.duplicates.map((d) => [d.kind, d.files.sort()])
    expect(kinds).toEqual(
      expect.arrayContaining([
        ['class', ['train/a/00000.png', 'train/a/copy.png']],
        ['classes', ['train/a/00001.png', 'train/b/from-a.png']],
        ['leak', ['test/b/leak.png', 'train/b/00002.png']]
      ])
    )
    expect(report!.duplicates).toHaveLength(3)
  })

  it('refuses what makes no dataset, with one clear sentence, and lists nothing half-imported', async () => {
    const empty = join(dir, 'empty')
    mkdirSync(join(empty, 'cats'), { recursive: true })
    await makeShapesFolder(empty, { classes: { dogs: ['circle', 'red'] }, perClass: 3 })
    expect((await rejection(store.importImages(empty, 'e1'))).message).toMatch(/"cats" holds no readable pictures/)

    const single = join(dir, 'single')
    await makeShapesFolder(single, { classes: { dogs: ['circle', 'red'] }, perClass: 3 })
    expect((await rejection(store.importImages(single, 'e2'))).message).toMatch(/only one class \("dogs"\)/)

    const none = join(dir, 'none')
    mkdirSync(join(none, 'a'), { recursive: true })
    mkdirSync(join(none, 'b'), { recursive: true })
    writeFileSync(join(none, 'a', 'x.txt'), 'text')
    expect((await rejection(store.importImages(none, 'e3'))).message).toMatch(/none of its 1 files is a picture/)
    const nothing = join(dir, 'nothing')
    mkdirSync(nothing)
    expect((await rejection(store.importImages(nothing, 'e4'))).message).toMatch(/no pictures found/)

    const loop = await shapes('loop', 2, { formats: ['png'] })
    symlinkSync('..', join(loop, 'red circle', 'up'))
    expect((await rejection(store.importImages(loop, 'e5'))).message).toMatch(/symbolic link loop/)

    const fifo = join(dir, 'pipe')
    execFileSync('mkfifo', [fifo])
    const err = await rejection(store.importImages(fifo, 'e6'))
    expect(err.message).toMatch(/named pipe \(FIFO\), not a folder or a zip file/)

    expect((await rejection(store.importImages(join(dir, 'missing'), 'e7'))).message).toMatch(/no such file or folder/)
    expect((await store.list()).filter((d) => d.source === 'imported')).toEqual([])
    expect(readdirSync(join(dir, 'data', 'datasets')).filter((n) => !n.startsWith('.'))).toEqual([])
  })

  it('a FIFO inside a class folder is skipped with its reason, not waited on', async () => {
    const root = await shapes('fifo-in', 3, { formats: ['png'] })
    execFileSync('mkfifo', [join(root, 'red circle', 'pipe.png')])
    const { report } = await store.importImages(root, 'fifo-in')
    expect(report!.skipped).toEqual([{ file: 'red circle/pipe.png', reason: 'a named pipe (FIFO), not a picture' }])
  })

  it('a name already taken is refused; cancel leaves nothing behind', async () => {
    const root = await shapes('c', 4, { formats: ['png'] })
    await store.importImages(root, 'taken')
    expect((await rejection(store.importImages(root, 'taken'))).message).toMatch(/already exists/)
    const ctl = new AbortController()
    ctl.abort()
    expect((await rejection(store.importImages(root, 'cancelled', { signal: ctl.signal }))).message).toMatch(/cancelled/)
    expect(existsSync(join(dir, 'data', 'datasets', 'cancelled'))).toBe(false)
    expect((await store.list()).map((d) => d.id)).not.toContain('cancelled')
  })

  it('reports progress through both passes', async () => {
    const root = await shapes('p', 4, { formats: ['png'] })
    const phases = new Set<string>()
    let last = { done: 0, total: 0 }
    await store.importImages(root, 'p', { onProgress: (p) => (phases.add(p.phase), (last = p)) })
    expect([...phases]).toEqual(['scanning', 'decoding', 'writing', 'done'])
    expect(last).toMatchObject({ done: 12, total: 12 })
  })
})

describe('importing a zip of pictures', () => {
  it('reads the same set from a zip (its one top folder is the root)', async () => {
    const root = await shapes('z', 5, { formats: ['png', 'jpeg'] })
    const files = Object.fromEntries(Object.entries(filesUnder(root)).map(([k, v]) => [`z/${k}`, v]))
    files['__MACOSX/z/._00000.png'] = new TextEncoder().encode('x')
    const zip = await zipOf(dir, files, 'z.zip')
    const { report } = await store.importImages(zip, 'from-zip')
    const folder = await store.importImages(root, 'from-folder')
    expect(report!.classes).toEqual(folder.report!.classes)
    expect(report!.skipped.map((s) => s.reason)).toEqual(['a macOS resource fork, not a picture'])
    const a = await store.load('from-zip')
    const b = await store.load('from-folder')
    expect(Buffer.compare(Buffer.from(a.train.images), Buffer.from(b.train.images))).toBe(0)
  })

  it('refuses unsafe entry names and symlink entries before inflating anything', async () => {
    const png = await encode(drawShape('circle', COLOURS.red, 16, 16, () => 0.5), 16, 16, 'png')
    for (const [name, why] of [
      ['../evil/a.png', /"\.\." path segment/],
      ['/abs/a.png', /absolute path/],
      ['a\\b.png', /backslash/],
      ['c:/a.png', /colon/]
    ] as const) {
      // yazl refuses such names: write a same-length stand-in, then put the hostile bytes in its place.
      const stand = 'q'.repeat(name.length)
      const zip = await zipOf(dir, { 'x/a/1.png': png, 'x/b/1.png': png, [stand]: png }, 'bad.zip')
      writeFileSync(zip, Buffer.from(readFileSync(zip).toString('latin1').split(stand).join(name), 'latin1'))
      expect((await rejection(store.importImages(zip, 'bad'))).message).toMatch(why)
    }
    const z = new yazl.ZipFile()
    z.addBuffer(Buffer.from('../../etc/passwd'), 'a/link.png', { mode: 0o120777 })
    z.addBuffer(Buffer.from(png), 'b/1.png')
    z.end()
    const chunks: Buffer[] = []
    for await (const c of z.outputStream as AsyncIterable<Buffer>) chunks.push(c)
    writeFileSync(join(dir, 'link.zip'), Buffer.concat(chunks))
    expect((await rejection(store.importImages(join(dir, 'link.zip'), 'link'))).message).toMatch(/symbolic link/)
    writeFileSync(join(dir, 'not.zip'), 'hello')
    expect((await rejection(store.importImages(join(dir, 'not.zip'), 'not'))).message).toMatch(/not a readable zip/)
  })
})
