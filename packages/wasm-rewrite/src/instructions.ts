/**
 * A decoder for the instructions of a function body: it reads each opcode
 * and steps over its immediates, so a rewriter can find the instructions it
 * cares about (stores, bulk memory, calls, table writes) and copy every other
 * byte untouched. It knows the MVP plus the proposals a toolchain like
 * wasi-sdk emits today (sign extension, saturating truncation, bulk memory,
 * reference types, multi-memory, SIMD, relaxed SIMD, tail calls, exception
 * handling, threads); GC instructions throw `RangeError`, which callers
 * treat as "cannot rewrite this module".
 */
import { skipValType, type Reader } from './binary.ts';

/** Prefixed opcodes are `prefix * 0x1000 + sub-opcode`. */
export const PREFIX_GC = 0xfb;
export const PREFIX_MISC = 0xfc;
export const PREFIX_SIMD = 0xfd;
export const PREFIX_ATOMIC = 0xfe;
export const prefixed = (prefix: number, sub: number): number => prefix * 0x1000 + sub;

export const OP = {
  loop: 0x03,
  end: 0x0b,
  call: 0x10,
  returnCall: 0x12,
  callRef: 0x14,
  returnCallRef: 0x15,
  tableSet: 0x26,
  refFunc: 0xd2,
  memoryInit: prefixed(PREFIX_MISC, 8),
  memoryCopy: prefixed(PREFIX_MISC, 10),
  memoryFill: prefixed(PREFIX_MISC, 11),
  tableInit: prefixed(PREFIX_MISC, 12),
  tableCopy: prefixed(PREFIX_MISC, 14),
  tableGrow: prefixed(PREFIX_MISC, 15),
  tableFill: prefixed(PREFIX_MISC, 17),
  v128Store: prefixed(PREFIX_SIMD, 11),
  /** v128.store8_lane .. v128.store64_lane */
  v128StoreLaneFirst: prefixed(PREFIX_SIMD, 88),
  v128StoreLaneLast: prefixed(PREFIX_SIMD, 91),
  /** i32.atomic.store .. the last atomic read-modify-write */
  atomicWriteFirst: prefixed(PREFIX_ATOMIC, 0x17),
  atomicWriteLast: prefixed(PREFIX_ATOMIC, 0x4e),
} as const;

/** The value type a plain store (0x36..0x3e) takes from the stack. */
export const STORE_VALUE_TYPE: Readonly<Record<number, number>> = {
  0x36: 0x7f, // i32.store
  0x37: 0x7e, // i64.store
  0x38: 0x7d, // f32.store
  0x39: 0x7c, // f64.store
  0x3a: 0x7f, // i32.store8
  0x3b: 0x7f, // i32.store16
  0x3c: 0x7e, // i64.store8
  0x3d: 0x7e, // i64.store16
  0x3e: 0x7e, // i64.store32
};

/** Instructions that write a table; a module without any cannot change one after instantiation. */
export const TABLE_WRITES: ReadonlySet<number> = new Set([
  OP.tableSet,
  OP.tableInit,
  OP.tableCopy,
  OP.tableGrow,
  OP.tableFill,
]);

/** One decoded instruction; the decoder reuses a single object (a large code section has millions). */
export interface Instruction {
  op: number;
  /** Offset of the opcode's first byte. */
  start: number;
  /** For memory accesses: the memory index and the static offset. */
  memory: number;
  offset: number;
  /** For call / return_call / ref.func: the function index; for bulk memory: the (destination) memory. */
  index: number;
}

function skipBlockType(reader: Reader): void {
  const type = reader.bytes[reader.offset];
  if (type === 0x40 || (type !== undefined && type >= 0x69 && type <= 0x7f)) reader.offset++;
  else if (type === 0x63 || type === 0x64) {
    reader.offset++;
    reader.skipLeb();
  } else reader.skipLeb(); // s33 type index
}

function memarg(reader: Reader, into: Instruction): void {
  const flags = reader.u32();
  into.memory = flags & 0x40 ? reader.u32() : 0;
  into.offset = reader.u32();
}

function skipMisc(reader: Reader, sub: number, into: Instruction): void {
  if (sub <= 7) return; // saturating truncations
  switch (sub) {
    case 8: // memory.init data mem
      reader.u32();
      into.index = reader.u32();
      return;
    case 10: // memory.copy dst src
      into.index = reader.u32();
      into.memory = reader.u32();
      return;
    case 11: // memory.fill mem
      into.index = reader.u32();
      return;
    case 12: // table.init elem table
    case 14: // table.copy dst src
      reader.u32();
      reader.u32();
      return;
    case 9: // data.drop
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      reader.u32();
      return;
    default:
      throw new RangeError(`Unsupported wasm instruction 0xfc ${sub}.`);
  }
}

function skipSimd(reader: Reader, sub: number, into: Instruction): void {
  if (sub <= 11 || sub === 92 || sub === 93)
    memarg(reader, into); // loads, v128.store, load32/64_zero
  else if (sub === 12 || sub === 13)
    reader.skip(16); // v128.const, i8x16.shuffle
  else if (sub >= 21 && sub <= 34)
    reader.skip(1); // extract/replace lane
  else if (sub >= 84 && sub <= 91) {
    memarg(reader, into); // load/store lane
    reader.skip(1);
  } else if (sub > 0x113) throw new RangeError(`Unsupported wasm instruction 0xfd ${sub}.`);
}

/** How each single-byte opcode's immediates are laid out (a table: the decoder runs millions of times per module). */
const IMM = {
  invalid: 0,
  none: 1,
  blockType: 2,
  index: 3, // one u32 the caller may need (call, return_call, ref.func)
  leb: 4, // one LEB the caller does not need
  twoLeb: 5,
  brTable: 6,
  selectTypes: 7,
  tryTable: 8,
  memarg: 9,
  memoryIndex: 10,
  bytes4: 11,
  bytes8: 12,
  prefix: 13,
} as const;

const IMMEDIATES = (() => {
  const table = new Uint8Array(256); // IMM.invalid by default
  const set = (kind: number, ...ops: number[]) => ops.forEach((op) => (table[op] = kind));
  const range = (kind: number, from: number, to: number) => table.fill(kind, from, to + 1);
  set(IMM.none, 0x00, 0x01, 0x05, 0x0a, 0x0b, 0x0f, 0x19, 0x1a, 0x1b, 0xd1, 0xd3, 0xd4);
  set(IMM.blockType, 0x02, 0x03, 0x04, 0x06);
  set(IMM.index, 0x10, 0x12, 0xd2);
  set(IMM.leb, 0x07, 0x08, 0x09, 0x0c, 0x0d, 0x14, 0x15, 0x18, 0x41, 0x42, 0xd0, 0xd5, 0xd6);
  range(IMM.leb, 0x20, 0x26); // locals, globals, table.get/set
  set(IMM.twoLeb, 0x11, 0x13);
  set(IMM.brTable, 0x0e);
  set(IMM.selectTypes, 0x1c);
  set(IMM.tryTable, 0x1f);
  range(IMM.memarg, 0x28, 0x3e);
  set(IMM.memoryIndex, 0x3f, 0x40);
  set(IMM.bytes4, 0x43);
  set(IMM.bytes8, 0x44);
  range(IMM.none, 0x45, 0xc4); // numeric
  set(IMM.prefix, PREFIX_MISC, PREFIX_SIMD, PREFIX_ATOMIC);
  return table;
})();

/**
 * Decodes the instruction at `reader.offset` into `into` and leaves the
 * reader after its immediates. Throws `RangeError` on anything unknown.
 */
export function nextInstruction(reader: Reader, into: Instruction): void {
  into.start = reader.offset;
  const op = reader.byte();
  into.op = op;
  switch (IMMEDIATES[op]) {
    case IMM.none:
      return;
    case IMM.leb:
      reader.skipLeb();
      return;
    case IMM.memarg:
      return memarg(reader, into);
    case IMM.index:
      into.index = reader.u32();
      return;
    case IMM.blockType:
      return skipBlockType(reader);
    case IMM.twoLeb:
      reader.skipLeb();
      reader.skipLeb();
      return;
    case IMM.brTable:
      for (let n = reader.u32(); n >= 0; n--) reader.skipLeb(); // the labels, then the default
      return;
    case IMM.selectTypes:
      for (let n = reader.u32(); n > 0; n--) skipValType(reader);
      return;
    case IMM.tryTable:
      skipBlockType(reader);
      for (let n = reader.u32(); n > 0; n--) {
        const kind = reader.byte();
        if (kind <= 0x01)
          reader.skipLeb(); // catch / catch_ref carry a tag
        else if (kind > 0x03) throw new RangeError(`Unsupported try_table catch kind ${kind}.`);
        reader.skipLeb();
      }
      return;
    case IMM.memoryIndex:
      into.memory = reader.u32();
      return;
    case IMM.bytes4:
      return reader.skip(4);
    case IMM.bytes8:
      return reader.skip(8);
    case IMM.prefix:
      break;
    default:
      throw new RangeError(`Unsupported wasm opcode 0x${op.toString(16)}.`);
  }
  // A prefixed opcode: a u32 sub-opcode follows.
  const sub = reader.u32();
  into.op = prefixed(op, sub);
  if (op === PREFIX_MISC) return skipMisc(reader, sub, into);
  if (op === PREFIX_SIMD) return skipSimd(reader, sub, into);
  if (sub === 0x03) return reader.skip(1); // atomic.fence
  if (sub > 0x4e) throw new RangeError(`Unsupported wasm instruction 0xfe ${sub}.`);
  return memarg(reader, into);
}
