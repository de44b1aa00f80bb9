/**
 * Two rewrites of a core wasm module, made before it is compiled:
 *
 * - `capModuleMemory` caps the linear memory a module may grow to, by
 *   rewriting the `max` of every memory it defines. V8 then fails any
 *   `memory.grow` past the cap, at no run-time cost.
 * - `exposeResetState` exports every memory, mutable global and table the
 *   module defines under reserved names, so the host can snapshot and
 *   restore an instance in place. Without an export, JS cannot read or
 *   write a module's internal globals (a shadow-stack pointer) at all.
 *
 * Hand-written: only the framing and a few entry kinds need decoding, where
 * a wasm toolkit would parse the whole module. What it does not understand
 * throws `RangeError` rather than guess.
 */
import {
  AFTER_EXPORT,
  KIND,
  leb,
  readImport,
  Reader,
  SECTION,
  sections,
  skipConstExpr,
  skipLimits,
  skipValType,
  WASM_PAGE_BYTES,
} from './binary.ts';

export { WASM_PAGE_BYTES };

const FLAG_HAS_MAX = 0x01;
const FLAG_SHARED = 0x02;
const FLAG_MEMORY64 = 0x04;

/**
 * The largest maximum V8 accepts: 2^16 pages (4 GiB) for a 32-bit memory,
 * which is also the spec's limit, and 16 GiB for a 64-bit one. A cap above
 * it caps nothing more, and writing it would make a module V8 refuses.
 */
const MAX_PAGES_32 = 65_536n;
const MAX_PAGES_64 = 262_144n;

/** The module needs more memory to start than the cap allows. */
export class MemoryFloorError extends Error {
  readonly minPages: bigint;
  constructor(minPages: bigint, limitPages: number) {
    super(
      `The component needs at least ${Number(minPages) / 16} MiB of linear memory at start, ` +
        `above its ${limitPages / 16} MiB limit; raise limits.memory_mb.`,
    );
    this.name = 'MemoryFloorError';
    this.minPages = minPages;
  }
}

function rewriteMemorySection(body: Uint8Array, limitPages: number): Uint8Array {
  const reader = new Reader(body);
  const count = reader.leb();
  const out: number[] = leb(count);
  for (let i = 0n; i < count; i++) {
    const flags = reader.byte();
    if ((flags & ~(FLAG_HAS_MAX | FLAG_SHARED | FLAG_MEMORY64)) !== 0) {
      // Unknown flags (e.g. custom page sizes) could change what a page is; refuse rather than guess.
      throw new RangeError(`Unsupported wasm memory flags 0x${flags.toString(16)}.`);
    }
    const min = reader.leb();
    const max = flags & FLAG_HAS_MAX ? reader.leb() : undefined;
    if (min > BigInt(limitPages)) throw new MemoryFloorError(min, limitPages);
    const largest = flags & FLAG_MEMORY64 ? MAX_PAGES_64 : MAX_PAGES_32;
    const cap = BigInt(limitPages) < largest ? BigInt(limitPages) : largest;
    const newMax = max !== undefined && max < cap ? max : cap;
    out.push(flags | FLAG_HAS_MAX, ...leb(min), ...leb(newMax));
  }
  if (reader.offset !== body.length) throw new RangeError('Trailing bytes in the wasm memory section.');
  return Uint8Array.from(out);
}

/**
 * Returns a copy of `module` whose defined memories may grow to at most
 * `limitPages` 64 KiB pages (a lower existing maximum is kept, and a cap
 * above what V8 accepts for the memory's kind is written as that limit).
 * Modules without a memory section come back unchanged (imported memories
 * are capped where they are defined). Throws `MemoryFloorError` when a
 * memory's initial size is above the cap, `RangeError` on what it cannot decode.
 */
export function capModuleMemory(module: Uint8Array, limitPages: number): Uint8Array {
  if (!Number.isInteger(limitPages) || limitPages < 1) throw new RangeError('limitPages must be a positive integer.');
  const parts: Uint8Array[] = [];
  let copiedUpTo = 0;
  for (const { id, sectionStart, bodyStart, bodyEnd } of sections(module)) {
    if (id === SECTION.memory) {
      const body = rewriteMemorySection(module.subarray(bodyStart, bodyEnd), limitPages);
      parts.push(module.subarray(copiedUpTo, sectionStart), Uint8Array.from([id, ...leb(BigInt(body.length))]), body);
      copiedUpTo = bodyEnd;
    }
  }
  if (copiedUpTo === 0) return module;
  parts.push(module.subarray(copiedUpTo));
  return Buffer.concat(parts);
}

/** Pages for a limit in MiB. */
export function pagesForMb(memoryMb: number): number {
  return Math.floor((memoryMb * 1024 * 1024) / WASM_PAGE_BYTES);
}

/** Export-name prefix reserved for the reset exports; `<kind>:<index>` follows. */
export const RESET_EXPORT_PREFIX = 'alga-reset:';

/** What `exposeResetState` added: the export names, by kind. */
export interface ResetExports {
  memories: string[];
  globals: string[];
  tables: string[];
}

/**
 * Returns a copy of `module` that also exports every memory, mutable global
 * and table it defines, under `alga-reset:memory:N`, `alga-reset:global:N`
 * and `alga-reset:table:N` (N: index in the module's own index space).
 * Exports change nothing the guest can observe: the code, its index spaces
 * and its behaviour stay the same. Throws `RangeError` on anything it does
 * not understand (v128 globals included: JS cannot read them).
 */
export function exposeResetState(module: Uint8Array): { module: Uint8Array; exports: ResetExports } {
  const imported = { memories: 0, globals: 0, tables: 0 };
  const defined = { memories: 0, tables: 0, mutableGlobals: [] as number[] };
  let exportSection: { start: number; bodyStart: number; end: number } | undefined;
  let insertAt = module.length;
  for (const { id, sectionStart, bodyStart, bodyEnd } of sections(module)) {
    if (AFTER_EXPORT.has(id) && insertAt === module.length) insertAt = sectionStart;
    const body = new Reader(module.subarray(0, bodyEnd), bodyStart);
    if (id === SECTION.import) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        const { kind } = readImport(body);
        if (kind === KIND.table) imported.tables++;
        else if (kind === KIND.memory) imported.memories++;
        else if (kind === KIND.global) imported.globals++;
      }
    } else if (id === SECTION.table) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        if (module[body.offset] === 0x40) {
          // A table with an explicit initializer: 0x40 0x00 reftype limits expr.
          body.offset += 2;
          skipValType(body);
          skipLimits(body);
          skipConstExpr(body);
        } else {
          skipValType(body);
          skipLimits(body);
        }
        defined.tables++;
      }
    } else if (id === SECTION.memory) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        skipLimits(body);
        defined.memories++;
      }
    } else if (id === SECTION.global) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        const type = skipValType(body);
        const mutable = body.byte();
        skipConstExpr(body);
        if (mutable === 1) {
          if (type === 0x7b) throw new RangeError('A mutable v128 global cannot be reset from JS.');
          defined.mutableGlobals.push(imported.globals + Number(i));
        } else if (mutable !== 0) throw new RangeError('Invalid wasm global mutability.');
      }
    } else if (id === SECTION.export) {
      exportSection = { start: sectionStart, bodyStart, end: bodyEnd };
    }
    if (
      (id === SECTION.import || id === SECTION.table || id === SECTION.memory || id === SECTION.global) &&
      body.offset !== bodyEnd
    ) {
      throw new RangeError(`Trailing bytes in wasm section ${id}.`);
    }
  }

  const added: number[] = [];
  const exports: ResetExports = { memories: [], globals: [], tables: [] };
  const add = (kind: number, label: string, index: number, into: string[]) => {
    const name = `${RESET_EXPORT_PREFIX}${label}:${index}`;
    const bytes = Buffer.from(name, 'utf8');
    added.push(...leb(BigInt(bytes.length)), ...bytes, kind, ...leb(BigInt(index)));
    into.push(name);
  };
  for (let i = 0; i < defined.memories; i++) add(KIND.memory, 'memory', imported.memories + i, exports.memories);
  for (const index of defined.mutableGlobals) add(KIND.global, 'global', index, exports.globals);
  for (let i = 0; i < defined.tables; i++) add(KIND.table, 'table', imported.tables + i, exports.tables);
  const addedCount = exports.memories.length + exports.globals.length + exports.tables.length;
  if (addedCount === 0) return { module, exports };

  let before: Uint8Array;
  let existing: Uint8Array;
  let existingCount = 0n;
  let after: Uint8Array;
  if (exportSection) {
    const body = new Reader(module.subarray(0, exportSection.end), exportSection.bodyStart);
    existingCount = body.leb();
    for (let i = 0n; i < existingCount; i++) {
      if (body.name().startsWith(RESET_EXPORT_PREFIX)) {
        throw new RangeError(`The module already exports a name starting with ${RESET_EXPORT_PREFIX}.`);
      }
      body.byte();
      body.skipLeb();
    }
    if (body.offset !== exportSection.end) throw new RangeError('Trailing bytes in the wasm export section.');
    // The entries as they are, without the count (which changes).
    const entries = new Reader(module, exportSection.bodyStart);
    entries.leb();
    existing = module.subarray(entries.offset, exportSection.end);
    before = module.subarray(0, exportSection.start);
    after = module.subarray(exportSection.end);
  } else {
    existing = new Uint8Array();
    before = module.subarray(0, insertAt);
    after = module.subarray(insertAt);
  }
  const countBytes = Uint8Array.from(leb(existingCount + BigInt(addedCount)));
  const bodyLength = countBytes.length + existing.length + added.length;
  const header = Uint8Array.from([SECTION.export, ...leb(BigInt(bodyLength))]);
  return {
    module: Buffer.concat([before, header, countBytes, existing, Uint8Array.from(added), after]),
    exports,
  };
}
