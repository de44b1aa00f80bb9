/**
 * Reset-in-place over write-tracked modules: a `ResetSnapshot` of an
 * instance whose module marks its writes (`trackWrites`) takes the fast
 * restore, and after every request it leaves memory byte-identical to the
 * snapshot, whichever way the guest or the host wrote it. The marks
 * themselves are proved in `@alga-psa/wasm-rewrite`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '@bytecodealliance/jco';
import { DIRTY_BLOCK_BYTES, DIRTY_EXPORT, exposeResetState, trackWrites } from '@alga-psa/wasm-rewrite';
import { InstanceRecorder, ResetSnapshot } from './reset.ts';

const BLOCK = DIRTY_BLOCK_BYTES;

async function tracked(text: string) {
  const result = trackWrites(exposeResetState(await parse(text)).module);
  return { ...result, compiled: new WebAssembly.Module(result.module as Uint8Array<ArrayBuffer>) };
}

function instantiate(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
  const recorder = new InstanceRecorder();
  const instance = recorder.instantiateCore(module, imports);
  const exports = instance.exports as Record<string, unknown>;
  const memory = exports.memory as WebAssembly.Memory;
  return { recorder, exports, memory };
}

/** A guest that writes memory every way the instruction set allows, and lets its host write it too. */
const WRITER = `(module
  (import "env" "hostWrite" (func $hostWrite (param i32 i32)))
  (memory (export "memory") 4)
  (data (i32.const 100) "initial")
  (data $passive "passive-segment")
  (global $bump (mut i32) (i32.const 60000))
  (func (export "storeI32") (param i32 i32) (i32.store offset=4 (local.get 0) (local.get 1)))
  (func (export "storeI64") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32) (memory.init $passive (local.get 0) (i32.const 0) (i32.const 15)))
  (func (export "callHost") (param i32 i32) (call $hostWrite (local.get 0) (local.get 1)))
  (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get 3)))
    (local.get $at))
  (func (export "internalRealloc") (result i32)
    (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))))`;

describe('reset-in-place over write-tracked modules', () => {
  it('restores marked blocks, and the first bytes of the block after each, to exactly the snapshot', async () => {
    const { compiled } = await tracked(WRITER);
    const { recorder, exports, memory } = instantiate(compiled, {
      env: { hostWrite: (pointer: number, length: number) => new Uint8Array(memory.buffer, pointer, length).fill(9) },
    });
    const snapshot = ResetSnapshot.capture(recorder, () => true);
    assert.equal(snapshot.tracked, true);
    const pristine = Buffer.from(new Uint8Array(memory.buffer)); // a copy, not a view
    const call = (name: string, ...args: unknown[]) => (exports[name] as (...a: unknown[]) => unknown)(...args);
    for (let round = 0; round < 3; round++) {
      call('storeI64', 4 * BLOCK - 3, -1n); // straddles into block 4, which only the neighbour check catches
      call('storeI32', 90, 0x41414141); // over the data segment
      call('fill', BLOCK, round + 1, 2 * BLOCK);
      call('copy', 30 * BLOCK, 100, 7);
      call('init', 31 * BLOCK + 10);
      call('callHost', 50 * BLOCK, 300);
      const block = (exports.cabi_realloc as (...a: number[]) => number)(0, 0, 1, 64);
      new Uint8Array(memory.buffer, block, 64).fill(7);
      call('internalRealloc');
      assert.notDeepEqual(Buffer.from(memory.buffer), pristine);
      const result = snapshot.restore();
      assert.equal(result.discard, undefined);
      assert.ok(result.dirtyBlocks >= 8, `round ${round}: ${result.dirtyBlocks} blocks put back`);
      assert.ok(Buffer.from(memory.buffer).equals(pristine), `round ${round}: memory is the snapshot again`);
    }
    assert.deepEqual(snapshot.restore(), { dirtyBlocks: 0 }, 'nothing marked, nothing copied');
  });

  it("reports the guest's memory, not its write map, as the memory to check against the cap", async () => {
    const { compiled } = await tracked(WRITER);
    const { recorder, exports, memory } = instantiate(compiled, { env: { hostWrite: () => {} } });
    assert.ok(exports[DIRTY_EXPORT] instanceof WebAssembly.Memory);
    assert.deepEqual(recorder.memories(), [memory]);
  });
});
