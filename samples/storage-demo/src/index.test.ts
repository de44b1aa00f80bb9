import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMockHost } from '@alga-psa/extension-runtime/testing';
import manifest from '../manifest.json' with { type: 'json' };
import { handler } from './index.ts';

test('counts up across requests and reports the revision', async () => {
  const host = createMockHost({ manifest });
  assert.deepEqual((await host.invoke(handler, { path: '/count' })).json(), { count: 0, revision: null });
  await host.invoke(handler, { method: 'POST', path: '/increment' });
  const second = (await host.invoke(handler, { method: 'POST', path: '/increment' })).json();
  assert.deepEqual(second, { count: 2, attempts: 1 });
  const read = (await host.invoke(handler, { path: '/count' })).json<{ count: number; revision: string }>();
  assert.equal(read.count, 2);
  assert.equal(read.revision, host.storage.get('counter')?.revision.toString());
});

test('a concurrent write makes the first attempt conflict; the retry keeps both increments', async () => {
  let interfered = false;
  const host = createMockHost({
    manifest,
    storage: { counter: 10 },
    onStoragePut: () => {
      // Another request increments between our read and our write, once.
      if (interfered) return;
      interfered = true;
      host.storage.set('counter', 11);
    },
  });
  const body = (await host.invoke(handler, { method: 'POST', path: '/increment' })).json();
  assert.deepEqual(body, { count: 12, attempts: 2 });
  assert.equal(host.storage.get('counter')?.value, '12');
  assert.ok(host.logs.some((l) => /after 2 attempts/.test(l.message)));
});

test('storage not granted: 503 with "denied"', async () => {
  const host = createMockHost({ manifest, deny: ['cap:storage.kv'] });
  const response = await host.invoke(handler, { method: 'POST', path: '/increment' });
  assert.equal(response.status, 503);
  assert.equal(response.json<{ error: string }>().error, 'denied');
});
