/**
 * Caps the linear memory a core wasm module may grow to, by rewriting the
 * `max` of every memory it defines before it is compiled. V8 then refuses
 * any `memory.grow` past the cap (the guest traps), at no run-time cost.
 *
 * Hand-written rather than a library: only the section framing and the
 * memory section's limits need decoding (~80 lines); the wasm toolkits in
 * node_modules either parse the whole module into an AST (slow and
 * memory-hungry on a 12 MB StarlingMonkey module) or go through text (WAT),
 * which is worse still.
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

/**
 * Returns a copy of `module` whose defined memories may grow to at most
 * `limitPages` 64 KiB pages (a lower existing maximum is kept). Modules
 * without a memory section come back unchanged (imported memories are
 * capped where they are defined).
 */
export function capModuleMemory(module: Uint8Array, limitPages: number): Uint8Array {
  if (!Number.isInteger(limitPages) || limitPages < 1) throw new RangeError('limitPages must be a positive integer.');
  const reader = new Reader(module, 8);
  if (module.length < 8 || module[0] !== 0x00 || module[1] !== 0x61 || module[2] !== 0x73 || module[3] !== 0x6d) {
    throw new RangeError('Not a core wasm module.');
  }
  const parts: Uint8Array[] = [];
  let copiedUpTo = 0;
  while (reader.offset < module.length) {
    const sectionStart = reader.offset;
    const id = reader.byte();
    const size = Number(reader.leb());
    const bodyStart = reader.offset;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > module.length) throw new RangeError('A wasm section runs past the end of the module.');
    if (id === MEMORY_SECTION) {
      const body = rewriteMemorySection(module.subarray(bodyStart, bodyEnd), limitPages);
      parts.push(module.subarray(copiedUpTo, sectionStart), Uint8Array.from([id, ...leb(BigInt(body.length))]), body);
      copiedUpTo = bodyEnd;
    }
    reader.offset = bodyEnd;
  }
  if (copiedUpTo === 0) return module;
  parts.push(module.subarray(copiedUpTo));
  return Buffer.concat(parts);
}

/** Pages for a limit in MiB. */
export function pagesForMb(memoryMb: number): number {
  return Math.floor((memoryMb * 1024 * 1024) / WASM_PAGE_BYTES);
}
