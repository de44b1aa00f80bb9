/**
 * Two load-time rewrites of a core wasm module, before it is compiled:
 *
 * - `capModuleMemory` caps the linear memory a module may grow to, by
 *   rewriting the `max` of every memory it defines. V8 then refuses any
 *   `memory.grow` past the cap (the guest traps), at no run-time cost.
 * - `exposeResetState` exports every memory, mutable global and table the
 *   module defines under reserved names, so the worker can snapshot and
 *   restore an instance in place (reset.ts). A componentize-js module keeps
 *   its shadow-stack pointer and other mutable globals internal; without an
 *   export, JS cannot read or write them at all.
 *
 * Hand-written rather than a library: only the section framing, the
 * memory limits and the import/global/table/export entries need decoding
 * (the code section, 95% of a 12 MB StarlingMonkey module, is copied
 * untouched); the wasm toolkits in node_modules either parse the whole module
 * into an AST (slow and memory-hungry on a 12 MB module, and a second copy of
 * it per variant) or go through text (WAT), which is worse still. Anything
 * this decoder does not understand throws, and the caller falls back to
 * fresh instances rather than guessing.
 */

export const WASM_PAGE_BYTES = 64 * 1024;

const MEMORY_SECTION = 5;
const FLAG_HAS_MAX = 0x01;
const FLAG_SHARED = 0x02;
const FLAG_MEMORY64 = 0x04;

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

class Reader {
  readonly bytes: Uint8Array;
  offset: number;
  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
  }
  byte(): number {
    if (this.offset >= this.bytes.length) throw new RangeError('Unexpected end of wasm module.');
    return this.bytes[this.offset++]!;
  }
  /** Unsigned LEB128; BigInt so memory64 limits decode exactly. */
  leb(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.byte();
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new RangeError('LEB128 value too long in wasm module.');
    }
  }
}

function leb(value: bigint): number[] {
  const out: number[] = [];
  do {
    let byte = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) byte |= 0x80;
    out.push(byte);
  } while (value !== 0n);
  return out;
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
    const cap = BigInt(limitPages);
    if (min > cap) throw new MemoryFloorError(min, limitPages);
    const newMax = max !== undefined && max < cap ? max : cap;
    out.push(flags | FLAG_HAS_MAX, ...leb(min), ...leb(newMax));
  }
  if (reader.offset !== body.length) throw new RangeError('Trailing bytes in the wasm memory section.');
  return Uint8Array.from(out);
}

interface Section {
  id: number;
  /** Offset of the section's id byte. */
  sectionStart: number;
  bodyStart: number;
  bodyEnd: number;
}

/** Each top-level section of a core module, bounds-checked; throws on anything that is not one. */
function* sections(module: Uint8Array): Generator<Section> {
  if (module.length < 8 || module[0] !== 0x00 || module[1] !== 0x61 || module[2] !== 0x73 || module[3] !== 0x6d) {
    throw new RangeError('Not a core wasm module.');
  }
  const reader = new Reader(module, 8);
  while (reader.offset < module.length) {
    const sectionStart = reader.offset;
    const id = reader.byte();
    const size = Number(reader.leb());
    const bodyStart = reader.offset;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > module.length) throw new RangeError('A wasm section runs past the end of the module.');
    yield { id, sectionStart, bodyStart, bodyEnd };
    reader.offset = bodyEnd;
  }
}

/**
 * Returns a copy of `module` whose defined memories may grow to at most
 * `limitPages` 64 KiB pages (a lower existing maximum is kept). Modules
 * without a memory section come back unchanged (imported memories are
 * capped where they are defined).
 */
export function capModuleMemory(module: Uint8Array, limitPages: number): Uint8Array {
  if (!Number.isInteger(limitPages) || limitPages < 1) throw new RangeError('limitPages must be a positive integer.');
  const parts: Uint8Array[] = [];
  let copiedUpTo = 0;
  for (const { id, sectionStart, bodyStart, bodyEnd } of sections(module)) {
    if (id === MEMORY_SECTION) {
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

const IMPORT_SECTION = 2;
const TABLE_SECTION = 4;
const GLOBAL_SECTION = 6;
const EXPORT_SECTION = 7;
/** Sections that must come after the export section (start, element, code, data, data count). */
const AFTER_EXPORT = new Set([8, 9, 10, 11, 12]);

const KIND_FUNC = 0x00;
const KIND_TABLE = 0x01;
const KIND_MEMORY = 0x02;
const KIND_GLOBAL = 0x03;
const KIND_TAG = 0x04;

/** Export-name prefix reserved for the reset exports; `<kind>:<index>` follows. */
export const RESET_EXPORT_PREFIX = 'alga-reset:';

/** What `exposeResetState` added: the export names, by kind. */
export interface ResetExports {
  memories: string[];
  globals: string[];
  tables: string[];
}

function skipLeb(reader: Reader): void {
  while (reader.byte() & 0x80);
}

function skipName(reader: Reader): string {
  const length = Number(reader.leb());
  const end = reader.offset + length;
  if (end > reader.bytes.length) throw new RangeError('A wasm name runs past its section.');
  const name = Buffer.from(reader.bytes.subarray(reader.offset, end)).toString('utf8');
  reader.offset = end;
  return name;
}

/** A value or reference type; GC's `(ref null? ht)` carries a heap type. */
function skipValType(reader: Reader): number {
  const type = reader.byte();
  if (type === 0x63 || type === 0x64) skipLeb(reader);
  else if (type < 0x69 || type > 0x7f) throw new RangeError(`Unsupported wasm value type 0x${type.toString(16)}.`);
  return type;
}

function skipLimits(reader: Reader): void {
  const flags = reader.byte();
  if ((flags & ~0x0f) !== 0) throw new RangeError(`Unsupported wasm limits flags 0x${flags.toString(16)}.`);
  skipLeb(reader);
  if (flags & FLAG_HAS_MAX) skipLeb(reader);
  if (flags & 0x08) skipLeb(reader); // custom page size
}

/** A constant expression (MVP + extended-const + ref ops), up to and including `end`. */
function skipConstExpr(reader: Reader): void {
  for (;;) {
    const op = reader.byte();
    switch (op) {
      case 0x0b:
        return;
      case 0x41: // i32.const
      case 0x42: // i64.const
      case 0x23: // global.get
      case 0xd2: // ref.func
        skipLeb(reader);
        break;
      case 0x43: // f32.const
        reader.offset += 4;
        break;
      case 0x44: // f64.const
        reader.offset += 8;
        break;
      case 0xd0: // ref.null ht
        skipLeb(reader);
        break;
      case 0x6a: // i32.add/sub/mul, i64.add/sub/mul (extended-const)
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd: // v128.const
        if (reader.leb() !== 12n) throw new RangeError('Unsupported SIMD op in a wasm constant expression.');
        reader.offset += 16;
        break;
      default:
        throw new RangeError(`Unsupported opcode 0x${op.toString(16)} in a wasm constant expression.`);
    }
  }
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
    if (id === IMPORT_SECTION) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        skipName(body);
        skipName(body);
        const kind = body.byte();
        if (kind === KIND_FUNC) skipLeb(body);
        else if (kind === KIND_TABLE) {
          skipValType(body);
          skipLimits(body);
          imported.tables++;
        } else if (kind === KIND_MEMORY) {
          skipLimits(body);
          imported.memories++;
        } else if (kind === KIND_GLOBAL) {
          skipValType(body);
          body.byte();
          imported.globals++;
        } else if (kind === KIND_TAG) {
          body.byte();
          skipLeb(body);
        } else throw new RangeError(`Unsupported wasm import kind 0x${kind.toString(16)}.`);
      }
    } else if (id === TABLE_SECTION) {
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
    } else if (id === MEMORY_SECTION) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        skipLimits(body);
        defined.memories++;
      }
    } else if (id === GLOBAL_SECTION) {
      for (let i = 0n, count = body.leb(); i < count; i++) {
        const type = skipValType(body);
        const mutable = body.byte();
        skipConstExpr(body);
        if (mutable === 1) {
          if (type === 0x7b) throw new RangeError('A mutable v128 global cannot be reset from JS.');
          defined.mutableGlobals.push(imported.globals + Number(i));
        } else if (mutable !== 0) throw new RangeError('Invalid wasm global mutability.');
      }
    } else if (id === EXPORT_SECTION) {
      exportSection = { start: sectionStart, bodyStart, end: bodyEnd };
    }
    if ([IMPORT_SECTION, TABLE_SECTION, MEMORY_SECTION, GLOBAL_SECTION].includes(id) && body.offset !== bodyEnd) {
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
  for (let i = 0; i < defined.memories; i++) add(KIND_MEMORY, 'memory', imported.memories + i, exports.memories);
  for (const index of defined.mutableGlobals) add(KIND_GLOBAL, 'global', index, exports.globals);
  for (let i = 0; i < defined.tables; i++) add(KIND_TABLE, 'table', imported.tables + i, exports.tables);
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
      if (skipName(body).startsWith(RESET_EXPORT_PREFIX)) {
        throw new RangeError(`The module already exports a name starting with ${RESET_EXPORT_PREFIX}.`);
      }
      body.byte();
      skipLeb(body);
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
  const header = Uint8Array.from([EXPORT_SECTION, ...leb(BigInt(bodyLength))]);
  return {
    module: Buffer.concat([before, header, countBytes, existing, Uint8Array.from(added), after]),
    exports,
  };
}
