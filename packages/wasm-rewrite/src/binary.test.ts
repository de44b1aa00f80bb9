/**
 * The binary framing: LEB128 encodes and decodes the way V8 does, at every
 * width boundary; the reader refuses to run past its input; and the
 * section, import, limits and constant-expression walkers land exactly on
 * the end of what they read in modules a real toolchain produced.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '@bytecodealliance/jco';
import fc from 'fast-check';
import {
  KIND,
  leb,
  readImport,
  Reader,
  SECTION,
  sections,
  skipConstExpr,
  skipLimits,
  skipValType,
  Writer,
} from './binary.ts';

const bytesOf = (writer: Writer) => [...writer.view()];

/** A module whose only function returns the `i32.const` the writer encodes: V8 is the decoder of reference. */
function constantFromV8(value: number): number {
  const code = new Writer().u32(1);
  const body = new Writer().u32(0).byte(0x41).s32(value).byte(0x0b);
  code.u32(body.length).bytes(body.view());
  const module = new Writer()
    .bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
    .section(SECTION.type, new Writer().u32(1).bytes([0x60, 0x00, 0x01, 0x7f]))
    .section(SECTION.function, new Writer().u32(1).u32(0))
    .section(SECTION.export, new Writer().u32(1).name('get').byte(KIND.func).u32(0))
    .section(SECTION.code, code)
    .view()
    .slice();
  const instance = new WebAssembly.Instance(new WebAssembly.Module(module));
  return (instance.exports.get as () => number)();
}

/** The sections of `module` by id (custom sections left out). */
function sectionMap(module: Uint8Array) {
  const byId = new Map<number, Reader & { end: number }>();
  for (const { id, bodyStart, bodyEnd } of sections(module)) {
    if (id !== SECTION.custom) byId.set(id, Object.assign(new Reader(module, bodyStart), { end: bodyEnd }));
  }
  return byId;
}

describe('LEB128', () => {
  const unsigned: Array<[number, number[]]> = [
    [0, [0x00]],
    [1, [0x01]],
    [127, [0x7f]],
    [128, [0x80, 0x01]],
    [16_383, [0xff, 0x7f]],
    [16_384, [0x80, 0x80, 0x01]],
    [2 ** 32 - 1, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];

  it('encodes unsigned values in the fewest bytes and reads them back, at every 7-bit boundary', () => {
    for (const [value, encoded] of unsigned) {
      assert.deepEqual(bytesOf(new Writer().u32(value)), encoded, `u32 ${value}`);
      assert.deepEqual(leb(BigInt(value)), encoded, `leb ${value}`);
      const reader = new Reader(Uint8Array.from(encoded));
      assert.equal(reader.u32(), value);
      assert.equal(reader.offset, encoded.length, 'the reader stops after the last byte');
      assert.equal(new Reader(Uint8Array.from(encoded)).leb(), BigInt(value));
    }
  });

  it('reads 64-bit values exactly, and a redundant (non-minimal) encoding as the same value', () => {
    const max = 2n ** 64n - 1n;
    const encoded = leb(max);
    assert.equal(encoded.length, 10);
    assert.equal(new Reader(Uint8Array.from(encoded)).leb(), max);
    assert.equal(new Reader(Uint8Array.from([0x85, 0x80, 0x80, 0x00])).u32(), 5);
  });

  it('encodes signed 32-bit values the way V8 decodes them, negatives and the sign-bit boundaries included', () => {
    const signed: Array<[number, number[]]> = [
      [0, [0x00]],
      [63, [0x3f]],
      [64, [0xc0, 0x00]],
      [-1, [0x7f]],
      [-64, [0x40]],
      [-65, [0xbf, 0x7f]],
      [2 ** 31 - 1, [0xff, 0xff, 0xff, 0xff, 0x07]],
      [-(2 ** 31), [0x80, 0x80, 0x80, 0x80, 0x78]],
    ];
    for (const [value, encoded] of signed) {
      assert.deepEqual(bytesOf(new Writer().s32(value)), encoded, `s32 ${value}`);
      assert.equal(constantFromV8(value), value);
    }
    // Like `i32.const`, a value outside 32 bits wraps.
    assert.deepEqual(bytesOf(new Writer().s32(2 ** 31)), bytesOf(new Writer().s32(-(2 ** 31))));
  });

  it('refuses truncated input and values longer than their width instead of reading past them', () => {
    const truncated = Uint8Array.from([0x80, 0x80]);
    assert.throws(() => new Reader(truncated).u32(), RangeError);
    assert.throws(() => new Reader(truncated).leb(), RangeError);
    assert.throws(() => new Reader(truncated).skipLeb(), RangeError);
    assert.throws(() => new Reader(new Uint8Array()).byte(), RangeError);
    assert.throws(() => new Reader(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).u32(), RangeError);
    assert.throws(() => new Reader(Uint8Array.from([...new Array(10).fill(0x80), 0x01])).leb(), RangeError);
  });

  it('round-trips every u32 and u64 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (value) => {
        const encoded = new Writer(1).u32(value).view();
        assert.deepEqual([...encoded], leb(BigInt(value)));
        const reader = new Reader(encoded);
        assert.equal(reader.u32(), value);
        assert.equal(reader.offset, encoded.length);
        const skipper = new Reader(encoded);
        skipper.skipLeb();
        assert.equal(skipper.offset, encoded.length);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (value) => {
        const encoded = Uint8Array.from(leb(value));
        assert.ok(encoded.length <= 10);
        assert.equal(new Reader(encoded).leb(), value);
      }),
    );
  });

  it('encodes every signed 32-bit value so that V8 reads it back (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        assert.equal(constantFromV8(value), value);
      }),
      { numRuns: 200 },
    );
  });
});

describe('Reader and Writer', () => {
  it('round-trips names as UTF-8 with a byte length, not a character count', () => {
    const encoded = new Writer().name('héllo ✓').name('').view();
    assert.equal(encoded[0], Buffer.byteLength('héllo ✓'));
    const reader = new Reader(encoded);
    assert.equal(reader.name(), 'héllo ✓');
    assert.equal(reader.name(), '');
    assert.equal(reader.offset, encoded.length);
    assert.throws(() => new Reader(Uint8Array.from([5, 0x61, 0x62])).name(), RangeError);
  });

  it('skips within bounds only', () => {
    const reader = new Reader(new Uint8Array(4), 1);
    reader.skip(3);
    assert.equal(reader.offset, 4);
    assert.throws(() => reader.skip(1), RangeError);
  });

  it('grows past its initial capacity and copies short and long runs alike', () => {
    const source = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff);
    const writer = new Writer(1);
    writer.byte(0xaa).copy(source, 10, 20).copy(source, 100, 900).bytes([1, 2, 3]);
    const expected = [0xaa, ...source.subarray(10, 20), ...source.subarray(100, 900), 1, 2, 3];
    assert.deepEqual([...writer.view()], expected);
  });

  it('frames a section as id, body length, body', () => {
    const body = new Writer().bytes(new Array(200).fill(7));
    const framed = new Writer().section(SECTION.data, body).view();
    assert.deepEqual([...framed.subarray(0, 3)], [SECTION.data, 0xc8, 0x01]);
    assert.equal(framed.length, 3 + 200);
  });
});

/** A module with one of every section kind, from a real toolchain. */
const EVERY_SECTION = `(module
  (type $binary (func (param i32 i32) (result i32)))
  (import "env" "add" (func $add (type $binary)))
  (import "env" "table" (table 1 10 funcref))
  (import "env" "memory" (memory 1 2))
  (import "env" "base" (global $base (mut i64)))
  (import "env" "oops" (tag $oops (param i32)))
  (table $own 2 externref)
  (memory $heap 1)
  (tag $mine)
  (global $sp (mut i32) (i32.const 4096))
  (export "run" (func $run))
  (export "heap" (memory $heap))
  (start $init)
  (elem (table 0) (i32.const 0) func $run)
  (func $init)
  (func $run (param i32 i32) (result i32)
    (memory.init $heap $seg (i32.const 0) (i32.const 0) (i32.const 1))
    (data.drop $seg)
    (call $add (local.get 0) (local.get 1)))
  (data $seg "x")
  (@custom "note" "hello"))`;

describe('sections', () => {
  it('walks every section of a real module in order, and the sections tile it exactly', async () => {
    const module = await parse(EVERY_SECTION);
    const found = [...sections(module)];
    const ids = found.map(({ id }) => id).filter((id) => id !== SECTION.custom);
    const { type, import: imp, function: func, table, memory, tag, global, export: exp } = SECTION;
    const { start, element, dataCount, code, data } = SECTION;
    assert.deepEqual(ids, [type, imp, func, table, memory, tag, global, exp, start, element, dataCount, code, data]);
    let at = 8;
    for (const section of found) {
      assert.equal(section.sectionStart, at, 'each section starts where the last one ended');
      assert.ok(section.bodyStart > section.sectionStart && section.bodyEnd >= section.bodyStart);
      at = section.bodyEnd;
    }
    assert.equal(at, module.length);
    const note = found.find(
      ({ id, bodyStart }) => id === SECTION.custom && new Reader(module, bodyStart).name() === 'note',
    );
    assert.ok(note, 'custom sections are yielded too');
    const reader = new Reader(module.subarray(0, note.bodyEnd), note.bodyStart);
    reader.name();
    assert.equal(Buffer.from(module.subarray(reader.offset, note.bodyEnd)).toString(), 'hello');
  });

  it('refuses what is not a module, and a section that runs past the end', async () => {
    assert.throws(() => [...sections(Uint8Array.from([0x00, 0x61, 0x73]))], RangeError);
    assert.throws(() => [...sections(Buffer.from('not wasm at all'))], RangeError);
    const module = await parse(EVERY_SECTION);
    assert.throws(() => [...sections(module.subarray(0, module.length - 3))], RangeError);
  });
});

describe('entry walkers', () => {
  it("reads every kind of import, a function's type index included, to the end of the import section", async () => {
    const module = await parse(EVERY_SECTION);
    const reader = sectionMap(module).get(SECTION.import)!;
    const kinds: number[] = [];
    const typeIndices: number[] = [];
    for (let count = reader.u32(); count > 0; count--) {
      const { kind, typeIndex } = readImport(reader);
      kinds.push(kind);
      typeIndices.push(typeIndex);
    }
    assert.equal(reader.offset, reader.end);
    assert.deepEqual(kinds, [KIND.func, KIND.table, KIND.memory, KIND.global, KIND.tag]);
    assert.deepEqual(typeIndices, [0, -1, -1, -1, -1]);
    const described = WebAssembly.Module.imports(new WebAssembly.Module(module as Uint8Array<ArrayBuffer>));
    assert.deepEqual(
      described.map(({ kind }) => kind),
      ['function', 'table', 'memory', 'global', 'tag'],
    );
  });

  it('refuses an import of an unknown kind', () => {
    const entry = new Writer().name('m').name('f').byte(0x07).u32(0).view();
    assert.throws(() => readImport(new Reader(entry)), RangeError);
  });

  it('skips limits with and without a maximum, shared, 64-bit and custom page sizes, and refuses unknown flags', () => {
    const cases: number[][] = [
      [0x00, 0x01],
      [0x01, 0x01, 0x80, 0x02],
      [0x03, 0x01, 0x10],
      [0x05, ...leb(2n ** 40n), ...leb(2n ** 48n)],
      [0x08, 0x01, 0x00],
    ];
    for (const bytes of cases) {
      const reader = new Reader(Uint8Array.from([...bytes, 0xee]));
      skipLimits(reader);
      assert.equal(reader.offset, bytes.length, `flags 0x${bytes[0]!.toString(16)}`);
    }
    assert.throws(() => skipLimits(new Reader(Uint8Array.from([0x10, 0x01]))), RangeError);
  });

  it('skips value types, reference types with a heap type included, and refuses unknown ones', () => {
    const reader = new Reader(Uint8Array.from([0x7f, 0x7b, 0x70, 0x63, 0x70, 0x64, 0x05]));
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => skipValType(reader)),
      [0x7f, 0x7b, 0x70, 0x63, 0x64],
    );
    assert.equal(reader.offset, 7);
    assert.throws(() => skipValType(new Reader(Uint8Array.from([0x40]))), RangeError);
  });

  it('skips the constant expression of every global a toolchain emits and reports each ref.func', async () => {
    const module = await parse(`(module
      (import "env" "base" (global $base i32))
      (func $f) (func $g)
      (global i32 (i32.const -12345))
      (global i64 (i64.const -9223372036854775808))
      (global f32 (f32.const 1.5))
      (global f64 (f64.const -0.25))
      (global i32 (global.get $base))
      (global i32 (i32.add (global.get $base) (i32.mul (i32.const 4) (i32.const 8))))
      (global i64 (i64.sub (i64.const 1) (i64.const 2)))
      (global funcref (ref.null func))
      (global funcref (ref.func $g))
      (global (mut funcref) (ref.func $f))
      (global v128 (v128.const i32x4 1 2 3 4)))`);
    new WebAssembly.Module(module as Uint8Array<ArrayBuffer>); // V8 accepts it
    const reader = sectionMap(module).get(SECTION.global)!;
    const referenced: number[] = [];
    let count = 0;
    for (let n = reader.u32(); n > 0; n--, count++) {
      skipValType(reader);
      reader.byte();
      skipConstExpr(reader, (index) => referenced.push(index));
    }
    assert.equal(count, 11);
    assert.equal(reader.offset, reader.end);
    assert.deepEqual(referenced, [1, 0]);
  });

  it('refuses a constant expression it does not know, a non-constant SIMD op included', () => {
    assert.throws(() => skipConstExpr(new Reader(Uint8Array.from([0x20, 0x00, 0x0b]))), RangeError); // local.get
    assert.throws(() => skipConstExpr(new Reader(Uint8Array.from([0xfd, 0x0b, 0x0b]))), RangeError);
    assert.throws(() => skipConstExpr(new Reader(Uint8Array.from([0x41, 0x01]))), RangeError, 'no end');
  });
});
