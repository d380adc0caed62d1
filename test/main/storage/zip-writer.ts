// A tiny zip writer for hostile archives: names no zip library would write (backslashes, drive
// letters, NUL), sizes the central directory lies about, corrupt data, symlink entries. Real zips
// byte for byte (local headers, central directory, end record), so the importer reads them as
// any other.
import { createHash } from 'node:crypto'
import { crc32, deflateRawSync } from 'node:zlib'

export interface ZipEntry {
  name: string
  data: Uint8Array
  /** 0 stored, 8 deflated (default). */
  method?: 0 | 8
  /** The uncompressed size both headers declare (default: the real one). */
  declaredSize?: number
  /** Replace the compressed bytes with garbage: inflating it fails ("invalid block type"). */
  corrupt?: boolean
  /** Unix mode in the external attributes, e.g. 0o120777 for a symlink. */
  mode?: number
}

export function writeZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8')
    const method = e.method ?? 8
    let data = method === 8 ? deflateRawSync(e.data) : Buffer.from(e.data)
    if (e.corrupt) data = Buffer.alloc(Math.max(16, data.length), 0xff)
    const crc = crc32(e.data)
    const size = e.declaredSize ?? e.data.length
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x0800, 6)
    local.writeUInt16LE(method, 8)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(size, 22)
    local.writeUInt16LE(name.length, 26)
    locals.push(local, name, data)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE((3 << 8) | 20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(method, 10)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(size, 24)
    central.writeUInt16LE(name.length, 28)
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38)
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)
    offset += 30 + name.length + data.length
  }
  const cd = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(cd.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, cd, end])
}

/** A manifest.json listing `files` as the exporter would. */
export function manifestFor(files: Record<string, Uint8Array>): Uint8Array {
  const manifest = {
    format: 'conv-studio-run',
    formatVersion: 1,
    exportedAt: new Date(0).toISOString(),
    files: Object.entries(files).map(([name, b]) => ({ name, size: b.byteLength, sha256: createHash('sha256').update(b).digest('hex') }))
  }
  return Buffer.from(JSON.stringify(manifest))
}
