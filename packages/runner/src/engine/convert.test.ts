import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_GUEST_HEADER_BYTES } from '@alga-psa/protocol';
import { toExecuteResponse } from './convert.ts';

const answer = (headers: { name: string; value: string }[], status = 200) => ({ status, headers, body: undefined });

test('response headers: hop-by-hop and unsendable ones dropped, repeats folded, values masked', () => {
  const response = toExecuteResponse(
    answer([
      { name: 'Connection', value: 'close' },
      { name: 'X-Ext-A', value: 'one' },
      { name: 'x-ext-a', value: 'two' },
      { name: 'x-ext-nul', value: 'a\0b' },
      { name: 'x-ext-token', value: 'Bearer s3cret' },
    ]),
    (text) => text.replaceAll('s3cret', '[REDACTED]'),
  );
  assert.deepEqual(response.headers, { 'x-ext-a': 'one, two', 'x-ext-token': 'Bearer [REDACTED]' });
});

test('response headers past MAX_GUEST_HEADER_BYTES are dropped; the ones before it are kept', () => {
  const big = 'v'.repeat(MAX_GUEST_HEADER_BYTES / 2);
  const response = toExecuteResponse(
    answer([
      { name: 'x-ext-first', value: big },
      { name: 'x-ext-second', value: big },
      { name: 'x-ext-small', value: 'fits' },
    ]),
  );
  assert.deepEqual(Object.keys(response.headers), ['x-ext-first', 'x-ext-small']);
});

test('a status outside 200-599 is refused', () => {
  for (const status of [101, 199, 600])
    assert.throws(() => toExecuteResponse(answer([], status)), /invalid HTTP status/);
  assert.equal(toExecuteResponse(answer([], 204)).status, 204);
});
