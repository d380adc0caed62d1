// A restricted unpickler for what torch.save(model.state_dict()) writes (pickle protocol 2; 3-5
// opcodes too): an OrderedDict of tensors rebuilt by torch._utils._rebuild_tensor_v2 over storages
// named by persistent ids. Python's own unpickler imports and calls whatever a file names, so a
// .pth from the internet can run os.system; this one knows a short list of names and refuses any
// other the moment it is read. Nothing here ever calls into the file's choice of code: the few
// "calls" are interpreted by us, on values we built.

export class PickleError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PickleError'
  }
}

/** The storage dtypes a state dict uses, by torch's legacy storage class names. */
export const STORAGE_DTYPES = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool'
} as const
export type StorageDtype = (typeof STORAGE_DTYPES)[keyof typeof STORAGE_DTYPES]

export interface StorageRef {
  kind: 'storage'
  dtype: StorageDtype
  /** The zip entry under data/ that holds the bytes. */
  key: string
  numel: number
}

export interface TensorRef {
  kind: 'tensor'
  storage: StorageRef
  offset: number
  shape: number[]
  stride: number[]
}

interface Global {
  kind: 'global'
  name: string
}
interface Dict {
  kind: 'dict'
  entries: Map<unknown, unknown>
}
type Value = unknown

/** Names a state dict may contain; everything else is refused unread and uncalled. */
const ALLOWED = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`)
])

const isGlobal = (v: unknown, name?: string): v is Global =>
  typeof v === 'object' && v !== null && (v as Global).kind === 'global' && (name === undefined || (v as Global).name === name)
const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && (v as Dict).kind === 'dict'
const isStorage = (v: unknown): v is StorageRef => typeof v === 'object' && v !== null && (v as StorageRef).kind === 'storage'
const isTensor = (v: unknown): v is TensorRef => typeof v === 'object' && v !== null && (v as TensorRef).kind === 'tensor'

function intList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new PickleError(`a tensor's ${what} is not a tuple of whole numbers`)
  return v as number[]
}

function refuse(name: string): never {
  throw new PickleError(
    `the pickle names ${name}, which a PyTorch state_dict never contains; it was refused and nothing in the file was run. ` +
      'Save the weights with torch.save(model.state_dict(), path) or as .safetensors.'
  )
}

/** Applies one of the allowed callables to its arguments. */
function call(fn: Value, args: Value): Value {
  if (!isGlobal(fn)) throw new PickleError('the pickle calls something that is not a known name')
  if (!Array.isArray(args)) throw new PickleError(`the pickle calls ${fn.name} without an argument tuple`)
  switch (fn.name) {
    case 'collections.OrderedDict': {
      const d: Dict = { kind: 'dict', entries: new Map() }
      if (args.length > 0) throw new PickleError('OrderedDict is rebuilt with arguments, which torch.save never writes')
      return d
    }
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride] = args
      if (!isStorage(storage)) throw new PickleError('a tensor is rebuilt over something that is not a storage')
      if (!Number.isSafeInteger(offset) || (offset as number) < 0) throw new PickleError('a tensor has a bad storage offset')
      const shape = intList(size, 'shape')
      const strides = intList(stride, 'stride')
      if (strides.length !== shape.length) throw new PickleError(`a tensor has ${shape.length} dimensions but ${strides.length} strides`)
      // The last element it reads must lie inside the storage.
      const last = (offset as number) + shape.reduce((s, d, i) => s + (d > 0 ? (d - 1) * strides[i] : 0), 0)
      if (!shape.includes(0) && last >= storage.numel) throw new PickleError(`a tensor of shape [${shape.join(', ')}] reads past the end of its storage`)
      const t: TensorRef = { kind: 'tensor', storage, offset: offset as number, shape, stride: strides }
      return t
    }
    case 'torch._utils._rebuild_parameter': {
      if (!isTensor(args[0])) throw new PickleError('a parameter is rebuilt from something that is not a tensor')
      return args[0]
    }
    default:
      // Storage classes are only ever named inside persistent ids, never called.
      return refuse(fn.name)
  }
}

/** ('storage', torch.FloatStorage, '0', 'cpu', numel) as torch.save writes it. */
function persistentLoad(pid: Value): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length !== 5) throw new PickleError('the pickle has a persistent id that is not a tensor storage')
  const [, type, key, , numel] = pid
  if (!isGlobal(type)) throw new PickleError('a storage has no type')
  const dtype = STORAGE_DTYPES[type.name.replace(/^torch\./, '') as keyof typeof STORAGE_DTYPES]
  if (!dtype) refuse(type.name)
  if (typeof key !== 'string' || !/^[0-9A-Za-z_]{1,40}$/.test(key)) throw new PickleError('a storage has a bad key')
  if (!Number.isSafeInteger(numel) || (numel as number) < 0) throw new PickleError('a storage has a bad element count')
  return { kind: 'storage', dtype, key, numel: numel as number }
}

export interface StateDictEntry {
  name: string
  tensor: TensorRef
}

/**
 * Reads data.pkl of a torch zip checkpoint. Returns the tensors in the dict's order. A dict that
 * holds the state dict under 'state_dict' or 'model_state_dict' (a training checkpoint) is
 * unwrapped; non-tensor values beside it (epoch numbers, ...) are skipped.
 */
export function readStateDictPickle(bytes: Uint8Array): StateDictEntry[] {
  const root = unpickle(bytes)
  let dict = root
  if (isDict(root)) {
    for (const k of ['state_dict', 'model_state_dict', 'model']) {
      const inner = root.entries.get(k)
      if (isDict(inner)) dict = inner
    }
  }
  if (!isDict(dict)) throw new PickleError('the pickle does not hold a dict of tensors (a state_dict)')
  const out: StateDictEntry[] = []
  for (const [k, v] of dict.entries) {
    if (typeof k !== 'string') throw new PickleError('the state_dict has a key that is not a string')
    if (isTensor(v)) out.push({ name: k, tensor: v })
  }
  if (out.length === 0) throw new PickleError('the pickle holds no tensors')
  return out
}

/** The stack machine, for the opcodes protocols 2-5 use for dicts, tuples, numbers and strings. */
export function unpickle(bytes: Uint8Array): Value {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const text = new TextDecoder('utf-8', { fatal: true })
  let pos = 0
  let stack: Value[] = []
  const marks: Value[][] = []
  const memo = new Map<number, Value>()
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new PickleError('the pickle ends in the middle of a value (a truncated file?)')
  }
  const u8 = () => (need(1), bytes[pos++])
  const u16 = () => (need(2), (pos += 2), view.getUint16(pos - 2, true))
  const u32 = () => (need(4), (pos += 4), view.getUint32(pos - 4, true))
  const i32 = () => (need(4), (pos += 4), view.getInt32(pos - 4, true))
  const u64 = () => {
    need(8)
    const v = view.getBigUint64(pos, true)
    pos += 8
    if (v > BigInt(bytes.length)) throw new PickleError('the pickle declares a value longer than the file')
    return Number(v)
  }
  const str = (n: number) => {
    need(n)
    const s = text.decode(bytes.subarray(pos, pos + n))
    pos += n
    return s
  }
  const line = () => {
    const end = bytes.indexOf(10, pos)
    if (end < 0 || end - pos > 256) throw new PickleError('the pickle has a malformed name')
    const s = str(end - pos)
    pos++
    return s
  }
  const pop = (): Value => {
    if (stack.length === 0) throw new PickleError('the pickle pops an empty stack')
    return stack.pop()
  }
  const popMark = (): Value[] => {
    const items = stack
    const prev = marks.pop()
    if (!prev) throw new PickleError('the pickle has no mark to pop to')
    stack = prev
    return items
  }
  const top = (): Value => {
    if (stack.length === 0) throw new PickleError('the pickle reads an empty stack')
    return stack[stack.length - 1]
  }
  const global = (name: string): Global => {
    if (!ALLOWED.has(name)) refuse(name)
    return { kind: 'global', name }
  }
  const setItems = (d: Value, items: Value[]) => {
    if (!isDict(d)) throw new PickleError('the pickle sets items on something that is not a dict')
    if (items.length % 2) throw new PickleError('the pickle sets a key without a value')
    for (let i = 0; i < items.length; i += 2) d.entries.set(items[i], items[i + 1])
  }
  const signedLE = (n: number): number => {
    need(n)
    let v = 0n
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i])
    if (n > 0 && bytes[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n)
    pos += n
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError('the pickle holds an integer too large for a state_dict')
    return Number(v)
  }

  for (;;) {
    const op = u8()
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError('the pickle uses a protocol newer than 5')
        break
      case 0x95: // FRAME: a length hint only
        u64()
        break
      case 0x2e: // STOP
        if (stack.length !== 1) throw new PickleError('the pickle does not end with exactly one value')
        return stack[0]
      case 0x28: // MARK
        marks.push(stack)
        stack = []
        break
      case 0x63: // GLOBAL
        stack.push(global(`${line()}.${line()}`))
        break
      case 0x93: {
        // STACK_GLOBAL
        const name = pop()
        const mod = pop()
        if (typeof mod !== 'string' || typeof name !== 'string') throw new PickleError('the pickle names a global with non-strings')
        stack.push(global(`${mod}.${name}`))
        break
      }
      case 0x7d: // EMPTY_DICT
        stack.push({ kind: 'dict', entries: new Map() } satisfies Dict)
        break
      case 0x29: // EMPTY_TUPLE
      case 0x5d: // EMPTY_LIST
        stack.push([])
        break
      case 0x74: // TUPLE
      case 0x6c: {
        // LIST. Not stack.push(popMark()): that would push onto the array popMark replaces.
        const items = popMark()
        stack.push(items)
        break
      }
      case 0x85: // TUPLE1
        stack.push([pop()])
        break
      case 0x86: {
        // TUPLE2
        const b = pop()
        stack.push([pop(), b])
        break
      }
      case 0x87: {
        // TUPLE3
        const c = pop()
        const b = pop()
        stack.push([pop(), b, c])
        break
      }
      case 0x61: {
        // APPEND
        const v = pop()
        const l = top()
        if (!Array.isArray(l)) throw new PickleError('the pickle appends to something that is not a list')
        l.push(v)
        break
      }
      case 0x65: {
        // APPENDS
        const items = popMark()
        const l = top()
        if (!Array.isArray(l)) throw new PickleError('the pickle appends to something that is not a list')
        l.push(...items)
        break
      }
      case 0x73: {
        // SETITEM
        const v = pop()
        const k = pop()
        setItems(top(), [k, v])
        break
      }
      case 0x75: {
        // SETITEMS
        const items = popMark()
        setItems(top(), items)
        break
      }
      case 0x52: {
        // REDUCE
        const args = pop()
        stack.push(call(pop(), args))
        break
      }
      case 0x62: {
        // BUILD: torch.save sets the state dict's _metadata attribute (module versions) this way.
        const state = pop()
        if (!isDict(top()) || !isDict(state)) throw new PickleError('the pickle sets the state of something other than a dict')
        break
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()))
        break
      case 0x71: // BINPUT
        memo.set(u8(), top())
        break
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top())
        break
      case 0x94: // MEMOIZE
        memo.set(memo.size, top())
        break
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x68 ? u8() : u32()
        if (!memo.has(i)) throw new PickleError('the pickle refers to a value it never stored')
        stack.push(memo.get(i))
        break
      }
      case 0x4b: // BININT1
        stack.push(u8())
        break
      case 0x4d: // BININT2
        stack.push(u16())
        break
      case 0x4a: // BININT
        stack.push(i32())
        break
      case 0x8a: // LONG1
        stack.push(signedLE(u8()))
        break
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8)
        stack.push(view.getFloat64(pos, false))
        pos += 8
        break
      }
      case 0x58: // BINUNICODE
        stack.push(str(u32()))
        break
      case 0x8c: // SHORT_BINUNICODE
        stack.push(str(u8()))
        break
      case 0x8d: // BINUNICODE8
        stack.push(str(u64()))
        break
      case 0x88: // NEWTRUE
        stack.push(true)
        break
      case 0x89: // NEWFALSE
        stack.push(false)
        break
      case 0x4e: // NONE
        stack.push(null)
        break
      case 0x30: // POP
        pop()
        break
      default:
        throw new PickleError(`the pickle uses opcode 0x${op.toString(16).padStart(2, '0')} at byte ${pos - 1}, which a state_dict does not need; it was refused`)
    }
  }
}
