import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMockHost } from '@alga-psa/extension-runtime/testing';
import manifest from '../manifest.json' with { type: 'json' };
import { handler } from './index.ts';

test('calls the API with the secret as a bearer token and answers its JSON', async () => {
  const host = createMockHost({
    manifest,
    secrets: { api_token: 'tok-1' },
    http: { 'GET https://api.example.com/v1/me': { json: { id: 'u-1', name: 'Ada' } } },
  });
  const response = await host.invoke(handler, { path: '/profile' });
  assert.equal(response.status, 200);
  assert.deepEqual(response.json(), { profile: { id: 'u-1', name: 'Ada' } });
  assert.equal(host.requests.length, 1);
  assert.equal(host.requests[0]?.headers['authorization'], 'Bearer tok-1');
  assert.ok(!response.text().includes('tok-1'));
});

test('a base URL outside allowedHosts is refused and the answer names the entry to add', async () => {
  const host = createMockHost({
    manifest,
    config: { api_base_url: 'https://other.example.net' },
    secrets: { api_token: 'tok-1' },
  });
  const response = await host.invoke(handler, { path: '/profile' });
  assert.equal(response.status, 502);
  const body = response.json<{ error: string; add: string; hint: string }>();
  assert.equal(body.error, 'not-allowed');
  assert.equal(body.add, 'other.example.net');
  assert.match(body.hint, /allowedHosts/);
  assert.equal(host.requests.length, 0);
});

test('no token: 503 with "missing", and no call goes out', async () => {
  const host = createMockHost({ manifest });
  const response = await host.invoke(handler, { path: '/profile' });
  assert.equal(response.status, 503);
  assert.equal(response.json<{ error: string }>().error, 'missing');
  assert.equal(host.requests.length, 0);
});

test('an upstream error status becomes a 502', async () => {
  const host = createMockHost({
    manifest,
    secrets: { api_token: 'bad' },
    http: { 'https://api.example.com/v1/me': { status: 401, json: { error: 'unauthorized' } } },
  });
  const response = await host.invoke(handler, { path: '/profile' });
  assert.deepEqual(response.json(), { error: 'upstream', status: 401 });
});

test('the token goes only to its egress host: another allowed host gets no request, and the answer names the secret', async () => {
  const host = createMockHost({
    manifest: { ...manifest, allowedHosts: [...manifest.allowedHosts, 'mirror.example.com'] },
    config: { api_base_url: 'https://mirror.example.com' },
    secrets: { api_token: 'tok-1' },
  });
  const response = await host.invoke(handler, { path: '/profile' });
  assert.equal(response.status, 502);
  const body = response.json<{ error: string; secret: string }>();
  assert.deepEqual([body.error, body.secret], ['secret-not-allowed', 'api_token']);
  assert.equal(host.requests.length, 0);
  assert.ok(!response.text().includes('tok-1'));
});
