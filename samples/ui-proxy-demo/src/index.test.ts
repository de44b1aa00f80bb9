import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { createMockHost } from '@alga-psa/extension-runtime/testing';
import manifest from '../manifest.json' with { type: 'json' };
import { handler } from './index.ts';
import { bundleUi, UI_BUNDLE } from '../ui-src/build.ts';

const user = {
  tenantId: 't',
  clientName: 'Acme',
  userId: 'u-1',
  userEmail: 'ada@example.com',
  userName: 'Ada',
  userType: 'internal',
};

test('answers the page with the configured title and the signed-in user', async () => {
  const host = createMockHost({ manifest, user });
  const response = await host.invoke(handler, { method: 'POST', path: '/summary', body: '{"days":30}' });
  assert.deepEqual(response.json(), { title: 'Team summary', greeting: 'Hello, Ada', days: 30 });
});

test('refuses a bad payload with 400', async () => {
  const host = createMockHost({ manifest });
  const response = await host.invoke(handler, { method: 'POST', path: '/summary', body: '{"days":1000}' });
  assert.equal(response.status, 400);
});

test('the summary endpoint is marked proxy: true, so the iframe may reach it', () => {
  assert.ok(manifest.api.endpoints.some((e) => e.path === '/summary' && e.proxy === true));
});

test('ui/app.js is the current bundle of ui-src/app.ts (run: node samples/ui-proxy-demo/ui-src/build.ts)', async () => {
  assert.equal(await readFile(UI_BUNDLE, 'utf8'), await bundleUi());
});
