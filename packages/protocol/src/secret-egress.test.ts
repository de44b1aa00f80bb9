// A secret's `egress` list: what publish accepts and how the runner and `alga test` match a URL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { egressAllows, parseSecretEgress, secretEgressField, SECRET_HANDLE_PATTERN } from './secret-egress.ts';
import { sampleManifest } from './testing.ts';
import { validateManifest } from './validate-manifest.ts';

const withEgress = (egress: unknown, secret = true) => ({
  ...sampleManifest(),
  settings: [{ key: 'api_token', type: 'string', label: 'API token', ...(secret ? { secret: true } : {}), egress }],
});

test('a secret setting may list exact egress hosts; publish refuses wildcards, paths, bad ports and non-secrets', () => {
  const ok = validateManifest(withEgress(['api.example.com', 'api.example.com:8443', 'http://127.0.0.1:8080']));
  assert.deepEqual(ok.ok ? [] : ok.errors, []);
  for (const bad of [['*.example.com'], ['*'], ['https://api.example.com/v1'], ['api.example.com:99999'], []]) {
    const result = validateManifest(withEgress(bad));
    assert.equal(result.ok, false, JSON.stringify(bad));
    assert.match(result.ok ? '' : result.errors[0]!.path, /^settings\[0\]\.egress/);
  }
  const wildcard = validateManifest(withEgress(['*.example.com']));
  assert.match(wildcard.ok ? '' : wildcard.errors[0]!.message, /exact host/);
  const notSecret = validateManifest(withEgress(['api.example.com'], false));
  assert.match(notSecret.ok ? '' : notSecret.errors[0]!.message, /only applies to secret settings/);
});

test('an entry matches scheme, host and port exactly: HTTPS unless http:// is written', () => {
  const entries = ['api.example.com', 'http://127.0.0.1:8080'].map((e) => parseSecretEgress(e)!);
  assert.ok(egressAllows(entries, new URL('https://api.example.com/v1?x=1')));
  assert.ok(egressAllows(entries, new URL('https://API.example.com.:443/')));
  assert.ok(egressAllows(entries, new URL('http://127.0.0.1:8080/')));
  assert.ok(!egressAllows(entries, new URL('http://api.example.com/')), 'plain http to an https entry');
  assert.ok(!egressAllows(entries, new URL('https://api.example.com:8443/')), 'another port');
  assert.ok(!egressAllows(entries, new URL('https://evil.api.example.com/')), 'a subdomain');
  assert.ok(!egressAllows(entries, new URL('https://api.example.com.evil.test/')));
  assert.ok(!egressAllows(entries, new URL('http://localhost:8080/')), 'another name for the same address');
});

test('the execute request carries only secrets with egress, and handles are recognised raw or percent-encoded', () => {
  assert.deepEqual(secretEgressField([{ key: 'a', type: 'string', label: 'A', secret: true }]), {});
  assert.deepEqual(
    secretEgressField([{ key: 'a', type: 'string', label: 'A', secret: true, egress: ['api.example.com'] }]),
    { secret_egress: { a: ['api.example.com'] } },
  );
  const handle = `alga-secret-handle:${'A'.repeat(43)}`;
  assert.equal([...`x ${handle} ${encodeURIComponent(handle)}`.matchAll(SECRET_HANDLE_PATTERN)].length, 2);
});
