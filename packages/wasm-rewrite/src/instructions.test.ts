/**
 * The instruction decoder steps over every instruction of the proposals it
 * claims, immediates included, so that each function body decodes to
 * exactly its `end`; it reports the memory, offset and index fields a
 * rewriter acts on; and it throws on any opcode it does not know rather
 * than lose its place.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '@bytecodealliance/jco';
import { Reader, SECTION, sections, skipValType } from './binary.ts';
import {
  nextInstruction,
  OP,
  prefixed,
  PREFIX_ATOMIC,
  PREFIX_MISC,
  PREFIX_SIMD,
  STORE_VALUE_TYPE,
  TABLE_WRITES,
  type Instruction,
} from './instructions.ts';

/** Written flat (not folded) so that each function's instruction order is the order below. */
const MODULE = `(module
  (type $pair (func (param i32) (result i32 i32)))
  (type $unary (func (param i32) (result i32)))
  (import "env" "host" (func $host (param i32) (result i32)))
  (memory $m0 1)
  (memory $m1 1 1 shared)
  (table $t 1 funcref)
  (global $g (mut i32) (i32.const 0))
  (tag $boom (param i32))
  (data $d "abc")
  (elem $e func $control)

  (func $control (param i32) (result i32)
    block $done (result i32)
      loop $again
        local.get 0
        br_if $again
        local.get 0
        if
          nop
        else
          unreachable
        end
        block $a
          block $b
            local.get 0
            br_table $a $b $a
          end
        end
        i32.const 7
        block (type $pair)
          local.get 0
        end
        drop
        drop
        i32.const -1000000
        br $done
      end
      i32.const 0
    end)

  (func $memory (param i32 i64)
    local.get 0
    i32.load offset=16
    drop
    local.get 0
    local.get 1
    i64.store32 offset=4 align=2
    local.get 0
    i32.const 5
    i32.store8 $m1 offset=300
    memory.size $m1
    drop
    i32.const 1
    memory.grow
    drop
    local.get 0
    i32.const 0
    i32.const 3
    memory.init $m1 $d
    data.drop $d
    local.get 0
    i32.const 0
    i32.const 8
    memory.copy $m1 $m0
    local.get 0
    i32.const 0
    i32.const 8
    memory.fill $m1
    f32.const 1.5
    i32.trunc_sat_f32_s
    drop
    f64.const -2.5
    drop
    i64.const -9223372036854775808
    drop)

  (func $tables (param i32) (result i32)
    local.get 0
    call $host
    drop
    local.get 0
    i32.const 0
    call_indirect $t (type $unary)
    drop
    i32.const 0
    ref.func $control
    table.set $t
    ref.null func
    i32.const 1
    table.grow $t
    drop
    i32.const 0
    ref.null func
    i32.const 0
    table.fill $t
    i32.const 0
    i32.const 0
    i32.const 0
    table.init $t $e
    elem.drop $e
    i32.const 0
    i32.const 0
    i32.const 0
    table.copy $t $t
    table.size $t
    global.set $g
    i32.const 1
    i32.const 2
    local.get 0
    select
    drop
    ref.null func
    ref.null func
    local.get 0
    select (result funcref)
    ref.is_null
    drop
    local.get 0
    return_call $tables)

  (func $simd (param i32)
    local.get 0
    v128.load offset=32
    drop
    local.get 0
    v128.const i32x4 1 2 3 4
    v128.store offset=48
    v128.const i64x2 0 0
    v128.const i64x2 0 0
    i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
    i8x16.extract_lane_s 3
    drop
    local.get 0
    v128.const i32x4 0 0 0 0
    v128.load8_lane 1
    drop
    local.get 0
    v128.const i32x4 0 0 0 0
    v128.store64_lane offset=8 1
    local.get 0
    v128.load32_zero
    v128.const i32x4 2 2 2 2
    i32x4.add
    v128.const i32x4 1 1 1 1
    i8x16.relaxed_swizzle
    drop)

  (func $atomics (param i32)
    local.get 0
    i32.const 1
    i32.atomic.store $m1 offset=8
    local.get 0
    i32.const 1
    i32.atomic.rmw.add $m1
    drop
    atomic.fence
    local.get 0
    i32.const 1
    memory.atomic.notify $m1
    drop)

  (func $exceptions (param i32) (result i32)
    block $all
      block $caught (result i32)
        try_table (catch $boom $caught) (catch_all $all)
          local.get 0
          throw $boom
        end
        i32.const 0
      end
      return
    end
    block $r (result exnref)
      try_table (catch_all_ref $r)
      end
      i32.const -1
      return
    end
    throw_ref)

  (func $references (param (ref null $unary)) (result i32)
    i32.const 1
    local.get 0
    call_ref $unary
    drop
    block $null
      local.get 0
      br_on_null $null
      drop
    end
    i32.const 2
    local.get 0
    ref.as_non_null
    return_call_ref $unary))`;

const misc = (sub: number) => prefixed(PREFIX_MISC, sub);
const simd = (sub: number) => prefixed(PREFIX_SIMD, sub);
const atomic = (sub: number) => prefixed(PREFIX_ATOMIC, sub);

/** Decodes every function body of `module`; each must end exactly at its `end`. */
function decodeAll(module: Uint8Array): Instruction[][] {
  const code = [...sections(module)].find(({ id }) => id === SECTION.code)!;
  const reader = new Reader(module.subarray(0, code.bodyEnd), code.bodyStart);
  const functions: Instruction[][] = [];
  for (let count = reader.u32(); count > 0; count--) {
    const size = reader.u32();
    const end = reader.offset + size;
    for (let groups = reader.u32(); groups > 0; groups--) {
      reader.u32();
      skipValType(reader);
    }
    const decoded: Instruction[] = [];
    while (reader.offset < end) {
      const ins: Instruction = { op: -1, start: 0, memory: 0, offset: 0, index: -1 };
      nextInstruction(reader, ins);
      decoded.push(ins);
    }
    assert.equal(reader.offset, end, `function ${functions.length} decodes to exactly its end`);
    assert.equal(decoded.at(-1)!.op, OP.end);
    assert.equal(module[decoded.at(-1)!.start], 0x0b, 'start points at the opcode');
    functions.push(decoded);
  }
  assert.equal(reader.offset, code.bodyEnd);
  return functions;
}

async function decoded() {
  const module = await parse(MODULE);
  assert.ok(WebAssembly.validate(module as Uint8Array<ArrayBuffer>), 'V8 accepts the test module');
  const [control, memory, tables, simdFn, atomics, exceptions, references] = decodeAll(module);
  return { control: control!, memory: memory!, tables: tables!, simdFn: simdFn!, atomics, exceptions, references };
}

const ops = (instructions: Instruction[]) => instructions.map(({ op }) => op);
const find = (instructions: Instruction[], op: number) => instructions.find((ins) => ins.op === op)!;

describe('instruction decoder', () => {
  it('decodes control flow, block types of every form and br_table with its labels', async () => {
    const { control } = await decoded();
    // prettier-ignore
    assert.deepEqual(ops(control), [
      0x02, 0x03, 0x20, 0x0d, 0x20, 0x04, 0x01, 0x05, 0x00, 0x0b, // block loop local.get br_if local.get if nop else unreachable end
      0x02, 0x02, 0x20, 0x0e, 0x0b, 0x0b, // block block local.get br_table end end
      0x41, 0x02, 0x20, 0x0b, 0x1a, 0x1a, // i32.const block (type $pair) local.get end drop drop
      0x41, 0x0c, 0x0b, 0x41, 0x0b, 0x0b, // i32.const br end i32.const end end
    ]);
    assert.equal(OP.loop, 0x03);
  });

  it('reports the memory index and static offset of every access, multi-memory and multi-byte offsets included', async () => {
    const { memory } = await decoded();
    const access = (op: number) => {
      const { memory: index, offset } = find(memory, op);
      return { index, offset };
    };
    assert.deepEqual(access(0x28), { index: 0, offset: 16 }); // i32.load offset=16
    assert.deepEqual(access(0x3e), { index: 0, offset: 4 }); // i64.store32 offset=4 align=2
    assert.deepEqual(access(0x3a), { index: 1, offset: 300 }); // i32.store8 $m1 offset=300
    assert.equal(find(memory, 0x3f).memory, 1, 'memory.size $m1');
    assert.equal(find(memory, 0x40).memory, 0, 'memory.grow');
    assert.equal(STORE_VALUE_TYPE[0x3e], 0x7e, 'i64.store32 takes an i64');
    assert.equal(STORE_VALUE_TYPE[0x3a], 0x7f, 'i32.store8 takes an i32');
  });

  it('decodes the 0xFC prefix: bulk memory names its destination memory, then saturating truncation', async () => {
    const { memory } = await decoded();
    assert.equal(find(memory, OP.memoryInit).index, 1, 'memory.init $m1');
    assert.ok(ops(memory).includes(misc(9)), 'data.drop');
    const copy = find(memory, OP.memoryCopy);
    assert.deepEqual([copy.index, copy.memory], [1, 0], 'memory.copy: destination $m1, source $m0');
    assert.equal(find(memory, OP.memoryFill).index, 1, 'memory.fill $m1');
    assert.ok(ops(memory).includes(misc(0)), 'i32.trunc_sat_f32_s');
    // prettier-ignore
    assert.deepEqual(ops(memory), [
      0x20, 0x28, 0x1a, 0x20, 0x20, 0x3e, 0x20, 0x41, 0x3a, 0x3f, 0x1a, 0x41, 0x40, 0x1a,
      0x20, 0x41, 0x41, misc(8), misc(9), 0x20, 0x41, 0x41, misc(10), 0x20, 0x41, 0x41, misc(11),
      0x43, misc(0), 0x1a, 0x44, 0x1a, 0x42, 0x1a, 0x0b, // f32, f64 and i64 constants: 4, 8 and 10 immediate bytes
    ]);
  });

  it('decodes calls, call_indirect, ref.func, select with and without types, and every table write', async () => {
    const { tables } = await decoded();
    assert.equal(find(tables, OP.call).index, 0, 'call $host (the import)');
    assert.equal(find(tables, OP.refFunc).index, 1, 'ref.func $control');
    assert.equal(find(tables, OP.returnCall).index, 3, 'return_call $tables');
    assert.ok(ops(tables).includes(0x11), 'call_indirect');
    assert.ok(ops(tables).includes(0x1b) && ops(tables).includes(0x1c), 'select, and select with types');
    const writes = ops(tables).filter((op) => TABLE_WRITES.has(op));
    assert.deepEqual(writes, [OP.tableSet, OP.tableGrow, OP.tableFill, OP.tableInit, OP.tableCopy]);
    assert.ok(ops(tables).includes(misc(13)) && ops(tables).includes(misc(16)), 'elem.drop and table.size');
  });

  it('decodes the 0xFD prefix: vector loads and stores with memargs, lane immediates, shuffles and relaxed SIMD', async () => {
    const { simdFn } = await decoded();
    // prettier-ignore
    assert.deepEqual(ops(simdFn), [
      0x20, simd(0), 0x1a, // v128.load
      0x20, simd(12), simd(11), // v128.const v128.store
      simd(12), simd(12), simd(13), simd(21), 0x1a, // i8x16.shuffle i8x16.extract_lane_s
      0x20, simd(12), simd(84), 0x1a, // v128.load8_lane
      0x20, simd(12), simd(91), // v128.store64_lane
      0x20, simd(92), simd(12), simd(174), simd(12), simd(0x100), 0x1a, // v128.load32_zero i32x4.add relaxed_swizzle
      0x0b,
    ]);
    assert.equal(find(simdFn, simd(0)).offset, 32);
    assert.equal(find(simdFn, OP.v128Store).offset, 48);
    assert.equal(find(simdFn, OP.v128StoreLaneLast).offset, 8);
  });

  it('decodes the 0xFE prefix (atomics, with their memargs) and atomic.fence', async () => {
    const { atomics } = await decoded();
    assert.deepEqual(ops(atomics!), [
      0x20,
      0x41,
      atomic(0x17),
      0x20,
      0x41,
      atomic(0x1e),
      0x1a,
      atomic(0x03),
      0x20,
      0x41,
      atomic(0x00),
      0x1a,
      0x0b,
    ]);
    const store = find(atomics!, atomic(0x17));
    assert.deepEqual([store.memory, store.offset], [1, 8]);
    assert.ok(store.op >= OP.atomicWriteFirst && store.op <= OP.atomicWriteLast);
  });

  it('decodes exception handling (try_table with every catch kind, throw, throw_ref) and typed function references', async () => {
    const { exceptions, references } = await decoded();
    assert.deepEqual(
      ops(exceptions!),
      [0x02, 0x02, 0x1f, 0x20, 0x08, 0x0b, 0x41, 0x0b, 0x0f, 0x0b, 0x02, 0x1f, 0x0b, 0x41, 0x0f, 0x0b, 0x0a, 0x0b],
    );
    assert.deepEqual(ops(references!), [
      0x41,
      0x20,
      OP.callRef,
      0x1a,
      0x02,
      0x20,
      0xd5,
      0x1a,
      0x0b,
      0x41,
      0x20,
      0xd4,
      OP.returnCallRef,
      0x0b,
    ]);
  });

  it('throws on opcodes it does not know instead of losing its place', () => {
    const unknown = {
      'an unassigned opcode': [0x27],
      'a GC instruction': [0xfb, 0x00, 0x00],
      'an unknown 0xFC instruction': [0xfc, 99],
      'an unknown 0xFD instruction': [0xfd, 0x80, 0x04],
      'an unknown 0xFE instruction': [0xfe, 0x4f, 0x02, 0x00],
      'an unknown try_table catch kind': [0x1f, 0x40, 0x01, 0x04, 0x00],
      'a truncated immediate': [0x41, 0x80],
    };
    for (const [label, bytes] of Object.entries(unknown)) {
      const ins: Instruction = { op: 0, start: 0, memory: 0, offset: 0, index: 0 };
      assert.throws(() => nextInstruction(new Reader(Uint8Array.from(bytes)), ins), RangeError, label);
    }
  });
});
