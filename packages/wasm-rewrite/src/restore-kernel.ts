/**
 * The restore kernel: a tiny wasm module that puts a tracked memory's marked
 * blocks back to an image of it, with 16-byte vector compares and stores
 * instead of JS calls per block. Why not JS: the kernel reads each marked
 * block once and writes only the vectors that differ, where copying whole
 * blocks back from JS writes every byte of them.
 *
 * Where the image lives: in the module's own write map (the second linear
 * memory `trackWrites` adds). The marks take its first `MAP_BYTES`; the
 * caller grows it and keeps the image of memory 0 after them, at
 * `imageBase + address`. The guest's code never addresses that memory except
 * through the inserted marks, which stay below `MAP_BYTES`, so no extra
 * memory (each costs V8 an address-space reservation) is needed.
 *
 * Hand-assembled: no wasm toolchain is a runtime dependency, and the module
 * is a few hundred bytes. Its text form:
 *
 * ```wat
 * (module
 *   (import "m" "live" (memory $live 0))   ;; the guest's memory 0
 *   (import "m" "map" (memory $map 0))     ;; marks, then the image at MAP_BYTES
 *   ;; Copies back the differing vectors of [$a, $end); 1 if any differed.
 *   (func $range (param $a i32) (param $end i32) (result i32)
 *     (local $v v128) (local $changed i32)
 *     (loop $next
 *       (local.set $v (v128.load $map offset=MAP_BYTES (local.get $a)))
 *       (if (v128.any_true (v128.xor (v128.load $live (local.get $a)) (local.get $v)))
 *         (then (v128.store $live (local.get $a) (local.get $v))
 *               (local.set $changed (i32.const 1))))
 *       (br_if $next (i32.lt_u (local.tee $a (i32.add (local.get $a) (i32.const 16)))
 *                              (local.get $end))))
 *     (local.get $changed))
 *   ;; Restores every marked block of the first $blocks and clears its mark,
 *   ;; plus the first vector of the block after each (a store straddling a
 *   ;; boundary spills at most 15 bytes into it). Returns blocks that differed.
 *   (func (export "restore") (param $blocks i32) (result i32)
 *     (local $w i32) (local $b i32) (local $stop i32) (local $restored i32) (local $a i32)
 *     (block $done
 *       (loop $word                                  ;; 8 marks at a time
 *         (br_if $done (i32.ge_u (local.get $w) (local.get $blocks)))
 *         (if (i64.ne (i64.load $map (local.get $w)) (i64.const 0))
 *           (then
 *             (local.set $b (local.get $w))
 *             (local.set $stop (i32.add (local.get $w) (i32.const 8)))
 *             (loop $one
 *               (if (i32.lt_u (local.get $b) (local.get $blocks))
 *                 (then (if (i32.load8_u $map (local.get $b))
 *                   (then
 *                     (i32.store8 $map (local.get $b) (i32.const 0))
 *                     (local.set $a (i32.shl (local.get $b) (i32.const SHIFT)))
 *                     (local.set $restored (i32.add (local.get $restored)
 *                       (call $range (local.get $a) (i32.add (local.get $a) (i32.const BLOCK)))))
 *                     (if (i32.lt_u (i32.add (local.get $b) (i32.const 1)) (local.get $blocks))
 *                       (then (if (i32.eqz (i32.load8_u $map (i32.add (local.get $b) (i32.const 1))))
 *                         (then (local.set $a (i32.add (local.get $a) (i32.const BLOCK)))
 *                               (local.set $restored (i32.add (local.get $restored)
 *                                 (call $range (local.get $a) (i32.add (local.get $a) (i32.const 16))))))))))))
 *               (br_if $one (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $stop))))))
 *         (local.set $w (i32.add (local.get $w) (i32.const 8)))
 *         (br $word)))
 *     (local.get $restored)))
 * ```
 */
import { Writer } from './binary.ts';

const I32 = 0x7f;
const V128 = 0x7b;
const VOID = 0x40;

/** Instructions used below (one byte each unless noted). */
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i64Load: 0x29,
  i32Load8U: 0x2d,
  i32Store8: 0x3a,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32GeU: 0x4f,
  i64Ne: 0x52,
  i32Add: 0x6a,
  i32Shl: 0x74,
  simd: 0xfd,
} as const;

/** SIMD sub-opcodes (after the 0xfd prefix). */
const SIMD = { v128Load: 0x00, v128Store: 0x0b, v128Xor: 0x51, v128AnyTrue: 0x53 } as const;

const LIVE = 0;
const MAP = 1;

/** A memory access's immediate with an explicit memory index (multi-memory): align | 0x40, memory, offset. */
function memarg(w: Writer, align: number, memory: number, offset = 0): Writer {
  return w
    .u32(align | 0x40)
    .u32(memory)
    .u32(offset);
}

const get = (w: Writer, local: number) => w.byte(OP.localGet).u32(local);
const set = (w: Writer, local: number) => w.byte(OP.localSet).u32(local);
const tee = (w: Writer, local: number) => w.byte(OP.localTee).u32(local);
const i32 = (w: Writer, value: number) => w.byte(OP.i32Const).s32(value);

/** A counted loop's back edge: `br_if 0 (i32.lt_u (local.tee $x (i32.add $x step)) $limit)`. */
function continueWhileBelow(w: Writer, local: number, step: number, limit: number): void {
  get(w, local);
  i32(w, step);
  w.byte(OP.i32Add);
  tee(w, local);
  get(w, limit);
  w.byte(OP.i32LtU).byte(OP.brIf).u32(0);
}

/** `$range(a, end)`: see the file comment. Locals: a 0, end 1, v 2, changed 3. */
function rangeBody(imageBase: number): Writer {
  const [a, end, v, changed] = [0, 1, 2, 3];
  const w = new Writer(128).u32(2).u32(1).byte(V128).u32(1).byte(I32);
  w.byte(OP.loop).byte(VOID);
  get(w, a);
  memarg(w.byte(OP.simd).u32(SIMD.v128Load), 4, MAP, imageBase);
  set(w, v);
  get(w, a);
  memarg(w.byte(OP.simd).u32(SIMD.v128Load), 4, LIVE);
  get(w, v);
  w.byte(OP.simd).u32(SIMD.v128Xor).byte(OP.simd).u32(SIMD.v128AnyTrue);
  w.byte(OP.if).byte(VOID);
  get(w, a);
  get(w, v);
  memarg(w.byte(OP.simd).u32(SIMD.v128Store), 4, LIVE);
  i32(w, 1);
  set(w, changed);
  w.byte(OP.end);
  continueWhileBelow(w, a, 16, end);
  w.byte(OP.end);
  get(w, changed);
  return w.byte(OP.end);
}

/** `restore(blocks)`: see the file comment. Locals: blocks 0, w 1, b 2, stop 3, restored 4, a 5. */
function restoreBody(blockShift: number, range: number): Writer {
  const [blocks, word, b, stop, restored, a] = [0, 1, 2, 3, 4, 5];
  const block = 1 << blockShift;
  const w = new Writer(256).u32(1).u32(5).byte(I32);
  const addRange = (length: number) => {
    // restored += $range(a, a + length)
    get(w, restored);
    get(w, a);
    get(w, a);
    i32(w, length);
    w.byte(OP.i32Add).byte(OP.call).u32(range).byte(OP.i32Add);
    set(w, restored);
  };
  w.byte(OP.block).byte(VOID).byte(OP.loop).byte(VOID);
  get(w, word);
  get(w, blocks);
  w.byte(OP.i32GeU).byte(OP.brIf).u32(1);
  get(w, word);
  memarg(w.byte(OP.i64Load), 0, MAP);
  w.byte(OP.i64Const).byte(0).byte(OP.i64Ne).byte(OP.if).byte(VOID);
  get(w, word);
  set(w, b);
  get(w, word);
  i32(w, 8);
  w.byte(OP.i32Add);
  set(w, stop);
  w.byte(OP.loop).byte(VOID);
  get(w, b);
  get(w, blocks);
  w.byte(OP.i32LtU).byte(OP.if).byte(VOID);
  get(w, b);
  memarg(w.byte(OP.i32Load8U), 0, MAP);
  w.byte(OP.if).byte(VOID);
  get(w, b);
  i32(w, 0);
  memarg(w.byte(OP.i32Store8), 0, MAP);
  get(w, b);
  i32(w, blockShift);
  w.byte(OP.i32Shl);
  set(w, a);
  addRange(block);
  // The block after: only its first vector, and only when it is not marked itself.
  get(w, b);
  i32(w, 1);
  w.byte(OP.i32Add);
  get(w, blocks);
  w.byte(OP.i32LtU).byte(OP.if).byte(VOID);
  get(w, b);
  i32(w, 1);
  w.byte(OP.i32Add);
  memarg(w.byte(OP.i32Load8U), 0, MAP);
  w.byte(OP.i32Eqz).byte(OP.if).byte(VOID);
  get(w, a);
  i32(w, block);
  w.byte(OP.i32Add);
  set(w, a);
  addRange(16);
  w.byte(OP.end).byte(OP.end).byte(OP.end).byte(OP.end);
  continueWhileBelow(w, b, 1, stop);
  w.byte(OP.end).byte(OP.end);
  get(w, word);
  i32(w, 8);
  w.byte(OP.i32Add);
  set(w, word);
  w.byte(OP.br).u32(0);
  w.byte(OP.end).byte(OP.end);
  get(w, restored);
  return w.byte(OP.end);
}

function assemble(blockShift: number, imageBase: number): Uint8Array {
  const type = new Writer().u32(2);
  type.byte(0x60).u32(2).byte(I32).byte(I32).u32(1).byte(I32); // 0: (i32, i32) -> i32
  type.byte(0x60).u32(1).byte(I32).u32(1).byte(I32); // 1: (i32) -> i32
  const imports = new Writer().u32(2);
  for (const name of ['live', 'map']) imports.name('m').name(name).byte(0x02).byte(0x00).u32(0);
  const functions = new Writer().u32(2).u32(0).u32(1);
  const exports = new Writer().u32(1).name('restore').byte(0x00).u32(1);
  const code = new Writer().u32(2);
  for (const body of [rangeBody(imageBase), restoreBody(blockShift, 0)]) code.u32(body.length).bytes(body.view());
  return new Writer(512)
    .bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
    .section(1, type)
    .section(2, imports)
    .section(3, functions)
    .section(7, exports)
    .section(10, code)
    .view()
    .slice();
}

const modules = new Map<string, WebAssembly.Module>();

/**
 * Binds a kernel to one tracked memory and its map. `restore(blocks)`
 * restores the marked blocks among the memory's first `blocks` and returns
 * how many differed from the image.
 */
export function restoreKernel(
  live: WebAssembly.Memory,
  map: WebAssembly.Memory,
  layout: { blockShift: number; imageBase: number },
): (blocks: number) => number {
  const key = `${layout.blockShift}:${layout.imageBase}`;
  let module = modules.get(key);
  if (!module) {
    module = new WebAssembly.Module(assemble(layout.blockShift, layout.imageBase) as Uint8Array<ArrayBuffer>);
    modules.set(key, module);
  }
  const instance = new WebAssembly.Instance(module, { m: { live, map } });
  return instance.exports.restore as (blocks: number) => number;
}
