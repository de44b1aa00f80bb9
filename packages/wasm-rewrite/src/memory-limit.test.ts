/**
 * Memory caps and reset exports: a capped module can never grow its own
 * memories past the cap and otherwise runs as before; a module that needs
 * more at start is refused with a typed error. `exposeResetState` makes a
 * module's internal state reachable from JS without changing anything the
 * guest can observe. Every rewritten module is checked by V8 itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '@bytecodealliance/jco';
import fc from 'fast-check';
import { Reader, SECTION, sections } from './binary.ts';
import {
  capModuleMemory,
  exposeResetState,
  MemoryFloorError,
  pagesForMb,
  RESET_EXPORT_PREFIX,
  WASM_PAGE_BYTES,
} from './memory-limit.ts';

const compile = (bytes: Uint8Array) => new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);

function instantiate(bytes: Uint8Array, imports?: WebAssembly.Imports) {
  return new WebAssembly.Instance(compile(bytes), imports).exports as Record<string, unknown>;
}

/** A guest that grows its memory itself: `memory.grow` returns -1 where the cap stops it. */
const grower = (memory: string) => `(module
  (memory (export "memory") ${memory})
  (data (i32.const 0) "hello")
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))`;

/** Flags, min and max of each memory the module defines, as written in its memory section. */
function declaredMemories(module: Uint8Array) {
  const found: Array<{ flags: number; min: bigint; max?: bigint }> = [];
  for (const { id, bodyStart, bodyEnd } of sections(module)) {
    if (id !== SECTION.memory) continue;
    const reader = new Reader(module.subarray(0, bodyEnd), bodyStart);
    for (let count = reader.u32(); count > 0; count--) {
      const flags = reader.byte();
      const min = reader.leb();
      found.push(flags & 1 ? { flags, min, max: reader.leb() } : { flags, min });
    }
  }
  return found;
}

describe('capModuleMemory', () => {
  it('caps an unbounded memory: the guest grows up to the cap and no further', async () => {
    const exports = instantiate(capModuleMemory(await parse(grower('1')), 4));
    const grow = exports.grow as (pages: number) => number;
    assert.equal(grow(3), 1, 'growing to the cap succeeds');
    assert.equal(grow(1), -1, 'one page past it fails');
    assert.equal((exports.size as () => number)(), 4);
    assert.throws(() => (exports.memory as WebAssembly.Memory).grow(1), RangeError, 'the host cannot grow it either');
  });

  it('lowers a larger maximum to the cap and keeps a smaller one', async () => {
    const lowered = instantiate(capModuleMemory(await parse(grower('1 100')), 4));
    assert.equal((lowered.grow as (pages: number) => number)(3), 1);
    assert.equal((lowered.grow as (pages: number) => number)(1), -1);
    const kept = instantiate(capModuleMemory(await parse(grower('1 2')), 4));
    assert.equal((kept.grow as (pages: number) => number)(1), 1);
    assert.equal((kept.grow as (pages: number) => number)(1), -1, 'the module’s own maximum still holds');
  });

  it('caps every memory a module defines, shared and 64-bit ones included, and keeps their kind', async () => {
    const module = await parse(`(module
      (memory $a 1) (memory $b 2 50 shared) (memory $c i64 1)
      (export "b" (memory $b))
      (func (export "growA") (param i32) (result i32) (memory.grow $a (local.get 0)))
      (func (export "growC") (param i64) (result i64) (memory.grow $c (local.get 0))))`);
    const capped = capModuleMemory(module, 3);
    assert.deepEqual(declaredMemories(capped), [
      { flags: 0x01, min: 1n, max: 3n },
      { flags: 0x03, min: 2n, max: 3n },
      { flags: 0x05, min: 1n, max: 3n },
    ]);
    const exports = instantiate(capped);
    assert.equal((exports.growA as (n: number) => number)(3), -1);
    assert.equal((exports.growA as (n: number) => number)(2), 1);
    assert.equal((exports.growC as (n: bigint) => bigint)(3n), -1n);
    assert.equal((exports.growC as (n: bigint) => bigint)(2n), 1n);
    const shared = exports.b as WebAssembly.Memory;
    assert.ok(shared.buffer instanceof SharedArrayBuffer);
    assert.throws(() => shared.grow(2), RangeError);
  });

  it('changes nothing but the memory section: data, code and exports run as before', async () => {
    const original = await parse(grower('1'));
    const capped = capModuleMemory(original, 4);
    const outside = (module: Uint8Array) =>
      [...sections(module)]
        .filter(({ id }) => id !== SECTION.memory)
        .map(({ sectionStart, bodyEnd }) => Buffer.from(module.subarray(sectionStart, bodyEnd)).toString('hex'));
    assert.deepEqual(outside(capped), outside(original));
    const memory = instantiate(capped).memory as WebAssembly.Memory;
    assert.equal(Buffer.from(memory.buffer, 0, 5).toString(), 'hello');
    assert.ok(original.length > 0 && original[0] === 0x00, 'the input is left as it was');
    assert.deepEqual(declaredMemories(original), [{ flags: 0x00, min: 1n }]);
  });

  it('refuses a module whose initial memory exceeds the cap with MemoryFloorError, and accepts one exactly at it', async () => {
    const module = await parse(grower('5'));
    assert.throws(
      () => capModuleMemory(module, 4),
      (error: unknown) =>
        error instanceof MemoryFloorError &&
        error.name === 'MemoryFloorError' &&
        error.minPages === 5n &&
        /0\.3125 MiB .* 0\.25 MiB limit/.test(error.message),
    );
    const exports = instantiate(capModuleMemory(module, 5));
    assert.equal((exports.grow as (n: number) => number)(1), -1);
  });

  it('leaves a module that only imports its memory (or has none) unchanged: the cap belongs where a memory is defined', async () => {
    const importer = await parse(`(module
      (import "env" "memory" (memory 1))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
    assert.equal(capModuleMemory(importer, 2), importer);
    const exports = instantiate(importer, { env: { memory: new WebAssembly.Memory({ initial: 1 }) } });
    assert.equal((exports.grow as (n: number) => number)(4), 1, 'not capped by this module');
    const none = await parse('(module (func (export "f")))');
    assert.equal(capModuleMemory(none, 2), none);
  });

  it('caps a memory above what a 32-bit memory can address at the largest maximum V8 accepts', async () => {
    // A limit above 4 GiB (e.g. limits.memory_mb = 8192) must still give a valid module.
    const capped = capModuleMemory(await parse('(module (memory 1) (memory i64 1))'), pagesForMb(8 * 65536));
    assert.deepEqual(
      declaredMemories(capped).map(({ max }) => max),
      [65_536n, 262_144n],
    );
    assert.ok(WebAssembly.validate(capped as Uint8Array<ArrayBuffer>));
  });

  it('refuses memories with flags it does not know (custom page sizes) and limits that are not a page count', async () => {
    const customPages = await parse('(module (memory 1 (pagesize 1)))');
    assert.throws(() => capModuleMemory(customPages, 4), RangeError);
    const module = await parse(grower('1'));
    for (const limit of [0, -1, 1.5, Number.NaN]) assert.throws(() => capModuleMemory(module, limit), RangeError);
    assert.throws(() => capModuleMemory(Uint8Array.from([1, 2, 3]), 4), RangeError);
  });

  it('never produces a module V8 refuses, and every maximum it writes is within the cap (property)', async () => {
    const memoryArb = fc
      .record({ is64: fc.boolean(), shared: fc.boolean(), min: fc.nat(), max: fc.option(fc.nat()) })
      .map(({ is64, shared, min, max }) => {
        const limit = is64 ? 262_144 : 65_536; // V8's limits, so that the input itself is valid
        const lo = min % (limit + 1);
        const hi = max === null && !shared ? undefined : lo + ((max ?? 0) % (limit - lo + 1));
        return { is64, shared, min: lo, max: hi };
      });
    await fc.assert(
      fc.asyncProperty(
        fc.array(memoryArb, { minLength: 1, maxLength: 3 }),
        fc.oneof(fc.integer({ min: 1, max: 1024 }), fc.integer({ min: 1, max: 2 ** 21 })),
        async (memories, limit) => {
          const text = memories
            .map(
              (m) =>
                `(memory ${m.is64 ? 'i64 ' : ''}${m.min}${m.max === undefined ? '' : ` ${m.max}`}${m.shared ? ' shared' : ''})`,
            )
            .join(' ');
          const module = await parse(`(module ${text})`);
          fc.pre(WebAssembly.validate(module as Uint8Array<ArrayBuffer>));
          if (memories.some(({ min }) => min > limit)) {
            assert.throws(() => capModuleMemory(module, limit), MemoryFloorError);
            return;
          }
          const capped = capModuleMemory(module, limit);
          assert.ok(WebAssembly.validate(capped as Uint8Array<ArrayBuffer>), `V8 accepts ${text} capped at ${limit}`);
          declaredMemories(capped).forEach(({ flags, min, max }, i) => {
            const before = memories[i]!;
            assert.equal(flags & ~0x01, (before.shared ? 0x02 : 0) | (before.is64 ? 0x04 : 0), 'same kind of memory');
            assert.equal(min, BigInt(before.min));
            assert.ok(max !== undefined && max <= BigInt(limit), 'the cap holds');
            if (before.max !== undefined) assert.ok(max <= BigInt(before.max), 'a lower maximum is kept');
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('pagesForMb', () => {
  it('converts MiB to whole 64 KiB pages, rounding down', () => {
    assert.equal(WASM_PAGE_BYTES, 65_536);
    assert.equal(pagesForMb(1), 16);
    assert.equal(pagesForMb(128), 2048);
    assert.equal(pagesForMb(4096), 65_536);
    assert.equal(pagesForMb(0.5), 8);
    assert.equal(pagesForMb(1.03), 16);
  });
});

/** Internal state of every kind, some of it imported (imports come first in each index space). */
const STATEFUL = `(module
  (import "env" "flag" (global $flag (mut i32)))
  (import "env" "shared" (memory $outer 1))
  (import "env" "funcs" (table $outerTable 1 funcref))
  (global $fixed i32 (i32.const 7))
  (global $sp (mut i32) (i32.const 1024))
  (global $wide (mut i64) (i64.const -1))
  (global $ref (mut externref) (ref.null extern))
  (memory $heap 1)
  (memory $scratch 1)
  (table $fns 2 funcref)
  (func $seven (result i32) (global.get $fixed))
  (elem (table $fns) (i32.const 1) func $seven)
  (data (memory $heap) (i32.const 8) "state")
  (func (export "push") (param i32) (result i32)
    (global.set $sp (i32.sub (global.get $sp) (local.get 0)))
    (i32.store $heap (global.get $sp) (local.get 0))
    (global.get $sp))
  (func (export "sp") (result i32) (global.get $sp))
  (func (export "callSlot") (param i32) (result i32) (call_indirect $fns (result i32) (local.get 0))))`;

const stateImports = () => ({
  env: {
    flag: new WebAssembly.Global({ value: 'i32', mutable: true }, 0),
    shared: new WebAssembly.Memory({ initial: 1 }),
    funcs: new WebAssembly.Table({ element: 'anyfunc', initial: 1 }),
  },
});

describe('exposeResetState', () => {
  it('exports every defined memory, mutable global and table under the reserved names, numbered after the imports', async () => {
    const { module, exports } = exposeResetState(await parse(STATEFUL));
    assert.deepEqual(exports, {
      memories: ['alga-reset:memory:1', 'alga-reset:memory:2'],
      globals: ['alga-reset:global:2', 'alga-reset:global:3', 'alga-reset:global:4'],
      tables: ['alga-reset:table:1'],
    });
    assert.equal(RESET_EXPORT_PREFIX, 'alga-reset:');
    const described = WebAssembly.Module.exports(compile(module));
    assert.deepEqual(
      described.filter(({ name }) => name.startsWith(RESET_EXPORT_PREFIX)),
      [
        ...exports.memories.map((name) => ({ name, kind: 'memory' })),
        ...exports.globals.map((name) => ({ name, kind: 'global' })),
        ...exports.tables.map((name) => ({ name, kind: 'table' })),
      ],
    );
  });

  it("hands out the guest's own state: what JS reads and writes through the exports is what the guest sees", async () => {
    const { module } = exposeResetState(await parse(STATEFUL));
    const exports = instantiate(module, stateImports());
    const sp = exports['alga-reset:global:2'] as WebAssembly.Global;
    const heap = exports['alga-reset:memory:1'] as WebAssembly.Memory;
    const table = exports['alga-reset:table:1'] as WebAssembly.Table;
    assert.equal(sp.value, 1024);
    assert.equal((exports.push as (n: number) => number)(16), 1008);
    assert.equal(sp.value, 1008, 'the guest’s writes show through the export');
    sp.value = 512;
    assert.equal((exports.sp as () => number)(), 512, 'and JS writes reach the guest');
    assert.equal(new DataView(heap.buffer).getInt32(1008, true), 16);
    assert.equal(Buffer.from(heap.buffer, 8, 5).toString(), 'state');
    assert.equal((exports['alga-reset:global:3'] as WebAssembly.Global).value, -1n);
    assert.equal((table.get(1) as () => number)(), 7);
    table.set(0, table.get(1));
    assert.equal((exports.callSlot as (i: number) => number)(0), 7);
  });

  it('leaves the original exports and behaviour as they were', async () => {
    const original = await parse(STATEFUL);
    const { module } = exposeResetState(original);
    const before = WebAssembly.Module.exports(compile(original));
    const after = WebAssembly.Module.exports(compile(module));
    assert.deepEqual(after.slice(0, before.length), before);
    const run = (exports: Record<string, unknown>) => [
      (exports.push as (n: number) => number)(4),
      (exports.push as (n: number) => number)(100),
      (exports.sp as () => number)(),
      (exports.callSlot as (i: number) => number)(1),
    ];
    assert.deepEqual(run(instantiate(module, stateImports())), run(instantiate(original, stateImports())));
  });

  it('adds an export section where none was, before the sections that must follow it', async () => {
    const module = await parse(`(module
      (memory 1)
      (global $g (mut i32) (i32.const 5))
      (table 1 funcref)
      (func $start (global.set $g (i32.const 6)))
      (start $start)
      (elem (i32.const 0) func $start)
      (func (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1)))
      (data "d"))`);
    const { module: rewritten, exports } = exposeResetState(module);
    const exported = instantiate(rewritten);
    assert.equal((exported[exports.globals[0]!] as WebAssembly.Global).value, 6, 'the start function ran');
    const ids = [...sections(rewritten)].map(({ id }) => id).filter((id) => id !== SECTION.custom);
    assert.deepEqual(ids, [1, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11]);
  });

  it('counts a table with an explicit initializer', async () => {
    const module = await parse('(module (func $f) (table 2 funcref (ref.func $f)) (elem declare func $f))');
    const { module: rewritten, exports } = exposeResetState(module);
    assert.deepEqual(exports.tables, ['alga-reset:table:0']);
    assert.ok((instantiate(rewritten)['alga-reset:table:0'] as WebAssembly.Table).get(1) instanceof Function);
  });

  it('returns the module itself when it defines nothing to expose', async () => {
    const module = await parse('(module (import "env" "m" (memory 1)) (global i32 (i32.const 1)) (func))');
    assert.deepEqual(exposeResetState(module), { module, exports: { memories: [], globals: [], tables: [] } });
  });

  it('refuses a module that already uses the reserved names, a mutable v128 global, and bytes it cannot decode', async () => {
    const taken = await parse('(module (memory 1) (func (export "alga-reset:mine")))');
    assert.throws(() => exposeResetState(taken), RangeError);
    const vector = await parse('(module (global (mut v128) (v128.const i64x2 0 0)))');
    assert.throws(() => exposeResetState(vector), RangeError);
    assert.throws(() => exposeResetState(Buffer.from('not a module')), RangeError);
  });

  it('exposes exactly the defined mutable state of any module, which V8 accepts and which keeps its values (property)', async () => {
    const types = ['i32', 'i64', 'f32', 'f64', 'externref'] as const;
    const initial = { i32: '(i32.const 3)', i64: '(i64.const 3)', f32: '(f32.const 3)', f64: '(f64.const 3)' };
    const globalArb = fc.record({ type: fc.constantFrom(...types), mutable: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          importedGlobals: fc.array(globalArb, { maxLength: 3 }),
          globals: fc.array(globalArb, { maxLength: 4 }),
          importedMemory: fc.boolean(),
          memories: fc.integer({ min: 0, max: 2 }),
          importedTable: fc.boolean(),
          tables: fc.integer({ min: 0, max: 2 }),
          exportSomething: fc.boolean(),
        }),
        async (shape) => {
          const type = (g: { type: string; mutable: boolean }) => (g.mutable ? `(mut ${g.type})` : g.type);
          const parts = [
            ...shape.importedGlobals.map((g, i) => `(import "env" "g${i}" (global ${type(g)}))`),
            shape.importedMemory ? '(import "env" "m" (memory 1))' : '',
            shape.importedTable ? '(import "env" "t" (table 1 funcref))' : '',
            ...shape.globals.map(
              (g) => `(global ${type(g)} ${g.type === 'externref' ? '(ref.null extern)' : initial[g.type]})`,
            ),
            ...Array.from({ length: shape.memories }, () => '(memory 1)'),
            ...Array.from({ length: shape.tables }, () => '(table 1 funcref)'),
            shape.exportSomething ? '(func (export "f"))' : '',
          ];
          const { module, exports } = exposeResetState(await parse(`(module ${parts.join(' ')})`));
          const base = {
            globals: shape.importedGlobals.length,
            memories: +shape.importedMemory,
            tables: +shape.importedTable,
          };
          assert.deepEqual(exports, {
            memories: Array.from({ length: shape.memories }, (_, i) => `alga-reset:memory:${base.memories + i}`),
            globals: shape.globals.flatMap((g, i) => (g.mutable ? [`alga-reset:global:${base.globals + i}`] : [])),
            tables: Array.from({ length: shape.tables }, (_, i) => `alga-reset:table:${base.tables + i}`),
          });
          const env: Record<string, unknown> = {};
          shape.importedGlobals.forEach((g, i) => {
            const value = g.type === 'externref' ? null : g.type === 'i64' ? 0n : 0;
            env[`g${i}`] = new WebAssembly.Global({ value: g.type, mutable: g.mutable }, value);
          });
          if (shape.importedMemory) env.m = new WebAssembly.Memory({ initial: 1 });
          if (shape.importedTable) env.t = new WebAssembly.Table({ element: 'anyfunc', initial: 1 });
          const instance = instantiate(module, { env: env as WebAssembly.ModuleImports });
          for (const name of exports.globals) {
            const { value } = instance[name] as WebAssembly.Global;
            assert.ok(value === 3 || value === 3n || value === null, `${name} holds its initial value`);
          }
          for (const name of exports.memories) assert.ok(instance[name] instanceof WebAssembly.Memory);
          for (const name of exports.tables) assert.ok(instance[name] instanceof WebAssembly.Table);
        },
      ),
      { numRuns: 100 },
    );
  });
});
