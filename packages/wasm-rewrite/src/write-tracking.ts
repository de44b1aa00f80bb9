/**
 * Write tracking: a rewrite that makes a module record which 1 KiB blocks of
 * its linear memory it writes, so a host that restores memory between calls
 * (with `restoreKernel`) puts back only those blocks instead of comparing
 * the whole memory.
 *
 * V8 has no dirty-page tracking or copy-on-write for wasm memory, so the
 * module keeps its own map: a second linear memory (multi-memory) with one
 * byte per 1 KiB block of the first, exported as `alga-reset:dirty`.
 * Everything that can write the guest's memory after instantiation marks it:
 *
 * - the guest's own stores: each store gets its effective address's block
 *   marked right after it (a store that traps writes nothing and marks
 *   nothing). A store of up to 16 bytes can straddle
 *   into the next block, so the restore also checks the first 16 bytes of
 *   the block after each marked one;
 * - bulk memory (`memory.fill`, `memory.copy`, `memory.init`): the whole
 *   destination range is marked with one `memory.fill` of the map;
 * - the host (canonical-ABI glue such as jco's), which writes guest memory
 *   only where the canonical ABI lets it: into blocks it got from the guest's
 *   `cabi_realloc` export, and into the result area whose pointer the guest
 *   passes to an import. The realloc export is wrapped to mark the range it
 *   returns; calls to imported functions go through wrappers that mark the
 *   block of every i32 argument and the block after it (a result area is a
 *   few dozen bytes; at least 1 KiB from the pointer is covered).
 *   Marking an i32 that is not a pointer only costs a block compare.
 *
 * A module that defines no memory but imports one (a WASI adapter writing
 * into the main module's memory) marks the same way into the owner's map,
 * which it imports as `DIRTY_IMPORT`; whoever instantiates it passes the
 * owner's `alga-reset:dirty` export there.
 *
 * What the rewriter does not handle throws `RangeError` (atomic writes, GC
 * instructions, several memories, an import whose function reference
 * escapes into a table); the caller then restores that module's memory some
 * other way (e.g. a full compare).
 *
 * Hand-written: one streaming pass that copies every function without writes
 * or calls untouched, where a wasm toolkit would rebuild the module as an IR.
 */
import {
  AFTER_EXPORT,
  WASM_PAGE_BYTES,
  KIND,
  readImport,
  Reader,
  SECTION,
  sections,
  skipConstExpr,
  skipLimits,
  skipValType,
  Writer,
} from './binary.ts';
import { nextInstruction, OP, STORE_VALUE_TYPE, TABLE_WRITES, type Instruction } from './instructions.ts';

/** Export name of the write map (one byte per 1 KiB block of memory 0; non-zero = written). */
export const DIRTY_EXPORT = 'alga-reset:dirty';
/** Where a module that imports its memory imports the owner's write map from. */
export const DIRTY_IMPORT = { module: 'alga-reset', name: 'dirty' } as const;
/**
 * Blocks of 1 KiB rather than 4 KiB pages: writes between restores are
 * scattered, and a restore reads every marked block, so smaller blocks mean
 * less to read for no extra instructions per store.
 */
export const DIRTY_BLOCK_SHIFT = 10;
export const DIRTY_BLOCK_BYTES = 1 << DIRTY_BLOCK_SHIFT;
/** 2^22 entries cover a 4 GiB memory; one 64 KiB wasm page more for the "block after" marks. */
const MAP_WASM_PAGES = 65;
/**
 * Bytes of the map memory the marks may use. A host restoring with
 * `restoreKernel` keeps its image of memory 0 right after them: the map
 * memory is declared growable for that, and only the host grows it.
 */
export const MAP_BYTES = MAP_WASM_PAGES * WASM_PAGE_BYTES;
/** The map memory's declared maximum (4 GiB): room for the marks and an image of any memory 0 capped below 4 GiB − MAP_BYTES. */
const MAP_MAX_WASM_PAGES = 65_536;

const I32 = 0x7f;
const I64 = 0x7e;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

/** V8 refuses functions with more locals than this. */
const MAX_LOCALS = 50_000;

export interface WriteTrackingResult {
  module: Uint8Array;
  /** True when the module has a memory (its own or an imported one) and now marks every write to it. */
  tracked: boolean;
  /** True when that memory is imported: the module then imports the owner's map as `DIRTY_IMPORT`. */
  importsMap: boolean;
  /**
   * True when the module's code can write a table (`table.set`, `.grow`,
   * `.fill`, `.copy`, `.init`). When no module of a component can, its tables
   * cannot change after instantiation and the reset skips restoring them.
   */
  writesTables: boolean;
}

interface FuncType {
  params: number[];
  results: number[];
}

interface ExportEntry {
  name: string;
  kind: number;
  index: number;
}

interface ModuleInfo {
  types: FuncType[];
  /** Type index of each imported function, in import order. */
  importedFunctionTypes: number[];
  importedMemories: number;
  definedMemories: number;
  /** Type index of each defined function. */
  functionTypes: number[];
  exports: ExportEntry[];
  /** Every function index a `ref.func` outside code refers to (elements, globals). */
  referencedFunctions: Set<number>;
  sections: Map<number, { sectionStart: number; bodyStart: number; bodyEnd: number }>;
}

function readTypes(body: Reader): FuncType[] {
  const types: FuncType[] = [];
  for (let i = 0, count = body.u32(); i < count; i++) {
    const form = body.byte();
    if (form !== 0x60) throw new RangeError(`Unsupported wasm type form 0x${form.toString(16)}.`);
    const params: number[] = [];
    for (let n = body.u32(); n > 0; n--) params.push(skipValType(body));
    const results: number[] = [];
    for (let n = body.u32(); n > 0; n--) results.push(skipValType(body));
    types.push({ params, results });
  }
  return types;
}

function skipElementSegment(body: Reader, onRefFunc: (index: number) => void): void {
  const flags = body.u32();
  if (flags > 7) throw new RangeError(`Unsupported wasm element segment flags ${flags}.`);
  if (flags === 2 || flags === 6) body.u32(); // table index
  if (flags === 0 || flags === 2 || flags === 4 || flags === 6) skipConstExpr(body, onRefFunc); // offset
  const expressions = (flags & 0x04) !== 0;
  if (flags & 0x03) {
    if (expressions) skipValType(body);
    else if (body.byte() !== 0x00) throw new RangeError('Unsupported wasm element kind.');
  }
  for (let n = body.u32(); n > 0; n--) {
    if (expressions) skipConstExpr(body, onRefFunc);
    else onRefFunc(body.u32());
  }
}

function readModule(module: Uint8Array): ModuleInfo {
  const info: ModuleInfo = {
    types: [],
    importedFunctionTypes: [],
    importedMemories: 0,
    definedMemories: 0,
    functionTypes: [],
    exports: [],
    referencedFunctions: new Set(),
    sections: new Map(),
  };
  const onRefFunc = (index: number) => info.referencedFunctions.add(index);
  for (const section of sections(module)) {
    const { id, bodyStart, bodyEnd } = section;
    if (id !== SECTION.custom) {
      if (info.sections.has(id)) throw new RangeError(`Duplicate wasm section ${id}.`);
      info.sections.set(id, section);
    }
    const body = new Reader(module.subarray(0, bodyEnd), bodyStart);
    switch (id) {
      case SECTION.type:
        info.types = readTypes(body);
        break;
      case SECTION.import:
        for (let i = 0, count = body.u32(); i < count; i++) {
          const { kind, typeIndex } = readImport(body);
          if (kind === KIND.func) info.importedFunctionTypes.push(typeIndex);
          else if (kind === KIND.memory) info.importedMemories++;
        }
        break;
      case SECTION.function:
        for (let i = 0, count = body.u32(); i < count; i++) info.functionTypes.push(body.u32());
        break;
      case SECTION.memory:
        for (let i = 0, count = body.u32(); i < count; i++) {
          const flags = body.bytes[body.offset]!;
          if (flags & 0x06) throw new RangeError('Shared and 64-bit memories are not tracked.');
          skipLimits(body);
          info.definedMemories++;
        }
        break;
      case SECTION.global:
        for (let i = 0, count = body.u32(); i < count; i++) {
          skipValType(body);
          body.byte();
          skipConstExpr(body, onRefFunc);
        }
        break;
      case SECTION.export:
        for (let i = 0, count = body.u32(); i < count; i++) {
          info.exports.push({ name: body.name(), kind: body.byte(), index: body.u32() });
        }
        break;
      case SECTION.element:
        for (let i = 0, count = body.u32(); i < count; i++) skipElementSegment(body, onRefFunc);
        break;
      default:
        continue;
    }
    if (body.offset !== bodyEnd) throw new RangeError(`Trailing bytes in wasm section ${id}.`);
  }
  return info;
}

/** The canonical ABI's realloc exports, the only memory the host allocates (and then writes) in. */
function isRealloc(entry: ExportEntry, type: FuncType | undefined): boolean {
  return (
    entry.kind === KIND.func &&
    entry.name.startsWith('cabi_') &&
    entry.name.includes('realloc') &&
    type !== undefined &&
    type.params.length === 4 &&
    type.params.every((p) => p === I32) &&
    type.results.length === 1 &&
    type.results[0] === I32
  );
}

/** `mark[address >> 10] = 1`, with the address on the stack. */
function emitMarkPage(w: Writer, byteOffset = 0): void {
  w.byte(0x41).s32(DIRTY_BLOCK_SHIFT).byte(0x76); // i32.const 10; i32.shr_u
  w.byte(0x41).s32(1);
  w.bytes([0x3a, 0x40, 0x01]).u32(byteOffset); // i32.store8 (byte-aligned) into memory 1 at +offset
}

/**
 * Marks every block of `[local a, local a + local n)` with one `memory.fill`
 * of the map. With `guard`, a range that wraps past 4 GiB marks nothing
 * (only the realloc wrapper needs it: bulk instructions that got this far
 * did not trap, so their range is in bounds).
 */
function emitMarkRange(w: Writer, a: number, n: number, guard: boolean): void {
  w.byte(0x20).u32(n).bytes([0x04, 0x40]); // local.get n; if
  if (guard) {
    // if (a + n - 1 >= a)
    w.byte(0x20).u32(a).byte(0x20).u32(n).byte(0x6a).byte(0x41).s32(1).byte(0x6b);
    w.byte(0x20).u32(a).byte(0x4f).bytes([0x04, 0x40]);
  }
  // memory.fill 1 (dest: a >> 10, value: 1, count: ((a + n - 1) >> 10) - (a >> 10) + 1)
  w.byte(0x20).u32(a).byte(0x41).s32(DIRTY_BLOCK_SHIFT).byte(0x76);
  w.byte(0x41).s32(1);
  w.byte(0x20).u32(a).byte(0x20).u32(n).byte(0x6a).byte(0x41).s32(1).byte(0x6b);
  w.byte(0x41).s32(DIRTY_BLOCK_SHIFT).byte(0x76);
  w.byte(0x20).u32(a).byte(0x41).s32(DIRTY_BLOCK_SHIFT).byte(0x76);
  w.byte(0x6b).byte(0x41).s32(1).byte(0x6a);
  w.bytes([0xfc, 0x0b, 0x01]);
  if (guard) w.byte(0x0b);
  w.byte(0x0b);
}

/** A wrapper with the import's type: marks each i32 argument's block and the next, then calls it. */
function importWrapper(target: number, type: FuncType): Writer {
  const w = new Writer(64);
  const scratch = type.params.length;
  w.u32(1).u32(1).byte(I32); // one local: the block number
  type.params.forEach((param, i) => {
    if (param !== I32) return;
    w.byte(0x20).u32(i).byte(0x41).s32(DIRTY_BLOCK_SHIFT).byte(0x76).byte(0x22).u32(scratch);
    w.byte(0x41).s32(1).bytes([0x3a, 0x40, 0x01, 0x00]); // mark[block] = 1
    w.byte(0x20).u32(scratch).byte(0x41).s32(1).bytes([0x3a, 0x40, 0x01, 0x01]); // mark[block + 1] = 1
  });
  type.params.forEach((_, i) => w.byte(0x20).u32(i));
  w.byte(0x10).u32(target).byte(0x0b);
  return w;
}

/** A wrapper for a realloc export: calls it, then marks the block it returned. */
function reallocWrapper(target: number): Writer {
  const w = new Writer(96);
  const result = 4;
  w.u32(1).u32(1).byte(I32);
  for (let i = 0; i < 4; i++) w.byte(0x20).u32(i);
  w.byte(0x10).u32(target).byte(0x21).u32(result);
  emitMarkRange(w, result, 3, true); // param 3 is the new size
  w.byte(0x20).u32(result).byte(0x0b);
  return w;
}

/** Scratch locals every rewritten function gets, after its own. */
interface Scratch {
  address: number;
  second: number;
  count: number;
  byType: Record<number, number>;
}
const SCRATCH_DECLS = [
  [3, I32],
  [1, I64],
  [1, F32],
  [1, F64],
  [1, V128],
] as const;

/**
 * Rewrites one function body (locals + instructions) into `out`. Returns
 * false, having written nothing, when the function needs no change.
 */
function rewriteFunction(
  module: Uint8Array,
  start: number,
  end: number,
  params: number,
  wrapperFor: Map<number, number>,
  body: Writer,
  out: Writer,
  state: { writesTables: boolean },
): boolean {
  const reader = new Reader(module.subarray(0, end), start);
  const groups = reader.u32();
  const groupsStart = reader.offset;
  let locals = params;
  for (let g = 0; g < groups; g++) {
    locals += reader.u32();
    skipValType(reader);
  }
  const localsEnd = reader.offset;
  const scratch: Scratch = {
    address: locals,
    second: locals + 1,
    count: locals + 2,
    byType: { [I32]: locals + 1, [I64]: locals + 3, [F32]: locals + 4, [F64]: locals + 5, [V128]: locals + 6 },
  };
  body.length = 0;
  let copied = localsEnd;
  let changed = false;
  const ins: Instruction = { op: 0, start: 0, memory: 0, offset: 0, index: 0 };
  while (reader.offset < end) {
    nextInstruction(reader, ins);
    const op = ins.op;
    if (TABLE_WRITES.has(op)) state.writesTables = true;
    const valueType =
      op >= 0x36 && op <= 0x3e
        ? STORE_VALUE_TYPE[op]
        : op === OP.v128Store || (op >= OP.v128StoreLaneFirst && op <= OP.v128StoreLaneLast)
          ? V128
          : undefined;
    if (valueType !== undefined) {
      if (ins.memory !== 0) throw new RangeError('A store to a memory other than 0.');
      const value = scratch.byType[valueType]!;
      body.copy(module, copied, ins.start);
      body.byte(0x21).u32(value).byte(0x22).u32(scratch.address).byte(0x20).u32(value);
      body.copy(module, ins.start, reader.offset);
      body.byte(0x20).u32(scratch.address);
      if (ins.offset !== 0) body.byte(0x41).s32(ins.offset).byte(0x6a);
      emitMarkPage(body);
      copied = reader.offset;
      changed = true;
    } else if (op === OP.memoryFill || op === OP.memoryCopy || op === OP.memoryInit) {
      if (ins.index !== 0) throw new RangeError('Bulk memory on a memory other than 0.');
      body.copy(module, copied, ins.start);
      body.byte(0x21).u32(scratch.count).byte(0x21).u32(scratch.second).byte(0x22).u32(scratch.address);
      body.byte(0x20).u32(scratch.second).byte(0x20).u32(scratch.count);
      body.copy(module, ins.start, reader.offset);
      emitMarkRange(body, scratch.address, scratch.count, false);
      copied = reader.offset;
      changed = true;
    } else if (op === OP.call || op === OP.returnCall) {
      const wrapper = wrapperFor.get(ins.index);
      if (wrapper === undefined) continue;
      body.copy(module, copied, ins.start);
      body.byte(op).u32(wrapper);
      copied = reader.offset;
      changed = true;
    } else if (op === OP.refFunc) {
      if (wrapperFor.has(ins.index)) throw new RangeError('A reference to an imported function escapes.');
    } else if (op >= OP.atomicWriteFirst && op <= OP.atomicWriteLast) {
      throw new RangeError('Atomic writes are not tracked.');
    }
  }
  if (reader.offset !== end || module[end - 1] !== 0x0b) throw new RangeError('A wasm function body is malformed.');
  if (!changed) return false;
  body.copy(module, copied, end);
  if (locals + 7 > MAX_LOCALS) throw new RangeError('A function has too many locals to rewrite.');
  const head = new Writer(32).u32(groups + SCRATCH_DECLS.length).bytes(module.subarray(groupsStart, localsEnd));
  for (const [count, type] of SCRATCH_DECLS) head.u32(count).byte(type);
  out
    .u32(head.length + body.length)
    .bytes(head.view())
    .bytes(body.view());
  return true;
}

/**
 * Returns a copy of `module` that marks its writes (see the file comment),
 * or the module itself when it has no memory of its own. Throws
 * `RangeError` on anything it cannot rewrite soundly.
 */
export function trackWrites(module: Uint8Array): WriteTrackingResult {
  const info = readModule(module);
  const state = { writesTables: false };
  const code = info.sections.get(SECTION.code);
  const memories = info.importedMemories + info.definedMemories;
  if (memories > 1) throw new RangeError('A module with several memories is not tracked.');
  if (memories === 0) {
    // Nothing to track; only whether it writes tables.
    if (code) scanForTableWrites(module, code.bodyStart, code.bodyEnd, state);
    return { module, tracked: false, importsMap: false, writesTables: state.writesTables };
  }
  const importsMap = info.importedMemories === 1;
  if (!code) {
    // Its memory can change only through what it exports (data segments ran at instantiation).
    if (importsMap) return { module, tracked: true, importsMap: false, writesTables: false };
    throw new RangeError('A module with a memory and no code section.');
  }

  const importedFunctions = info.importedFunctionTypes.length;
  let nextFunction = importedFunctions + info.functionTypes.length;
  const newFunctionTypes: number[] = [];
  const newBodies: Writer[] = [];
  const wrapperFor = new Map<number, number>();
  info.importedFunctionTypes.forEach((typeIndex, index) => {
    const type = info.types[typeIndex];
    if (!type) throw new RangeError('An import refers to an unknown type.');
    if (!type.params.includes(I32)) return;
    if (info.referencedFunctions.has(index)) throw new RangeError('A reference to an imported function escapes.');
    wrapperFor.set(index, nextFunction++);
    newFunctionTypes.push(typeIndex);
    newBodies.push(importWrapper(index, type));
  });
  const exports = info.exports.map((entry) => {
    if (entry.kind !== KIND.func || entry.index < importedFunctions) return entry;
    const typeIndex = info.functionTypes[entry.index - importedFunctions]!;
    if (!isRealloc(entry, info.types[typeIndex])) return entry;
    newFunctionTypes.push(typeIndex);
    newBodies.push(reallocWrapper(entry.index));
    return { ...entry, index: nextFunction++ };
  });
  // The map is memory 1 either way: defined after the module's own, or imported after the one it imports.
  if (!importsMap) exports.push({ name: DIRTY_EXPORT, kind: KIND.memory, index: 1 });

  // Code: each function rewritten or copied as is, then the wrappers.
  const reader = new Reader(module.subarray(0, code.bodyEnd), code.bodyStart);
  const count = reader.u32();
  if (count !== info.functionTypes.length) throw new RangeError('Function and code sections disagree.');
  const codeBody = new Writer(code.bodyEnd - code.bodyStart + 1024 * 1024);
  codeBody.u32(count + newBodies.length);
  const scratchBody = new Writer(64 * 1024);
  for (let i = 0; i < count; i++) {
    const size = reader.u32();
    const start = reader.offset;
    const end = start + size;
    if (end > code.bodyEnd) throw new RangeError('A wasm function runs past the code section.');
    const type = info.types[info.functionTypes[i]!];
    if (!type) throw new RangeError('A function refers to an unknown type.');
    if (!rewriteFunction(module, start, end, type.params.length, wrapperFor, scratchBody, codeBody, state)) {
      codeBody.u32(size).copy(module, start, end);
    }
    reader.offset = end;
  }
  for (const body of newBodies) codeBody.u32(body.length).bytes(body.view());

  // The other sections that change: function (new types), memory or import (the map), export (wrappers + map).
  const functionBody = new Writer().u32(info.functionTypes.length + newFunctionTypes.length);
  for (const type of [...info.functionTypes, ...newFunctionTypes]) functionBody.u32(type);
  const exportBody = new Writer().u32(exports.length);
  for (const entry of exports) exportBody.name(entry.name).byte(entry.kind).u32(entry.index);
  const replaced = new Map<number, Writer>([
    [SECTION.function, functionBody],
    [SECTION.export, exportBody],
    [SECTION.code, codeBody],
  ]);
  const mapType = (w: Writer) => w.byte(0x01).u32(MAP_WASM_PAGES).u32(MAP_MAX_WASM_PAGES);
  if (importsMap) {
    // Appended after every other import: memory indices count memory imports only, so it becomes memory 1.
    const imports = info.sections.get(SECTION.import)!;
    const entries = new Reader(module, imports.bodyStart);
    const count = entries.u32();
    const importBody = new Writer()
      .u32(count + 1)
      .bytes(module.subarray(entries.offset, imports.bodyEnd))
      .name(DIRTY_IMPORT.module)
      .name(DIRTY_IMPORT.name)
      .byte(KIND.memory);
    replaced.set(SECTION.import, mapType(importBody));
  } else {
    const memory = info.sections.get(SECTION.memory)!;
    const memoryEntries = new Reader(module, memory.bodyStart);
    memoryEntries.u32();
    const memoryBody = new Writer().u32(2).bytes(module.subarray(memoryEntries.offset, memory.bodyEnd));
    replaced.set(SECTION.memory, mapType(memoryBody));
  }
  const out = new Writer(module.length + 2 * 1024 * 1024).bytes(module.subarray(0, 8));
  let exportWritten = info.sections.has(SECTION.export);
  for (const { id, sectionStart, bodyEnd } of sections(module)) {
    // No export section yet: it goes before the first section that must follow it.
    if (!exportWritten && AFTER_EXPORT.has(id)) {
      out.section(SECTION.export, exportBody);
      exportWritten = true;
    }
    const body = replaced.get(id);
    if (body && id !== SECTION.custom) out.section(id, body);
    else out.bytes(module.subarray(sectionStart, bodyEnd));
  }
  if (!info.sections.has(SECTION.function)) throw new RangeError('A module with code and no function section.');
  return { module: out.view().slice(), tracked: true, importsMap, writesTables: state.writesTables };
}

function scanForTableWrites(module: Uint8Array, start: number, end: number, state: { writesTables: boolean }): void {
  const reader = new Reader(module.subarray(0, end), start);
  const ins: Instruction = { op: 0, start: 0, memory: 0, offset: 0, index: 0 };
  for (let i = 0, count = reader.u32(); i < count; i++) {
    const size = reader.u32();
    const bodyEnd = reader.offset + size;
    for (let groups = reader.u32(); groups > 0; groups--) {
      reader.u32();
      skipValType(reader);
    }
    while (reader.offset < bodyEnd) {
      nextInstruction(reader, ins);
      if (TABLE_WRITES.has(ins.op)) state.writesTables = true;
    }
  }
}
