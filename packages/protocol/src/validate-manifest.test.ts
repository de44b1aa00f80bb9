// Behaviour of the shared manifest validator, which the server runs at
// publish and config time and the CLI before it packs.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { MAX_MANIFEST_PROBLEMS, validateManifest } from './validate-manifest.ts';
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

test("a setting may not be named after a JavaScript object's internals", () => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const errors = errorsOf({ ...sampleManifest(), settings: [{ key, type: 'string', label: 'X' }] });
    const error = errors.find((e) => e.path === 'settings[0].key');
    assert.match(error?.message ?? JSON.stringify(errors), /is a reserved name/, key);
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

test('a UI may declare iframe type and app-menu / client-portal hooks with a label; other hooks and blank labels are refused', () => {
  const ui = {
    type: 'iframe' as const,
    entry: 'ui/index.html',
    hooks: { appMenu: { label: 'Reports' }, clientPortalMenu: { label: 'My reports' } },
  };
  assert.equal(validateManifest(sampleManifest({ ui })).ok, true);
  assert.deepEqual(
    errorsOf(sampleManifest({ ui: { entry: 'ui/index.html', hooks: { appMenu: { label: '  ' } } } })).map(
      (e) => e.path,
    ),
    ['ui.hooks.appMenu.label'],
  );
  const unknownHook = { entry: 'ui/index.html', hooks: { sidebar: { label: 'x' } } };
  assert.deepEqual(
    errorsOf(sampleManifest({ ui: unknownHook as never })).map((e) => e.path),
    ['ui.hooks.sidebar'],
  );
  assert.deepEqual(
    errorsOf(sampleManifest({ ui: { type: 'window' as never, entry: 'ui/index.html' } })).map((e) => e.path),
    ['ui.type'],
  );
});

test('10,000 unknown capabilities draw the first problems, worded as ever, and a count of the rest', () => {
  const capabilities = Array.from({ length: 10_000 }, (_, i) => `cap:bogus-${i}`);
  const errors = errorsOf({ ...sampleManifest(), capabilities });
  assert.equal(errors.length, MAX_MANIFEST_PROBLEMS + 1);
  assert.deepEqual(errors[0], {
    path: 'capabilities[0]',
    message:
      'capabilities[0] must be one of: "cap:context.read", "cap:secrets.get", "cap:http.fetch", "cap:storage.kv", "cap:log.emit", "cap:ui.proxy", "cap:user.read".',
  });
  assert.deepEqual(errors.at(-1), {
    path: '',
    message: `…and ${10_000 - MAX_MANIFEST_PROBLEMS} more problems not listed; fix these and validate again.`,
  });
  assert.ok(JSON.stringify(errors).length < 4 * 1024, `${JSON.stringify(errors).length} characters`);
});

test('as many problems as the limit are all listed, with no count', () => {
  const capabilities = Array.from({ length: MAX_MANIFEST_PROBLEMS }, (_, i) => `cap:bogus-${i}`);
  const errors = errorsOf({ ...sampleManifest(), capabilities });
  assert.deepEqual(
    errors.map((e) => e.path),
    capabilities.map((_, i) => `capabilities[${i}]`),
  );
});

test('problems found after the schema passed are bounded too, and quotes of huge author text are clipped', () => {
  const settings = Array.from({ length: 5_000 }, () => ({ key: 'same', type: 'string', label: 'Same' }));
  const duplicates = errorsOf({ ...sampleManifest(), settings });
  assert.equal(duplicates.length, MAX_MANIFEST_PROBLEMS + 1);
  assert.match(duplicates[0]!.message, /declared twice/);
  assert.match(duplicates.at(-1)!.message, new RegExp(`${4_999 - MAX_MANIFEST_PROBLEMS} more problems`));

  const field = 'x'.repeat(100_000);
  const options = Array.from({ length: 5_000 }, (_, i) => ({ value: `value-${i}`, label: 'L' }));
  const huge = errorsOf({
    ...sampleManifest(),
    [field]: 1,
  });
  assert.match(huge[0]!.message, /^"x+…" is not a known field of manifest; remove it \(allowed: name, /);
  const longDefault = errorsOf({
    ...sampleManifest(),
    settings: [{ key: 'pick', type: 'select', label: 'Pick', options, default: 'none' }],
  });
  assert.match(longDefault[0]!.message, /^Default does not match the setting: "pick" must be one of: value-0, .*…$/);
  for (const error of [...huge, ...longDefault]) assert.ok(error.path.length + error.message.length < 512);
});

test("a secret's egress host that allowedHosts does not list is a note (publish warns), not an error", () => {
  const secret = (egress: string[]) => ({ key: 'api_token', type: 'string', label: 'Token', secret: true, egress });
  const notesOf = (allowedHosts: string[], egress: string[]) => {
    const result = validateManifest({ ...sampleManifest(), allowedHosts, settings: [secret(egress)] });
    assert.ok(result.ok, JSON.stringify(result));
    return result.ok ? result.notes : [];
  };
  assert.deepEqual(notesOf(['api.example.com'], ['api.example.com']), []);
  assert.deepEqual(notesOf(['*.example.com'], ['api.example.com']), [], 'a wildcard covers it');
  assert.deepEqual(notesOf(['https://api.example.com/v1'], ['api.example.com']), [], 'a path prefix on the same host');
  assert.deepEqual(notesOf(['http://127.0.0.1:8080'], ['http://127.0.0.1:8080']), []);

  const [missing] = notesOf(['other.example.com'], ['api.example.com']);
  assert.match(
    missing!,
    /^Secret "api_token" may be sent to api\.example\.com \(its "egress"\), but "allowedHosts" does not list/,
  );
  assert.match(missing!, /Add "api\.example\.com" to "allowedHosts"\.$/);
  assert.equal(notesOf(['api.example.com'], ['http://api.example.com']).length, 1, 'another scheme');
  assert.equal(notesOf(['api.example.com'], ['api.example.com:8443']).length, 1, 'another port');
  assert.equal(notesOf(['*.example.com'], ['example.com']).length, 1, 'a wildcard does not cover the apex');
});
