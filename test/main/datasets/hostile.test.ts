// Dataset import against hostile or degenerate IDX input (review D5, D7b, D13, and no directory
// listings in errors): real files, FIFOs and devices in temp folders, through the real DatasetStore.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeIdx } from '../../../src/core/data/idx'
import { DatasetStore } from '../../../src/main/services/datasets'
import { findIdxFiles, readIdxBytes } from '../../../src/main/services/datasets-io'

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'datasets-hostile-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'] as const

/** A folder of the four IDX files; `labels` are the train labels (test labels cycle 0..9). */
function idxFolder(name: string, labels: number[], testCount = 10): string {
  const folder = join(dir, name)
  mkdirSync(folder, { recursive: true })
  const n = labels.length
  writeFileSync(join(folder, NAMES[0]), encodeIdx([n, 8, 8], new Uint8Array(n * 64).fill(7)))
  writeFileSync(join(folder, NAMES[1]), encodeIdx([n], new Uint8Array(labels)))
  writeFileSync(join(folder, NAMES[2]), encodeIdx([testCount, 8, 8], new Uint8Array(testCount * 64).fill(7)))
  writeFileSync(join(folder, NAMES[3]), encodeIdx([testCount], Uint8Array.from({ length: testCount }, (_, i) => i % 10)))
  return folder
}

const tenClasses = Array.from({ length: 20 }, (_, i) => i % 10)
const store = () => new DatasetStore({ dataDir: join(dir, 'data') })

describe('gzip bombs (D7b)', () => {
  it('stops inflating at the size the IDX header declares', async () => {
    // A valid header for 10 images of 28x28 (7,856 bytes), then 8 MB of zeros.
    const head = encodeIdx([10, 28, 28], new Uint8Array(7840))
    const file = join(dir, 'train-images-idx3-ubyte.gz')
    writeFileSync(file, gzipSync(Buffer.concat([head, Buffer.alloc(8 * 1024 * 1024)])))
    await expect(readIdxBytes(file)).rejects.toThrow(/inflates to more than the 7,856 bytes its IDX header declares/)
    // The same file without the padding is read whole.
    writeFileSync(file, gzipSync(head))
    expect((await readIdxBytes(file)).length).toBe(7856)
  })

  it('refuses a header that declares more than the cap, and stops at a header it cannot use', async () => {
    const huge = Buffer.from([0, 0, 8, 3, 0, 0x10, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0])
    const file = join(dir, 'x.gz')
    writeFileSync(file, gzipSync(Buffer.concat([huge, Buffer.alloc(1024)])))
    await expect(readIdxBytes(file)).rejects.toThrow(/declares 68,719,476,752 bytes, more than the 1 GB an IDX file may hold/)
    // The review's bomb: zeros from the first byte (dtype 0x00), 64 MB of them in a small .gz.
    writeFileSync(file, gzipSync(Buffer.alloc(64 * 1024 * 1024)))
    const out = await readIdxBytes(file)
    expect(out.length).toBeLessThanOrEqual(64 * 1024)
  })
})

describe('files that are not regular files (D5)', () => {
  it('refuses a FIFO in place of an IDX file at once', { timeout: 5000 }, async () => {
    const folder = idxFolder('fifo', tenClasses)
    rmSync(join(folder, NAMES[0]))
    execFileSync('mkfifo', [join(folder, NAMES[0])])
    await expect(store().importFolder(folder)).rejects.toThrow(`${join(folder, NAMES[0])}: is a named pipe (FIFO), not a regular file`)
    await expect(store().importFiles(NAMES.map((n) => join(folder, n)))).rejects.toThrow(/is a named pipe \(FIFO\)/)
  })

  it('refuses /dev/zero behind an IDX file name', { timeout: 5000 }, async () => {
    const folder = idxFolder('zero', tenClasses)
    rmSync(join(folder, NAMES[1]))
    symlinkSync('/dev/zero', join(folder, NAMES[1]))
    await expect(store().importFolder(folder)).rejects.toThrow(`${join(folder, NAMES[1])}: is a character device, not a regular file`)
  })
})

describe('degenerate datasets (D13)', () => {
  it('refuses zero items', async () => {
    await expect(store().importFolder(idxFolder('empty', []))).rejects.toThrow(/train-images-idx3-ubyte: holds no images/)
    await expect(store().importFolder(idxFolder('empty-test', tenClasses, 0))).rejects.toThrow(/t10k-images-idx3-ubyte: holds no images/)
  })

  it('refuses labels that imply classes without images: all 255, a stray label, a single class', async () => {
    await expect(store().importFolder(idxFolder('all-255', new Array(20).fill(255)))).rejects.toThrow(
      /labels go up to 255, so 256 classes, but classes 0, 1, 2, 3, 4 and 250 more have no training images/
    )
    const stray = await store().importFolder(idxFolder('stray', [...tenClasses, 200])).catch((e: Error) => e.message)
    expect(stray).toMatch(/labels go up to 200, so 201 classes, but classes 10, 11, 12, 13, 14 and 185 more have no training images/)
    await expect(store().importFolder(idxFolder('one', new Array(20).fill(0)))).rejects.toThrow(/every label is 0/)
    expect((await store().list()).filter((d) => d.source === 'imported')).toEqual([])
    // The control: ten classes, each with images, import.
    expect(await store().importFolder(idxFolder('fine', tenClasses))).toMatchObject({ trainCount: 20, testCount: 10, classes: expect.any(Array) })
  })
})

describe('error messages', () => {
  it('name what is missing, never the folder contents', async () => {
    const folder = idxFolder('partial', tenClasses)
    rmSync(join(folder, NAMES[3]))
    writeFileSync(join(folder, 'id_rsa'), 'secret')
    writeFileSync(join(folder, 'passwords.txt'), 'secret')
    let message = ''
    try {
      findIdxFiles(folder)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toBe(`${folder}: missing t10k-labels-idx1-ubyte[.gz]`)
    await expect(store().importFolder(folder)).rejects.toThrow(/missing t10k-labels/)
    await expect(store().importFolder(folder)).rejects.not.toThrow(/id_rsa|passwords|train-images/)
    await expect(store().load(folder)).rejects.not.toThrow(/id_rsa|passwords/)
  })
})
