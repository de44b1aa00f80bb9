/**
 * The wasm binary format's framing: a bounds-checked reader, a growable
 * writer, LEB128 and the top-level sections, shared by this package's
 * rewrites. Anything malformed throws `RangeError`, which the rewrites pass
 * on as "not rewritable" rather than guess.
 */

export const WASM_PAGE_BYTES = 64 * 1024;

export const SECTION = {
  custom: 0,
  type: 1,
  import: 2,
  function: 3,
  table: 4,
  memory: 5,
  global: 6,
  export: 7,
  start: 8,
  element: 9,
  code: 10,
  data: 11,
  dataCount: 12,
  tag: 13,
} as const;

/** Sections that come after the export section (start, element, data count, code, data). */
export const AFTER_EXPORT: ReadonlySet<number> = new Set([
  SECTION.start,
  SECTION.element,
  SECTION.dataCount,
  SECTION.code,
  SECTION.data,
]);

export const KIND = { func: 0x00, table: 0x01, memory: 0x02, global: 0x03, tag: 0x04 } as const;

export class Reader {
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
  /** Unsigned LEB128 of at most 32 bits, as a number (the fast path for indices and counts). */
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 28) throw new RangeError('u32 LEB128 value too long in wasm module.');
    }
  }
  /** Skips one LEB128 value of any width, signed or not. */
  skipLeb(): void {
    while (this.byte() & 0x80);
  }
  skip(count: number): void {
    if (this.offset + count > this.bytes.length) throw new RangeError('Unexpected end of wasm module.');
    this.offset += count;
  }
  name(): string {
    const length = this.u32();
    const end = this.offset + length;
    if (end > this.bytes.length) throw new RangeError('A wasm name runs past its section.');
    const name = Buffer.from(this.bytes.subarray(this.offset, end)).toString('utf8');
    this.offset = end;
    return name;
  }
}

/** Appends bytes to a buffer that doubles as it fills, so a whole code section is rewritten in one pass. */
export class Writer {
  #buffer: Uint8Array;
  length = 0;
  constructor(capacity = 1024) {
    this.#buffer = new Uint8Array(capacity);
  }
  #reserve(extra: number): void {
    if (this.length + extra <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.length));
    this.#buffer = next;
  }
  byte(value: number): this {
    this.#reserve(1);
    this.#buffer[this.length++] = value;
    return this;
  }
  bytes(values: Uint8Array | readonly number[]): this {
    this.#reserve(values.length);
    this.#buffer.set(values, this.length);
    this.length += values.length;
    return this;
  }
  /** Appends `source[start, end)`; short runs (most of a rewrite) are copied without a subarray view. */
  copy(source: Uint8Array, start: number, end: number): this {
    const length = end - start;
    this.#reserve(length);
    if (length > 64) this.#buffer.set(source.subarray(start, end), this.length);
    else for (let i = 0; i < length; i++) this.#buffer[this.length + i] = source[start + i]!;
    this.length += length;
    return this;
  }
  u32(value: number): this {
    do {
      let byte = value & 0x7f;
      value = Math.floor(value / 128);
      if (value !== 0) byte |= 0x80;
      this.byte(byte);
    } while (value !== 0);
    return this;
  }
  /** Signed LEB128 of a 32-bit integer (`i32.const`). */
  s32(value: number): this {
    value |= 0;
    for (;;) {
      const byte = value & 0x7f;
      value >>= 7;
      if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) return this.byte(byte);
      this.byte(byte | 0x80);
    }
  }
  name(text: string): this {
    const encoded = Buffer.from(text, 'utf8');
    return this.u32(encoded.length).bytes(encoded);
  }
  /** A section: id, body length, body. */
  section(id: number, body: Writer): this {
    return this.byte(id).u32(body.length).bytes(body.view());
  }
  view(): Uint8Array {
    return this.#buffer.subarray(0, this.length);
  }
}

export function leb(value: bigint): number[] {
  const out: number[] = [];
  do {
    let byte = Number(value & 0x7fn);
    value >>= 7n;
    if (value !== 0n) byte |= 0x80;
    out.push(byte);
  } while (value !== 0n);
  return out;
}

export interface Section {
  id: number;
  /** Offset of the section's id byte. */
  sectionStart: number;
  bodyStart: number;
  bodyEnd: number;
}

/** Each top-level section of a core module, bounds-checked; throws on anything that is not one. */
export function* sections(module: Uint8Array): Generator<Section> {
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

/** A value or reference type; GC's `(ref null? ht)` carries a heap type. Returns the type byte. */
export function skipValType(reader: Reader): number {
  const type = reader.byte();
  if (type === 0x63 || type === 0x64) reader.skipLeb();
  else if (type < 0x69 || type > 0x7f) throw new RangeError(`Unsupported wasm value type 0x${type.toString(16)}.`);
  return type;
}

/**
 * One import entry, from its module name to the end of its descriptor;
 * returns its kind and, for a function, its type index (-1 otherwise).
 */
export function readImport(reader: Reader): { kind: number; typeIndex: number } {
  reader.name();
  reader.name();
  const kind = reader.byte();
  let typeIndex = -1;
  if (kind === KIND.func) typeIndex = reader.u32();
  else if (kind === KIND.table) {
    skipValType(reader);
    skipLimits(reader);
  } else if (kind === KIND.memory) skipLimits(reader);
  else if (kind === KIND.global) {
    skipValType(reader);
    reader.byte(); // mutability
  } else if (kind === KIND.tag) {
    reader.byte(); // attribute
    reader.u32();
  } else throw new RangeError(`Unsupported wasm import kind 0x${kind.toString(16)}.`);
  return { kind, typeIndex };
}

export function skipLimits(reader: Reader): void {
  const flags = reader.byte();
  if ((flags & ~0x0f) !== 0) throw new RangeError(`Unsupported wasm limits flags 0x${flags.toString(16)}.`);
  reader.skipLeb();
  if (flags & 0x01) reader.skipLeb();
  if (flags & 0x08) reader.skipLeb(); // custom page size
}

/**
 * A constant expression (MVP + extended-const + ref ops), up to and
 * including `end`; `onRefFunc` sees the index of every `ref.func` in it.
 */
export function skipConstExpr(reader: Reader, onRefFunc?: (index: number) => void): void {
  for (;;) {
    const op = reader.byte();
    switch (op) {
      case 0x0b:
        return;
      case 0xd2: {
        // ref.func
        const index = reader.u32();
        onRefFunc?.(index);
        break;
      }
      case 0x41: // i32.const
      case 0x42: // i64.const
      case 0x23: // global.get
      case 0xd0: // ref.null ht
        reader.skipLeb();
        break;
      case 0x43: // f32.const
        reader.skip(4);
        break;
      case 0x44: // f64.const
        reader.skip(8);
        break;
      case 0x6a: // i32.add/sub/mul, i64.add/sub/mul (extended-const)
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      case 0xfd: // v128.const
        if (reader.u32() !== 12) throw new RangeError('Unsupported SIMD op in a wasm constant expression.');
        reader.skip(16);
        break;
      default:
        throw new RangeError(`Unsupported opcode 0x${op.toString(16)} in a wasm constant expression.`);
    }
  }
}
