import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createMockHost } from '@alga-psa/extension-runtime/testing';
import { handler } from './index.ts';

test('answers with the greeting and proof of the secret, never the secret', async () => {
  const host = createMockHost({ config: { greeting: 'Hi' }, secrets: { api_token: 'tok-123456' } });
  const response = await host.invoke(handler, { path: '/hello' });
  assert.equal(response.status, 200);
  const body = response.json<{ message: string; secret: { set: boolean; length: number; sha256Prefix: string } }>();
  assert.equal(body.message, 'Hi from extension-test');
  assert.deepEqual(body.secret, {
    set: true,
    length: 10,
    sha256Prefix: createHash('sha256').update('tok-123456').digest('hex').slice(0, 8),
  });
  assert.ok(!response.text().includes('tok-123456'));
});

test('says the secret is missing when it was never set', async () => {
  const host = createMockHost();
  const body = (await host.invoke(handler, { path: '/hello' })).json<{
    message: string;
    secret: { set: boolean; error: string };
  }>();
  assert.equal(body.message, 'Hello from extension-test');
  assert.equal(body.secret.set, false);
  assert.equal(body.secret.error, 'missing');
});
