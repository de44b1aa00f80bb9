/**
 * Write tracking: every way a guest or its host can write linear memory
 * after instantiation marks the 1 KiB blocks it wrote, the rewritten module
 * computes exactly what the original does, and restoring only the marked
 * blocks (with the restore kernel) puts memory back byte for byte. Modules
 * the rewriter cannot handle soundly are refused, never half-tracked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '@bytecodealliance/jco';
import { WASM_PAGE_BYTES } from './binary.ts';
import { restoreKernel } from './restore-kernel.ts';
import { trackedModule as tracked, writeEveryWay, WRITER } from './testing.ts';
import {
  DIRTY_BLOCK_BYTES,
  DIRTY_BLOCK_SHIFT,
  DIRTY_EXPORT,
  DIRTY_IMPORT,
  MAP_BYTES,
  trackWrites,
} from './write-tracking.ts';

const BLOCK = DIRTY_BLOCK_BYTES;

function instantiate(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
  const instance = new WebAssembly.Instance(module, imports);
  const exports = instance.exports as Record<string, unknown>;
  const memory = exports.memory as WebAssembly.Memory;
  const marks = () => {
    const map = new Uint8Array((exports[DIRTY_EXPORT] as WebAssembly.Memory).buffer);
    const blocks: number[] = [];
    for (let block = 0; block < memory.buffer.byteLength / BLOCK + 2; block++) if (map[block]) blocks.push(block);
    return blocks;
  };
  const call = (name: string, ...args: unknown[]) => (exports[name] as (...a: unknown[]) => unknown)(...args);
  return { exports, memory, marks, call };
}

/** Imports whose `hostWrite` writes `length` bytes of 9 at `pointer` into the guest's memory, as jco's glue writes results. */
function hostWriting(memory: () => WebAssembly.Memory) {
  return {
    env: { hostWrite: (pointer: number, length: number) => new Uint8Array(memory().buffer, pointer, length).fill(9) },
  };
}

describe('write tracking (load-time rewrite)', () => {
  it("marks the block of every store's effective address, offset included", async () => {
    const { compiled, tracked: isTracked } = await tracked(WRITER);
    assert.equal(isTracked, true);
    const { call, marks } = instantiate(compiled, { env: { hostWrite: () => {} } });
    call('storeI32', 3 * BLOCK - 4, 7); // offset 4 moves it onto the next block
    call('storeI64', 5 * BLOCK + 10, 1n);
    call('storeF64', 7 * BLOCK - 8, 1.5);
    call('store8', 9 * BLOCK, 1);
    call('storeV128', 11 * BLOCK + 1);
    assert.deepEqual(marks(), [3, 5, 7, 9, 11]);
  });

  it('marks the whole destination of memory.fill, memory.copy and memory.init, and nothing for an empty range', async () => {
    const { compiled } = await tracked(WRITER);
    const { call, marks } = instantiate(compiled, { env: { hostWrite: () => {} } });
    call('fill', 2 * BLOCK + 100, 0xaa, 3 * BLOCK); // blocks 2..5
    call('copy', 20 * BLOCK - 1, 100, 2); // straddles 19 and 20
    call('init', 25 * BLOCK);
    call('fill', 30 * BLOCK, 1, 0);
    assert.deepEqual(marks(), [2, 3, 4, 5, 19, 20, 25]);
  });

  it('marks what the host may write: blocks from cabi_realloc and the blocks an import gets pointers to', async () => {
    const { compiled } = await tracked(WRITER);
    const { exports, marks, memory } = instantiate(compiled, {
      env: {
        hostWrite: (pointer: number, length: number) => new Uint8Array(memory.buffer, pointer, length).fill(9),
      },
    });
    const block = (exports.cabi_realloc as (...a: number[]) => number)(0, 0, 1, 3 * BLOCK);
    assert.equal(block, 60000, 'the wrapper returns what realloc returned');
    new Uint8Array(memory.buffer, block, 3 * BLOCK).fill(1);
    (exports.callHost as (p: number, l: number) => void)(40 * BLOCK + 1000, 50);
    const blockOf = (byte: number) => Math.floor(byte / BLOCK);
    assert.deepEqual(marks(), [
      0, // the length argument, 50, read as a pointer (harmless over-approximation)
      1,
      40,
      41,
      blockOf(60000),
      blockOf(60000) + 1,
      blockOf(60000) + 2,
      blockOf(60000 + 3 * BLOCK - 1),
    ]);
  });

  it('computes exactly what the original module computes', async () => {
    const original = instantiate(
      new WebAssembly.Module((await parse(WRITER)) as Uint8Array<ArrayBuffer>),
      hostWriting(() => original.memory),
    );
    const { compiled } = await tracked(WRITER);
    const rewritten = instantiate(
      compiled,
      hostWriting(() => rewritten.memory),
    );
    const results = [original, rewritten].map(({ call }) => [
      call('storeI32', 3 * BLOCK - 4, 7),
      call('storeI64', 5 * BLOCK + 10, -2n),
      call('storeF64', 7 * BLOCK - 8, 1.5),
      call('store8', 9 * BLOCK, 0x1ff),
      call('storeV128', 11 * BLOCK + 1),
      call('fill', 2 * BLOCK + 100, 0xaa, 3 * BLOCK),
      call('copy', 20 * BLOCK - 1, 100, 20),
      call('init', 25 * BLOCK),
      call('callHost', 40 * BLOCK, 30),
      call('tailCallHost', 41 * BLOCK, 30),
      call('cabi_realloc', 0, 0, 1, 100),
      call('internalRealloc'),
    ]);
    assert.deepEqual(results[1], results[0], 'the same results');
    assert.ok(Buffer.from(rewritten.memory.buffer).equals(Buffer.from(original.memory.buffer)), 'the same memory');
    const map = rewritten.exports[DIRTY_EXPORT] as WebAssembly.Memory;
    assert.notEqual(map, rewritten.memory, 'the marks live in a memory of their own');
    assert.equal(map.buffer.byteLength, MAP_BYTES);
  });

  it('marks the blocks a tail call to an import points at, as for a call', async () => {
    const { compiled } = await tracked(WRITER);
    const { call, marks } = instantiate(compiled, { env: { hostWrite: () => {} } });
    call('tailCallHost', 40 * BLOCK + 1000, 5000);
    assert.deepEqual(marks(), [4, 5, 40, 41]); // 5000 is read as a pointer too
  });

  it('lets the restore kernel put marked blocks, and the first bytes of the block after each, back to exactly the image', async () => {
    const { compiled } = await tracked(WRITER);
    const { exports, memory, call } = instantiate(
      compiled,
      hostWriting(() => memory),
    );
    // The layout the kernel expects: the marks, then an image of memory 0 at MAP_BYTES in the map's memory.
    const map = exports[DIRTY_EXPORT] as WebAssembly.Memory;
    map.grow(memory.buffer.byteLength / WASM_PAGE_BYTES);
    new Uint8Array(map.buffer, MAP_BYTES).set(new Uint8Array(memory.buffer));
    new Uint8Array(map.buffer, 0, MAP_BYTES).fill(0); // instantiation may have marked blocks
    const restore = restoreKernel(memory, map, { blockShift: DIRTY_BLOCK_SHIFT, imageBase: MAP_BYTES });
    const blocks = memory.buffer.byteLength / BLOCK;
    const pristine = Buffer.from(new Uint8Array(memory.buffer)); // a copy, not a view
    for (let round = 0; round < 3; round++) {
      writeEveryWay(call, memory, round);
      assert.notDeepEqual(Buffer.from(memory.buffer), pristine);
      const restored = restore(blocks);
      assert.ok(restored >= 8, `round ${round}: ${restored} blocks put back`);
      assert.ok(Buffer.from(memory.buffer).equals(pristine), `round ${round}: memory is the image again`);
    }
    assert.equal(restore(blocks), 0, 'nothing marked, nothing copied');
  });

  it('leaves a module without memory unchanged and tells whether any code writes a table', async () => {
    const reader = await parse('(module (table 1 funcref) (func (export "n") (result i32) (table.size 0)))');
    assert.deepEqual(trackWrites(reader), { module: reader, tracked: false, importsMap: false, writesTables: false });
    const writer = await parse(`(module (table 1 funcref) (func $f)
      (func (export "w") (table.set 0 (i32.const 0) (ref.func $f))) (elem declare func $f))`);
    assert.equal(trackWrites(writer).writesTables, true);
    const { writesTables } = await tracked(WRITER);
    assert.equal(writesTables, false);
  });

  it("marks a module's writes into a memory it imports in the owner's map, which it imports too", async () => {
    const owner = instantiate((await tracked(WRITER)).compiled, { env: { hostWrite: () => {} } });
    // As a WASI adapter does: its own stores, bulk writes and a host call, all into the main module's memory.
    const borrower = trackWrites(
      await parse(`(module
        (import "env" "memory" (memory 1))
        (import "env" "hostWrite" (func $hostWrite (param i32 i32)))
        (func (export "store") (param i32) (i32.store (local.get 0) (i32.const 7)))
        (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 1) (local.get 1)))
        (func (export "callHost") (param i32) (call $hostWrite (local.get 0) (i32.const 4))))`),
    );
    assert.equal(borrower.tracked, true);
    assert.equal(borrower.importsMap, true);
    const module = new WebAssembly.Module(borrower.module as Uint8Array<ArrayBuffer>);
    assert.deepEqual(
      WebAssembly.Module.imports(module).map(({ module, name, kind }) => `${module}.${name}:${kind}`),
      ['env.memory:memory', 'env.hostWrite:function', `${DIRTY_IMPORT.module}.${DIRTY_IMPORT.name}:memory`],
    );
    const exports = new WebAssembly.Instance(module, {
      env: { memory: owner.memory, hostWrite: () => {} },
      [DIRTY_IMPORT.module]: { [DIRTY_IMPORT.name]: owner.exports[DIRTY_EXPORT] as WebAssembly.Memory },
    }).exports as Record<string, (...args: number[]) => void>;
    exports.store!(12 * BLOCK + 3);
    exports.fill!(20 * BLOCK, 2 * BLOCK);
    exports.callHost!(30 * BLOCK);
    // callHost's second argument, 4, is read as a pointer too (blocks 0 and 1).
    assert.deepEqual(owner.marks(), [0, 1, 12, 20, 21, 30, 31]);
    assert.equal(new DataView(owner.memory.buffer).getInt32(12 * BLOCK + 3, true), 7);
  });

  it('refuses what it cannot track soundly', async () => {
    const refusals = {
      'two memories': '(module (memory 1) (memory 1))',
      'an imported memory and one of its own': '(module (import "e" "m" (memory 1)) (memory 1))',
      'atomic writes': '(module (memory 1) (func (i32.atomic.store (i32.const 0) (i32.const 1))))',
      'an import whose reference escapes': `(module (import "e" "f" (func $f (param i32))) (memory 1)
        (table 1 funcref) (elem (i32.const 0) $f))`,
      'an import taken by ref.func': `(module (import "e" "f" (func $f (param i32))) (memory 1)
        (elem declare func $f) (func (drop (ref.func $f))))`,
    };
    for (const [label, text] of Object.entries(refusals)) {
      const bytes = await parse(text);
      assert.throws(() => trackWrites(bytes), RangeError, label);
    }
  });
});
