// Files from a drop, folders included: DataTransferItem.webkitGetAsEntry walks directories. The
// entries must be taken synchronously inside the drop event, before any await, or the browser
// empties the DataTransfer.

interface FsEntry {
  isFile: boolean
  isDirectory: boolean
  name: string
  fullPath: string
}
interface FsFileEntry extends FsEntry {
  file(ok: (f: File) => void, fail: (e: unknown) => void): void
}
interface FsDirEntry extends FsEntry {
  createReader(): { readEntries(ok: (entries: FsEntry[]) => void, fail: (e: unknown) => void): void }
}

export interface DroppedFile {
  /** Path inside the dropped folder, or the file name. */
  name: string
  file: File
}

const MAX_FILES = 2000

export function takeDropped(dt: DataTransfer | null): Promise<DroppedFile[]> {
  if (!dt) return Promise.resolve([])
  const entries: FsEntry[] = []
  const loose: File[] = []
  for (const item of Array.from(dt.items ?? [])) {
    if (item.kind !== 'file') continue
    const entry = (item as DataTransferItem & { webkitGetAsEntry?: () => FsEntry | null }).webkitGetAsEntry?.() ?? null
    if (entry) entries.push(entry)
    else {
      const f = item.getAsFile()
      if (f) loose.push(f)
    }
  }
  if (!entries.length && !loose.length) for (const f of Array.from(dt.files ?? [])) loose.push(f)
  return (async () => {
    const out: DroppedFile[] = loose.map((f) => ({ name: f.name, file: f }))
    for (const e of entries) await walk(e, out)
    return out
  })()
}

async function walk(entry: FsEntry, out: DroppedFile[]): Promise<void> {
  if (out.length >= MAX_FILES) return
  if (entry.isFile) {
    const file = await new Promise<File>((ok, fail) => (entry as FsFileEntry).file(ok, fail))
    out.push({ name: entry.fullPath.replace(/^\//, '') || file.name, file })
    return
  }
  if (!entry.isDirectory) return
  const reader = (entry as FsDirEntry).createReader()
  // readEntries returns the listing in chunks; an empty chunk ends it.
  for (;;) {
    const chunk = await new Promise<FsEntry[]>((ok, fail) => reader.readEntries(ok, fail))
    if (!chunk.length) break
    for (const child of chunk.sort((a, b) => a.name.localeCompare(b.name))) await walk(child, out)
  }
}

/** True while a drag carries files (not text or a link), so only file drags light the drop zone up. */
export function dragHasFiles(e: DragEvent): boolean {
  return Array.from(e.dataTransfer?.types ?? []).includes('Files')
}
