/**
 * Reset-in-place: the state of a component instance right after it was
 * instantiated, and the means to put an instance back into it after a
 * request, so the next request sees exactly what a fresh instance would.
 *
 * Why: V8 has no copy-on-write memory, so a fresh componentize-js instance
 * costs a ~10 MB memory copy plus the glue's set-up (~3.5 ms). A request
 * writes a small part of that memory, and only that part is put back.
 *
 * What the guest can reach, and how each part is put back:
 * - linear memories: restored 4 KiB page by page. A module the loader could
 *   rewrite for write tracking (wasm/write-tracking.ts) marks every page it
 *   or the host writes in its `alga-reset:dirty` map, and only those pages
 *   (and the page after each, for a store that straddles) are compared and
 *   copied back. Otherwise every page is compared against the snapshot
 *   (memcmp through `Buffer#compare`). A memory that grew cannot be shrunk,
 *   so the instance is discarded;
 * - mutable globals the modules define (the shadow-stack pointer and the
 *   like): read and restored through the `alga-reset:global:N` exports that
 *   the loader adds (wasm/memory-limit.ts `exposeResetState`);
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
 *   The world defines no resources, so there are no handle tables to reset.
 */
import { RESET_EXPORT_PREFIX } from './wasm/memory-limit.ts';
import { DIRTY_EXPORT, DIRTY_PAGE_BYTES, DIRTY_PAGE_SHIFT } from './wasm/write-tracking.ts';

interface MemoryState {
  memory: WebAssembly.Memory;
  byteLength: number;
  /** Per 4 KiB page: where its saved bytes start in `saved`, or -1 for a page of zeros. */
  offsets: Int32Array;
  saved: Buffer;
  /** The module's map of written pages (one byte per page), when it tracks its writes. */
  dirty?: WebAssembly.Memory;
}

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
  /** 4 KiB pages that differed from the snapshot and were copied back. */
  dirtyPages: number;
}

/** Collects the core instances a component instantiation creates, with the imports each got. */
export class InstanceRecorder {
  readonly instances: Array<{
    instance: WebAssembly.Instance;
    module: WebAssembly.Module;
    imports?: WebAssembly.Imports;
  }> = [];

  /** An `instantiateCore` for jco's glue that records what it creates. */
  readonly instantiateCore = (module: WebAssembly.Module, imports?: WebAssembly.Imports): WebAssembly.Instance => {
    const instance = new WebAssembly.Instance(module, imports);
    this.instances.push({ instance, module, ...(imports ? { imports } : {}) });
    return instance;
  };

  /** Every memory the instances export (for the memory-cap check after a failure). */
  memories(): WebAssembly.Memory[] {
    const out = new Set<WebAssembly.Memory>();
    for (const { instance } of this.instances) {
      for (const value of Object.values(instance.exports)) if (value instanceof WebAssembly.Memory) out.add(value);
    }
    return [...out];
  }
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
    return this.#memories.reduce((sum, { saved }) => sum + saved.byteLength, 0);
  }

  /** Whether every memory marks its writes (the fast restore). */
  get tracked(): boolean {
    return this.#memories.every(({ dirty }) => dirty !== undefined);
  }

  /**
   * Puts the instances back into their snapshot state. When it reports a
   * `discard` reason the instances are in an unknown state and must never
   * run again.
   */
  restore(): RestoreResult {
    for (const { table, length } of this.#tables) {
      if (table.length !== length) return { discard: 'table-changed', dirtyPages: 0 };
    }
    for (const { memory, byteLength } of this.#memories) {
      if (memory.buffer.byteLength !== byteLength) return { discard: 'memory-grew', dirtyPages: 0 };
    }
    let dirtyPages = 0;
    for (const state of this.#memories) dirtyPages += state.dirty ? restoreMarked(state) : restoreAll(state);
    for (const { restore } of this.#tables) restore?.();
    for (const { global, value } of this.#globals) {
      if (global.value === value) continue;
      try {
        global.value = value;
      } catch {
        // Only an immutable global throws here, and one of those cannot have changed.
        return { discard: 'global-unwritable', dirtyPages };
      }
    }
    return { dirtyPages };
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

/** Pages of zeros compare against this one buffer, which stays in cache. */
const ZERO_PAGE = Buffer.alloc(DIRTY_PAGE_BYTES);

/**
 * A memory's post-instantiation pages. Only non-zero pages are kept: most
 * of a componentize-js guest's ~10 MB is zero right after instantiation.
 */
function snapshotMemory(memory: WebAssembly.Memory, dirty: WebAssembly.Memory | undefined): MemoryState {
  const live = Buffer.from(memory.buffer);
  const pageCount = live.byteLength >>> DIRTY_PAGE_SHIFT;
  const offsets = new Int32Array(pageCount).fill(-1);
  let kept = 0;
  for (let page = 0; page < pageCount; page++) {
    const start = page << DIRTY_PAGE_SHIFT;
    if (live.compare(ZERO_PAGE, 0, DIRTY_PAGE_BYTES, start, start + DIRTY_PAGE_BYTES) !== 0) offsets[page] = kept++;
  }
  const saved = Buffer.allocUnsafe(kept << DIRTY_PAGE_SHIFT);
  for (let page = 0; page < pageCount; page++) {
    if (offsets[page]! < 0) continue;
    offsets[page] = offsets[page]! << DIRTY_PAGE_SHIFT;
    live.copy(saved, offsets[page], page << DIRTY_PAGE_SHIFT, (page + 1) << DIRTY_PAGE_SHIFT);
  }
  if (!dirty) return { memory, byteLength: live.byteLength, offsets, saved };
  // Instantiation may have run instrumented code: start from a clean map.
  new Uint8Array(dirty.buffer).fill(0);
  return { memory, byteLength: live.byteLength, offsets, saved, dirty };
}

/** Copies `page` back if it differs from the snapshot; returns whether it did. */
function restorePage(live: Buffer, state: MemoryState, page: number): boolean {
  const start = page << DIRTY_PAGE_SHIFT;
  const end = start + DIRTY_PAGE_BYTES;
  const at = state.offsets[page]!;
  const saved = at < 0 ? ZERO_PAGE : state.saved;
  const savedStart = at < 0 ? 0 : at;
  if (live.compare(saved, savedStart, savedStart + DIRTY_PAGE_BYTES, start, end) === 0) return false;
  if (at < 0) live.fill(0, start, end);
  else state.saved.copy(live, start, at, at + DIRTY_PAGE_BYTES);
  return true;
}

/**
 * The fast restore: only pages the map marks, plus the page after each (a
 * store at a page's last bytes spills into it). Marks beyond the memory's
 * end (an i32 argument that was not a pointer) name no page and are left.
 */
function restoreMarked(state: MemoryState): number {
  const live = Buffer.from(state.memory.buffer);
  const marks = new Uint8Array(state.dirty!.buffer);
  const pages = state.offsets.length;
  let restored = 0;
  for (let page = 0; page < pages; page++) {
    if (marks[page] === 0) continue;
    marks[page] = 0;
    if (restorePage(live, state, page)) restored++;
    if (page + 1 < pages && marks[page + 1] === 0 && restorePage(live, state, page + 1)) restored++;
  }
  return restored;
}

/** Without a map: every page is compared. */
function restoreAll(state: MemoryState): number {
  const live = Buffer.from(state.memory.buffer);
  let restored = 0;
  for (let page = 0; page < state.offsets.length; page++) if (restorePage(live, state, page)) restored++;
  return restored;
}
