import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMockHost } from '@alga-psa/extension-runtime/testing';
import manifest from '../manifest.json' with { type: 'json' };
import { handler } from './index.ts';

test('greets with the default from manifest.json and says the token is not set', async () => {
  const host = createMockHost({ manifest });
  const response = await host.invoke(handler, { path: '/hello' });
  assert.equal(response.status, 200);
  assert.deepEqual(response.json(), { message: 'Hello from extension-test', tokenSet: false });
});

test('uses the configured greeting and sees the secret', async () => {
  const host = createMockHost({ manifest, config: { greeting: 'Hi' }, secrets: { api_token: 'tok' } });
  const response = await host.invoke(handler, { path: '/hello' });
  assert.deepEqual(response.json(), { message: 'Hi from extension-test', tokenSet: true });
  assert.ok(host.logs.some((line) => line.message.includes('/hello')));
});
