/**
 * Fuel metering: a metered module runs as before until the host gives it a
 * budget, then traps once the budget is spent, whether it loops or
 * recurses; calls that neither loop nor call cost nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from '@bytecodealliance/jco';
import { FUEL_EXPORT, meterFuel, UNLIMITED_FUEL } from './fuel.ts';

async function metered(text: string, imports?: WebAssembly.Imports) {
  const bytes = meterFuel(await parse(text));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), imports);
  const exports = instance.exports as Record<string, unknown>;
  return { exports, fuel: exports[FUEL_EXPORT] as WebAssembly.Global };
}

const GUEST = `(module
  (global $counter (mut i32) (i32.const 0))
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $again)))
    (local.get $i))
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "leaf") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter)))`;

describe('fuel metering (load-time rewrite)', () => {
  it('starts with unlimited fuel, so an unmetered call behaves as before', async () => {
    const { exports, fuel } = await metered(GUEST);
    assert.equal(fuel.value, UNLIMITED_FUEL);
    assert.equal((exports.count as (n: number) => number)(100_000), 100_000);
    assert.equal((exports.fib as (n: number) => number)(20), 6765);
  });

  it('takes one unit per loop iteration and traps with unreachable once the budget is spent', async () => {
    const { exports, fuel } = await metered(GUEST);
    const count = exports.count as (n: number) => number;
    fuel.value = 1000n;
    // The check runs on entering the loop and on every branch back: n + 1 times.
    assert.equal(count(10), 10);
    assert.equal(fuel.value, 1000n - 11n);
    fuel.value = 1000n;
    assert.throws(
      () => count(5000),
      (error: unknown) => error instanceof WebAssembly.RuntimeError,
    );
    assert.ok((fuel.value as bigint) < 0n);
  });

  it('bounds recursion without any loop: every entry into a function that calls costs a unit', async () => {
    const { exports, fuel } = await metered(GUEST);
    const fib = exports.fib as (n: number) => number;
    fuel.value = 177n; // fib(10) makes 177 calls
    assert.equal(fib(10), 55);
    assert.equal(fuel.value, 0n);
    fuel.value = 10_000n;
    // Unmetered this would take minutes (2^40 calls); metered it stops at once.
    assert.throws(() => fib(40), WebAssembly.RuntimeError);
  });

  it('leaves functions that neither loop nor call free', async () => {
    const { exports, fuel } = await metered(GUEST);
    fuel.value = 0n;
    assert.equal((exports.leaf as () => number)(), 1);
    assert.equal(fuel.value, 0n);
  });

  it('numbers its global after imported and defined ones, in a module with no global or export section of its own', async () => {
    const withImports = await metered(
      `(module
        (import "env" "base" (global $base i32))
        (global $mine (mut i32) (global.get $base))
        (func (export "read") (result i32) (global.get $mine)))`,
      { env: { base: 42 } },
    );
    assert.equal((withImports.exports.read as () => number)(), 42);
    assert.equal(withImports.fuel.value, UNLIMITED_FUEL);

    const bare = meterFuel(await parse('(module (func (loop)))'));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bare as Uint8Array<ArrayBuffer>));
    assert.ok(instance.exports[FUEL_EXPORT] instanceof WebAssembly.Global);
  });

  it('refuses a module it cannot decode instead of guessing', () => {
    assert.throws(() => meterFuel(new Uint8Array([0, 1, 2, 3])), RangeError);
  });
});
