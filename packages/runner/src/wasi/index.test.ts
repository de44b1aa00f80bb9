/**
 * The ambient WASI host on its own: what the clocks answer, how a poll
 * waits, and how the ledger counts what a guest holds. clocks.test.ts runs
 * the same through a real component.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AMBIENT_WASI_INTERFACES, CLOCK_RESOLUTION_NS } from '@alga-psa/protocol';
import { createWasiHost } from './index.ts';

type Fn = (...args: unknown[]) => unknown;
type Ctor = new (...args: unknown[]) => Record<string | symbol, Fn>;

function host() {
  const waits: number[] = [];
  const written: Uint8Array[] = [];
  const { imports, ledger } = createWasiHost({
    wait: (ms) => {
      waits.push(ms);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    },
    stderr: (bytes) => void written.push(bytes),
  });
  const fn = (iface: string, name: string) => (imports[iface] as Record<string, Fn>)[name]!;
  return { imports, ledger, waits, written, fn };
}

describe('ambient WASI host', () => {
  it('provides exactly the ambient interfaces', () => {
    assert.deepEqual(Object.keys(host().imports).sort(), [...AMBIENT_WASI_INTERFACES].sort());
  });

  it('reads the host wall clock, in whole milliseconds', () => {
    const { fn } = host();
    const before = Date.now();
    const { seconds, nanoseconds } = fn('wasi:clocks/wall-clock', 'now')() as { seconds: bigint; nanoseconds: number };
    const ms = Number(seconds) * 1000 + nanoseconds / 1e6;
    assert.ok(ms >= before && ms <= Date.now(), `${before} ≤ ${ms}`);
    assert.equal(nanoseconds % CLOCK_RESOLUTION_NS, 0);
    assert.deepEqual(fn('wasi:clocks/wall-clock', 'resolution')(), { seconds: 0n, nanoseconds: CLOCK_RESOLUTION_NS });
  });

  it('gives a monotonic clock that never goes back, coarsened to the resolution', () => {
    const { fn } = host();
    const now = fn('wasi:clocks/monotonic-clock', 'now') as () => bigint;
    let last = now();
    for (let i = 0; i < 1000; i++) {
      const next = now();
      assert.ok(next >= last);
      assert.equal(next % BigInt(CLOCK_RESOLUTION_NS), 0n);
      last = next;
    }
  });

  it('blocks a poll through `wait` until the soonest pollable is due, and answers which are ready', () => {
    const { fn, waits } = host();
    const subscribe = fn('wasi:clocks/monotonic-clock', 'subscribeDuration') as (ns: bigint) => { ready(): boolean };
    const poll = fn('wasi:io/poll', 'poll') as (p: unknown[]) => Uint32Array;
    const later = subscribe(60_000_000_000n);
    const soon = subscribe(5_000_000n);
    const started = process.hrtime.bigint();
    assert.deepEqual([...poll([later, soon])], [1]);
    assert.ok(process.hrtime.bigint() - started >= 5_000_000n);
    assert.ok(waits.length > 0 && waits.every((ms) => ms >= 1 && ms <= 5), `waited ${waits.join(', ')} ms`);
    assert.equal(later.ready(), false);
  });

  it('gives up a wait when `wait` throws (the inline path, or outside a request)', () => {
    const { imports } = createWasiHost({
      wait: () => {
        throw new Error('no waiting here');
      },
      stderr: () => {},
    });
    const clocks = imports['wasi:clocks/monotonic-clock'] as Record<string, Fn>;
    const pollable = clocks.subscribeDuration!(1_000_000_000n) as { block(): void };
    assert.throws(() => pollable.block(), /no waiting here/);
  });

  it('counts resources from creation until the guest drops them, once each', () => {
    const { imports, ledger, fn } = host();
    const pollable = fn('wasi:clocks/monotonic-clock', 'subscribeDuration')(1n) as Record<symbol, Fn>;
    const stderr = fn('wasi:cli/stderr', 'getStderr')() as Record<string | symbol, Fn>;
    const error = new (imports['wasi:io/error'] as unknown as Record<string, Ctor>).Error!();
    assert.equal(ledger.live, 3);
    pollable[Symbol.dispose]!();
    pollable[Symbol.dispose]!();
    error[Symbol.dispose]!();
    assert.equal(ledger.live, 1);
    stderr[Symbol.dispose]!();
    assert.equal(ledger.live, 0);
  });

  it('closes the stream on a write larger than check-write grants, so a guest cannot make the host allocate', () => {
    const { written, fn } = host();
    const stream = fn('wasi:cli/stderr', 'getStderr')() as Record<string, Fn>;
    const permit = stream.checkWrite!() as bigint;
    const isClosed = (error: { payload?: unknown }) => {
      assert.deepEqual(error.payload, { tag: 'closed' });
      return true;
    };
    assert.throws(() => stream.blockingWriteZeroesAndFlush!(1n << 40n), isClosed);
    assert.throws(() => stream.write!(new Uint8Array(Number(permit) + 1)), isClosed);
    stream.writeZeroes!(permit);
    assert.deepEqual(
      written.map((bytes) => bytes.length),
      [Number(permit)],
    );
  });

  it('hands what the guest writes to stderr to `stderr`, and reads nothing from an input stream', () => {
    const { imports, written, fn } = host();
    const stream = fn('wasi:cli/stderr', 'getStderr')() as Record<string, Fn>;
    stream.blockingWriteAndFlush!(new TextEncoder().encode('engine says hi'));
    assert.equal(new TextDecoder().decode(written[0]), 'engine says hi');
    const input = new (imports['wasi:io/streams'] as unknown as Record<string, Ctor>).InputStream!();
    assert.throws(
      () => input.read!(10n),
      (error: { payload?: unknown }) => {
        assert.deepEqual(error.payload, { tag: 'closed' });
        return true;
      },
    );
  });
});
