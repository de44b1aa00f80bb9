/**
 * Reset-in-place: the state of a component instance right after it was
 * instantiated, and the means to put an instance back into it after a
 * request, so the next request sees exactly what a fresh instance would.
 *
 * Why: V8 has no copy-on-write memory, so a fresh componentize-js instance
 * costs a copy of all its memory plus the glue's set-up; a request writes a
 * small part of that memory, and only that part is put back
 * (docs/perf/001-reset-in-place.md).
 *
 * What the guest can reach, and how each part is put back:
 * - linear memories: a module the loader could rewrite for write tracking
 *   (wasm-rewrite's `trackWrites`) marks every 1 KiB block it or the host writes
 *   in its `alga-reset:dirty` map; the snapshot keeps its image of the
 *   memory in that map's memory, and a small wasm kernel
 *   (wasm-rewrite's `restoreKernel`) puts back the differing 16-byte vectors of
 *   the marked blocks (and of the first 16 bytes after each, for a store
 *   that straddles). Otherwise every 4 KiB page is compared against the
 *   snapshot (memcmp through `Buffer#compare`). A memory that grew cannot
 *   be shrunk, so the instance is discarded;
 * - mutable globals the modules define (the shadow-stack pointer and the
 *   like): read and restored through the `alga-reset:global:N` exports that
 *   the loader adds (wasm-rewrite's `exposeResetState`);
 * - mutable globals the modules import (jco's instance flags): restored
 *   from their snapshot value;
 * - tables: when some module's code can write a table, copied back from a
 *   snapshot table with one `table.copy` (a tiny helper module: comparing
 *   ~8,000 funcref entries from JS costs more than the whole memory check).
 *   When no module can (the loader proves it by decoding every function),
 *   only their length is checked. A table that grew is discarded;
 * - the JS glue's own per-instance state (jco's task bookkeeping, the
 *   may-leave flag, the trapped flag) returns to its idle state after every
 *   call that completed; a call that trapped or threw discards the instance.
 *   Its handle tables hold the WASI resources (timers' pollables, streams)
 *   a guest has not dropped: a request that leaves one is replaced, not
 *   restored (the guest host's resource ledger, wasi/index.ts), so after a
 *   restore they hold what they held at the snapshot. Only the numbering of
 *   freed handles may differ from a fresh instance.
 */
import { WASM_PAGE_BYTES } from '@alga-psa/wasm-rewrite';
import { RESET_EXPORT_PREFIX } from '@alga-psa/wasm-rewrite';
import { restoreKernel } from '@alga-psa/wasm-rewrite';
import { DIRTY_BLOCK_SHIFT, DIRTY_EXPORT, DIRTY_IMPORT, MAP_BYTES } from '@alga-psa/wasm-rewrite';

/** A memory whose module marks its writes: restored by the kernel from the image in its map's memory. */
interface TrackedMemory {
  memory: WebAssembly.Memory;
  byteLength: number;
  /** Write-map blocks the memory spans. */
  blocks: number;
  /** Restores the marked blocks, clears their marks, returns how many differed (restore-kernel.ts). */
  restore: (blocks: number) => number;
  /** Bytes of the image that hold data (its pages of zeros are never written, so never resident). */
  imageBytes: number;
}

/** A memory without a write map: every page is compared with the saved copy. */
interface ComparedMemory {
  memory: WebAssembly.Memory;
  byteLength: number;
  /** Per 4 KiB page: where its saved bytes start in `saved`, or -1 for a page of zeros. */
  offsets: Int32Array;
  saved: Buffer;
}

type MemoryState = TrackedMemory | ComparedMemory;

const isTracked = (state: MemoryState): state is TrackedMemory => 'restore' in state;

interface GlobalState {
  global: WebAssembly.Global;
  value: unknown;
}

interface TableState {
  table: WebAssembly.Table;
  length: number;
  /** Copies the snapshot's entries back over the live table; absent when no code can write it. */
  restore?: () => void;
}

export interface CaptureOptions {
  /**
   * Whether any module's code can write a table after instantiation (the
   * loader decides by decoding the code). Default true: restore them.
   */
  tablesWritable?: boolean;
}

/** Why an instance could not be restored and must be discarded. */
export type DiscardReason = 'memory-grew' | 'table-changed' | 'global-unwritable';

export interface RestoreResult {
  /** Undefined when the instance is back in its snapshot state. */
  discard?: DiscardReason;
  /** 1 KiB blocks that differed from the snapshot and were put back (a memory without a write map counts each 4 KiB page as 4). */
  dirtyBlocks: number;
}

/** Collects the core instances a component instantiation creates, with the imports each got. */
export class InstanceRecorder {
  readonly instances: Array<{
    instance: WebAssembly.Instance;
    module: WebAssembly.Module;
    imports?: WebAssembly.Imports;
  }> = [];

  /**
   * An `instantiateCore` for jco's glue that records what it creates, and
   * gives a module that marks its writes into an imported memory the write
   * map of that memory's owner (wasm-rewrite's `DIRTY_IMPORT`).
   */
  readonly instantiateCore = (module: WebAssembly.Module, imports?: WebAssembly.Imports): WebAssembly.Instance => {
    const memory = mapImport(module);
    if (memory) imports = { ...imports, [DIRTY_IMPORT.module]: { [DIRTY_IMPORT.name]: this.#mapOf(memory, imports) } };
    const instance = new WebAssembly.Instance(module, imports);
    this.instances.push({ instance, module, ...(imports ? { imports } : {}) });
    return instance;
  };

  /**
   * The write map of the instance that exports the memory a module imports.
   * An owner without one gets the full compare, which sees every writer's
   * writes, so a map no one reads is as good.
   */
  #mapOf(memory: WebAssembly.ModuleImportDescriptor, imports: WebAssembly.Imports | undefined): WebAssembly.Memory {
    const imported = imports?.[memory.module]?.[memory.name];
    for (const { instance } of this.instances) {
      const map = instance.exports[DIRTY_EXPORT];
      if (map instanceof WebAssembly.Memory && Object.values(instance.exports).some((value) => value === imported)) {
        return map;
      }
    }
    return new WebAssembly.Memory({ initial: MAP_BYTES / WASM_PAGE_BYTES, maximum: 65_536 });
  }

  /**
   * The guest's linear memories, for the memory-cap check after a failure:
   * every memory the instances export except the write maps, which are the
   * runner's own (and hold the reset snapshot's image).
   */
  memories(): WebAssembly.Memory[] {
    const out = new Set<WebAssembly.Memory>();
    const maps = new Set<unknown>(this.instances.map(({ instance }) => instance.exports[DIRTY_EXPORT]));
    for (const { instance } of this.instances) {
      for (const value of Object.values(instance.exports)) {
        if (value instanceof WebAssembly.Memory && !maps.has(value)) out.add(value);
      }
    }
    return [...out];
  }
}

/** Per module: the memory it imports when it also imports a write map for it (else undefined). */
const mapImports = new WeakMap<WebAssembly.Module, WebAssembly.ModuleImportDescriptor | undefined>();

function mapImport(module: WebAssembly.Module): WebAssembly.ModuleImportDescriptor | undefined {
  if (mapImports.has(module)) return mapImports.get(module);
  const descriptors = WebAssembly.Module.imports(module);
  const wantsMap = descriptors.some((d) => d.module === DIRTY_IMPORT.module && d.name === DIRTY_IMPORT.name);
  const memory = wantsMap
    ? descriptors.find((d) => d.kind === 'memory' && d.module !== DIRTY_IMPORT.module)
    : undefined;
  mapImports.set(module, memory);
  return memory;
}

export class ResetSnapshot {
  readonly #memories: MemoryState[];
  readonly #globals: GlobalState[];
  readonly #tables: TableState[];

  private constructor(memories: MemoryState[], globals: GlobalState[], tables: TableState[]) {
    this.#memories = memories;
    this.#globals = globals;
    this.#tables = tables;
  }

  /**
   * Snapshots the instances a recorder saw. Every module must have been
   * rewritten by `exposeResetState` (its defined state is reachable only
   * through those exports); `exposed` lists, per module, whether it was.
   */
  static capture(
    recorder: InstanceRecorder,
    exposed: (module: WebAssembly.Module) => boolean,
    options: CaptureOptions = {},
  ): ResetSnapshot {
    const tablesWritable = options.tablesWritable ?? true;
    const memories = new Map<WebAssembly.Memory, MemoryState>();
    const globals = new Map<WebAssembly.Global, GlobalState>();
    const tables = new Map<WebAssembly.Table, TableState>();
    for (const { instance, module, imports } of recorder.instances) {
      if (!exposed(module)) throw new Error('A core module was not rewritten for reset-in-place.');
      for (const [name, value] of Object.entries(instance.exports)) {
        if (!name.startsWith(RESET_EXPORT_PREFIX)) continue;
        if (value instanceof WebAssembly.Memory && !memories.has(value)) {
          if (name === DIRTY_EXPORT) continue;
          const dirty = instance.exports[DIRTY_EXPORT];
          memories.set(value, snapshotMemory(value, dirty instanceof WebAssembly.Memory ? dirty : undefined));
        } else if (value instanceof WebAssembly.Global && !globals.has(value)) {
          globals.set(value, { global: value, value: value.value as unknown });
        } else if (value instanceof WebAssembly.Table && !tables.has(value)) {
          tables.set(value, tablesWritable ? snapshotTable(value) : { table: value, length: value.length });
        }
      }
      // Imported globals are defined by the JS glue (jco's instance flags); a
      // mutable one is state the guest's calls can change, so it is restored too.
      for (const descriptor of WebAssembly.Module.imports(module)) {
        if (descriptor.kind !== 'global') continue;
        const value = imports?.[descriptor.module]?.[descriptor.name];
        if (value instanceof WebAssembly.Global && !globals.has(value)) {
          globals.set(value, { global: value, value: value.value as unknown });
        }
      }
    }
    return new ResetSnapshot([...memories.values()], [...globals.values()], [...tables.values()]);
  }

  /** Bytes this snapshot keeps (its copies of linear memory). */
  get bytes(): number {
    return this.#memories.reduce(
      (sum, state) => sum + (isTracked(state) ? state.imageBytes : state.saved.byteLength),
      0,
    );
  }

  /** Whether every memory marks its writes (the fast restore). */
  get tracked(): boolean {
    return this.#memories.every(isTracked);
  }

  /**
   * Puts the instances back into their snapshot state. When it reports a
   * `discard` reason the instances are in an unknown state and must never
   * run again.
   */
  restore(): RestoreResult {
    for (const { table, length } of this.#tables) {
      if (table.length !== length) return { discard: 'table-changed', dirtyBlocks: 0 };
    }
    for (const { memory, byteLength } of this.#memories) {
      if (memory.buffer.byteLength !== byteLength) return { discard: 'memory-grew', dirtyBlocks: 0 };
    }
    let dirtyBlocks = 0;
    for (const state of this.#memories) {
      dirtyBlocks += isTracked(state) ? state.restore(state.blocks) : restoreAll(state) * BLOCKS_PER_PAGE;
    }
    for (const { restore } of this.#tables) restore?.();
    for (const { global, value } of this.#globals) {
      if (global.value === value) continue;
      try {
        global.value = value;
      } catch {
        // Only an immutable global throws here, and one of those cannot have changed.
        return { discard: 'global-unwritable', dirtyBlocks };
      }
    }
    return { dirtyBlocks };
  }
}

/**
 * `(module (import "t" "live" (table 0 <ref>)) (import "t" "snap" (table 0 <ref>))
 *   (func (export "copy") (param i32) (table.copy 0 1 (i32.const 0) (i32.const 0) (local.get 0))))`,
 * hand-assembled (28 bytes of wat are not worth a toolchain). JS has no
 * bulk operation on tables, and reading a table's type needs the js-types
 * proposal, so funcref is tried first, then externref.
 */
function tableCopier(refType: 0x70 | 0x6f): WebAssembly.Module {
  const tableImport = (field: string) => [0x01, 0x74, field.length, ...Buffer.from(field), 0x01, refType, 0x00, 0x00];
  const imports = [0x02, ...tableImport('live'), ...tableImport('snap')];
  const code = [0x01, 0x0c, 0x00, 0x41, 0x00, 0x41, 0x00, 0x20, 0x00, 0xfc, 0x0e, 0x00, 0x01, 0x0b];
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 0x05, 0x01, 0x60, 0x01, 0x7f, 0x00],
    ...[0x02, imports.length, ...imports],
    ...[0x03, 0x02, 0x01, 0x00],
    ...[0x07, 0x08, 0x01, 0x04, ...Buffer.from('copy'), 0x00, 0x00],
    ...[0x0a, code.length, ...code],
  ];
  return new WebAssembly.Module(Uint8Array.from(bytes));
}

let copiers: Array<{ element: 'anyfunc' | 'externref'; module: WebAssembly.Module }> | undefined;

function snapshotTable(table: WebAssembly.Table): TableState {
  copiers ??= [
    { element: 'anyfunc', module: tableCopier(0x70) },
    { element: 'externref', module: tableCopier(0x6f) },
  ];
  const length = table.length;
  for (const { element, module } of copiers) {
    const snapshot = new WebAssembly.Table({ element, initial: length });
    let copier: WebAssembly.Instance;
    try {
      copier = new WebAssembly.Instance(module, { t: { live: table, snap: snapshot } });
    } catch {
      continue; // the other element type
    }
    for (let i = 0; i < length; i++) snapshot.set(i, table.get(i));
    const copy = copier.exports.copy as (n: number) => void;
    return { table, length, restore: () => copy(length) };
  }
  throw new Error('A table of an element type reset-in-place does not handle.');
}

/** Memories without a write map are compared in 4 KiB pages. */
const PAGE_SHIFT = 12;
const PAGE_BYTES = 1 << PAGE_SHIFT;
const BLOCKS_PER_PAGE = PAGE_BYTES >>> DIRTY_BLOCK_SHIFT;

/** Pages of zeros compare against this one buffer, which stays in cache. */
const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);

const isZeroPage = (live: Buffer, page: number) =>
  live.compare(ZERO_PAGE, 0, PAGE_BYTES, page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT) === 0;

function snapshotMemory(memory: WebAssembly.Memory, map: WebAssembly.Memory | undefined): MemoryState {
  if (map) {
    const tracked = snapshotTracked(memory, map);
    if (tracked) return tracked;
  }
  return snapshotCompared(memory);
}

/**
 * A tracked memory's image goes into its map's memory, after the marks
 * (restore-kernel.ts). Only pages holding data are written: most of a
 * componentize-js guest's ~10 MB is zero right after instantiation, and the
 * image's untouched pages cost no resident memory. Undefined when the map
 * cannot grow to hold the image (then the memory is compared instead).
 */
function snapshotTracked(memory: WebAssembly.Memory, map: WebAssembly.Memory): TrackedMemory | undefined {
  const live = Buffer.from(memory.buffer);
  const had = map.buffer.byteLength;
  const needed = MAP_BYTES + live.byteLength;
  try {
    if (had < needed) map.grow((needed - had) / WASM_PAGE_BYTES);
  } catch {
    return undefined;
  }
  const image = Buffer.from(map.buffer, MAP_BYTES, live.byteLength);
  // An image from an earlier snapshot of this instance is overwritten whole.
  if (had > MAP_BYTES) image.fill(0);
  let imageBytes = 0;
  for (let page = 0; page < live.byteLength >>> PAGE_SHIFT; page++) {
    if (isZeroPage(live, page)) continue;
    live.copy(image, page << PAGE_SHIFT, page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT);
    imageBytes += PAGE_BYTES;
  }
  const blocks = live.byteLength >>> DIRTY_BLOCK_SHIFT;
  // Instantiation may have run instrumented code: start from clean marks. The
  // kernel reads marks 8 at a time; marks past the memory's end (an i32
  // argument that was not a pointer) name no block and are never read.
  Buffer.from(map.buffer, 0, Math.min(MAP_BYTES, blocks + 8)).fill(0);
  return {
    memory,
    byteLength: live.byteLength,
    blocks,
    restore: restoreKernel(memory, map, { blockShift: DIRTY_BLOCK_SHIFT, imageBase: MAP_BYTES }),
    imageBytes,
  };
}

/** A copy of the memory's pages that hold data, for memories without a write map. */
function snapshotCompared(memory: WebAssembly.Memory): ComparedMemory {
  const live = Buffer.from(memory.buffer);
  const pageCount = live.byteLength >>> PAGE_SHIFT;
  const offsets = new Int32Array(pageCount).fill(-1);
  let kept = 0;
  for (let page = 0; page < pageCount; page++) if (!isZeroPage(live, page)) offsets[page] = kept++;
  const saved = Buffer.allocUnsafe(kept << PAGE_SHIFT);
  for (let page = 0; page < pageCount; page++) {
    if (offsets[page]! < 0) continue;
    offsets[page] = offsets[page]! << PAGE_SHIFT;
    live.copy(saved, offsets[page], page << PAGE_SHIFT, (page + 1) << PAGE_SHIFT);
  }
  return { memory, byteLength: live.byteLength, offsets, saved };
}

/** Copies `page` back if it differs from the snapshot; returns whether it did. */
function restorePage(live: Buffer, state: ComparedMemory, page: number): boolean {
  const start = page << PAGE_SHIFT;
  const end = start + PAGE_BYTES;
  const at = state.offsets[page]!;
  const saved = at < 0 ? ZERO_PAGE : state.saved;
  const savedStart = at < 0 ? 0 : at;
  if (live.compare(saved, savedStart, savedStart + PAGE_BYTES, start, end) === 0) return false;
  if (at < 0) live.fill(0, start, end);
  else state.saved.copy(live, start, at, at + PAGE_BYTES);
  return true;
}

/** Without a map: every page is compared. Returns the pages that differed. */
function restoreAll(state: ComparedMemory): number {
  const live = Buffer.from(state.memory.buffer);
  let restored = 0;
  for (let page = 0; page < state.offsets.length; page++) if (restorePage(live, state, page)) restored++;
  return restored;
}
