/**
 * Per-request randomness: `Math.random` is seeded from the host on its first
 * call in a request (never before, never replayed); `crypto` always asks the host.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type * as WitRandom from 'alga:extension/random@0.3.0';
import { reseedRandomness } from './random.ts';

function countingHost() {
  let next = 1;
  const host = {
    calls: 0,
    getRandomBytes(len: bigint | number) {
      host.calls++;
      return Uint8Array.from({ length: Number(len) }, () => next++ & 0xff);
    },
  };
  return host;
}

describe('reseedRandomness', () => {
  const original = Math.random;
  after(() => {
    Math.random = original;
  });

  it('asks the host for a seed only when Math.random is first called in the request', () => {
    const host = countingHost();
    reseedRandomness(host as unknown as typeof WitRandom);
    assert.equal(host.calls, 0, 'a request that never calls Math.random costs no host call');
    const first = [Math.random(), Math.random(), Math.random()];
    assert.equal(host.calls, 1, 'one seed per request');
    assert.ok(first.every((x) => x >= 0 && x < 1));
    reseedRandomness(host as unknown as typeof WitRandom);
    assert.equal(host.calls, 1);
    const second = [Math.random(), Math.random(), Math.random()];
    assert.equal(host.calls, 2, 'the next request seeds again');
    assert.notDeepEqual(second, first, 'a new seed, a new sequence');
  });

  it('seeds on every call of an unseeded Math.random a caller kept', () => {
    const host = countingHost();
    reseedRandomness(host as unknown as typeof WitRandom);
    const kept = Math.random;
    kept();
    kept();
    assert.equal(host.calls, 2);
  });
});
