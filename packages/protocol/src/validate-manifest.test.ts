// Behaviour of the shared manifest validator, which the server runs at
// publish and config time and the CLI before it packs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { validateManifest } from './validate-manifest.ts';
import { sampleManifest } from './testing.ts';

function errorsOf(value: unknown) {
  const result = validateManifest(value);
  assert.equal(result.ok, false);
  return result.ok ? [] : result.errors;
}

test('the secrets-demo sample manifest is valid', async () => {
  const text = await readFile(new URL('../../../samples/secrets-demo/manifest.json', import.meta.url), 'utf8').catch(
    () => undefined,
  );
  if (text === undefined) return; // sample not present in this checkout
  const result = validateManifest(JSON.parse(text));
  assert.deepEqual(result.ok ? [] : result.errors, []);
});

test('unknown fields, bad slugs and wrong runtime are named with a fix', () => {
  const errors = errorsOf({ ...sampleManifest(), name: 'Hello World', runtime: 'node', extra: 1 });
  const byPath = new Map(errors.map((e) => [e.path, e.message]));
  assert.match(byPath.get('name') ?? '', /lowercase slug/);
  assert.match(byPath.get('runtime') ?? '', /"wasm-js@1"/);
  assert.match(byPath.get('extra') ?? '', /not a known field.*remove it/);
});

test('wildcard hosts "*" and "http://*" are refused; concrete hosts and URLs pass', () => {
  const errors = errorsOf({ ...sampleManifest(), allowedHosts: ['*', 'http://*'] });
  assert.deepEqual(errors.map((e) => e.path).sort(), ['allowedHosts[0]', 'allowedHosts[1]']);
  assert.match(errorsOf({ ...sampleManifest(), allowedHosts: ['*.com'] })[0]?.message ?? '', /too broad/);
  const ok = validateManifest({
    ...sampleManifest(),
    allowedHosts: ['api.example.com', 'https://api.example.com:8443/v1', '*.example.com'],
  });
  assert.equal(ok.ok, true);
});

test('settings: duplicate keys, wrong defaults, secret non-text and missing options are refused', () => {
  const errors = errorsOf({
    ...sampleManifest(),
    settings: [
      { key: 'a', type: 'number', label: 'A', default: 'ten' },
      { key: 'a', type: 'string', label: 'A2' },
      { key: 'flag', type: 'boolean', label: 'Flag', secret: true },
      { key: 'pick', type: 'select', label: 'Pick' },
    ],
  });
  const paths = errors.map((e) => e.path);
  for (const expected of ['settings[0].default', 'settings[1].key', 'settings[2].secret', 'settings[3].options']) {
    assert.ok(paths.includes(expected), `expected an error at ${expected}: ${JSON.stringify(errors)}`);
  }
});

test('unknown capabilities and endpoint paths without a leading slash are refused', () => {
  const errors = errorsOf({
    ...sampleManifest(),
    capabilities: ['cap:teleport'],
    api: { endpoints: [{ method: 'GET', path: 'hello' }] },
  });
  assert.deepEqual(errors.map((e) => e.path).sort(), ['api.endpoints[0].path', 'capabilities[0]']);
});

test('endpoints may opt in to the UI proxy with a boolean "proxy"', () => {
  const withProxy = sampleManifest({ api: { endpoints: [{ method: 'GET', path: '/ui-data', proxy: true }] } });
  assert.equal(validateManifest(withProxy).ok, true);
  const errors = errorsOf(
    sampleManifest({ api: { endpoints: [{ method: 'GET', path: '/x', proxy: 'yes' as unknown as boolean }] } }),
  );
  assert.deepEqual(
    errors.map((e) => e.path),
    ['api.endpoints[0].proxy'],
  );
});
