/** Fixtures for tests of write tracking, here and in the runner's reset-in-place tests. */
import { parse } from '@bytecodealliance/jco';
import { exposeResetState } from './memory-limit.ts';
import { DIRTY_BLOCK_BYTES as BLOCK, trackWrites } from './write-tracking.ts';

/** `text` (WAT) with the reset exports and write tracking, compiled. */
export async function trackedModule(text: string) {
  const result = trackWrites(exposeResetState(await parse(text)).module);
  return { ...result, compiled: new WebAssembly.Module(result.module as Uint8Array<ArrayBuffer>) };
}

/** A guest that writes memory every way the instruction set allows. */
export const WRITER = `(module
  (import "env" "hostWrite" (func $hostWrite (param i32 i32)))
  (memory (export "memory") 4)
  (data (i32.const 100) "initial")
  (data $passive "passive-segment")
  (global $bump (mut i32) (i32.const 60000))
  (func (export "storeI32") (param i32 i32) (i32.store offset=4 (local.get 0) (local.get 1)))
  (func (export "storeI64") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "storeF64") (param i32 f64) (f64.store offset=8 (local.get 0) (local.get 1)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "storeV128") (param i32) (v128.store (local.get 0) (v128.const i64x2 -1 -1)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32) (memory.init $passive (local.get 0) (i32.const 0) (i32.const 15)))
  (func (export "callHost") (param i32 i32) (call $hostWrite (local.get 0) (local.get 1)))
  (func (export "tailCallHost") (param i32 i32) (return_call $hostWrite (local.get 0) (local.get 1)))
  (func $realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $at i32)
    (local.set $at (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get 3)))
    (local.get $at))
  (func (export "internalRealloc") (result i32)
    (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8))))`;

/**
 * One request's worth of writes to a `WRITER` instance, every way it can write
 * (`round` varies the values): blocks 0-4, 30, 31 and 50 and one realloc'd block.
 */
export function writeEveryWay(
  call: (name: string, ...args: unknown[]) => unknown,
  memory: WebAssembly.Memory,
  round: number,
) {
  call('storeI64', 4 * BLOCK - 3, -1n); // straddles into block 4, which only the neighbour check catches
  call('storeI32', 90, 0x41414141); // over the data segment
  call('fill', BLOCK, round + 1, 2 * BLOCK);
  call('copy', 30 * BLOCK, 100, 7);
  call('init', 31 * BLOCK + 10);
  call('callHost', 50 * BLOCK, 300);
  const block = call('cabi_realloc', 0, 0, 1, 64) as number;
  new Uint8Array(memory.buffer, block, 64).fill(7);
  call('internalRealloc');
}
