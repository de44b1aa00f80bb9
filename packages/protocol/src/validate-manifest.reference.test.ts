// The reference host's enforced v2 manifest format (REFERENCE-HOST.md §1) is
// read beside this platform's own, with safe defaults that publish reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostProblem, isReferenceManifest, resolveWildcardVersion, validateManifest } from './validate-manifest.ts';
import { sampleManifest, sampleReferenceManifest } from './testing.ts';

const reporting = sampleReferenceManifest({
  capabilities: ['cap:context.read', 'cap:log.emit', 'CAP:UI.PROXY '],
  ui: { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: ' Reports ' }, other: { x: 1 } } },
  assets: ['ui/**/*'],
});

function ok(value: unknown) {
  const result = validateManifest(value);
  assert.ok(result.ok, JSON.stringify(result));
  return result;
}

test('a shipped reference manifest is accepted as it is and converted with its defaults noted', () => {
  const { manifest, notes } = ok(reporting);
  assert.equal(manifest.format, 'reference-v2');
  assert.equal(manifest.name, 'com.alga.ninemindsreporting');
  assert.equal(manifest.publisher, 'Nine Minds');
  assert.equal(manifest.version, '0.3.*');
  assert.equal(manifest.versionPattern, '0.3.*');
  // user.read is added: the reference host grants it to every install.
  assert.deepEqual(manifest.capabilities, ['cap:context.read', 'cap:log.emit', 'cap:ui.proxy', 'cap:user.read']);
  assert.ok(notes.some((n) => /"cap:user.read" is added: the reference host grants it/.test(n)));
  assert.deepEqual(manifest.ui, { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: 'Reports' } } });
  assert.deepEqual(manifest.api, { endpoints: [] });
  assert.equal(manifest.acceptsAnyPath, true);
  assert.deepEqual(manifest.allowedHosts, []);
  assert.deepEqual(manifest.settings, []);
  assert.deepEqual(manifest.assets, ['ui/**/*']);
  assert.deepEqual(manifest.precompiled, reporting.precompiled);
  assert.ok(notes.some((n) => /no "api" section/.test(n)));
});

test('reference capabilities: PSA ones and unknown ones are dropped with a note; http.fetch notes no egress', () => {
  const { manifest, notes } = ok({
    ...reporting,
    capabilities: ['cap:http.fetch', 'cap:scheduler.manage', 'cap:teleport'],
  });
  assert.deepEqual(manifest.capabilities, ['cap:http.fetch', 'cap:user.read']);
  assert.ok(notes.some((n) => /"cap:scheduler.manage" is not provided by this platform/.test(n)));
  assert.ok(notes.some((n) => /"cap:teleport" is unknown/.test(n)));
  assert.ok(notes.some((n) => /no outbound HTTP until a tenant admin grants hosts/.test(n)));
});

test('reference endpoints are normalised as the reference stores them; OPTIONS and HEAD are dropped', () => {
  const { manifest, notes } = ok({
    name: 'com.alga.sample.scheduler-demo',
    version: '1.0.0',
    runtime: 'wasm-js@1',
    api: {
      endpoints: [
        { method: 'get', path: 'api//status', handler: './dist/main', schedulable: true },
        { method: 'DELETE', path: '/api/schedules/:id', handler: 'dist/main' },
        { method: 'OPTIONS', path: '/x', handler: 'dist/main' },
      ],
    },
  });
  assert.deepEqual(manifest.api.endpoints, [
    { method: 'GET', path: '/api/status', handler: 'dist/main' },
    { method: 'DELETE', path: '/api/schedules/:id', handler: 'dist/main' },
  ]);
  assert.equal(manifest.acceptsAnyPath, undefined);
  assert.equal(manifest.publisher, 'com.alga.sample.scheduler-demo');
  assert.ok(notes.some((n) => /names no publisher/.test(n)));
  assert.ok(notes.some((n) => /OPTIONS \/x\) is dropped/.test(n)));
});

test('what the reference accepts and ours once refused: a capitalised name, another runtime, extra ui/api fields, free-form endpoint paths', () => {
  const result = validateManifest({
    name: 'MyExt',
    publisher: 'Acme',
    version: '1.0.0',
    runtime: 'wasm32-wasi@1',
    ui: { type: 'iframe', entry: 'ui/index.html', title: 'My extension' },
    api: {
      basePath: '/api',
      endpoints: [
        { method: 'GET', path: '/api/status/', handler: 'dist/main' },
        { method: 'GET', path: '/api/items/{id}', handler: 'dist/main' },
        { method: 'GET', path: '/reports/:report-id', handler: 'dist/main' },
        { method: 'GET', path: '/api/*', handler: 'dist/main' },
      ],
    },
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.manifest.name, 'MyExt');
  assert.equal(result.manifest.runtime, 'wasm-js@1');
  assert.deepEqual(
    result.manifest.api.endpoints.map((e) => e.path),
    ['/api/status', '/api/items/{id}', '/reports/:report-id', '/api/*'],
  );
  const notes = result.notes.join('\n');
  assert.match(notes, /Runtime "wasm32-wasi@1" is read as "wasm-js@1"/);
  assert.match(notes, /"ui" fields "title" are not used here/);
  assert.match(notes, /"api" fields "basePath" are not used here/);
  const bad = validateManifest({
    name: 'MyExt',
    version: '1.0.0',
    runtime: 'wasm-js@1',
    api: { endpoints: [{ method: 'GET', path: '/a?b', handler: 'h' }] },
  });
  assert.equal(bad.ok, false);
});

test('the reference rules refuse what the reference refuses, with the field named', () => {
  const result = validateManifest({
    name: ' ',
    version: '1.*',
    runtime: 'wasm-js@1',
    entry: 'dist/main.wasm',
    ui: { type: 'page', entry: '../x' },
    api: { endpoints: [{ method: 'TRACE', path: '/a b', handler: '../h' }] },
  });
  assert.equal(result.ok, false);
  const paths = result.ok ? [] : result.errors.map((e) => e.path);
  for (const expected of [
    'name',
    'version',
    'entry',
    'ui.type',
    'ui.entry',
    'api.endpoints[0].method',
    'api.endpoints[0].path',
    'api.endpoints[0].handler',
  ]) {
    assert.ok(paths.includes(expected), `expected ${expected} in ${JSON.stringify(paths)}`);
  }
  const version = result.ok ? undefined : result.errors.find((e) => e.path === 'version');
  assert.match(version?.message ?? '', /wildcard such as "0\.3\.\*"/);
});

test("a manifest with allowedHosts or settings is read in this platform's format, never the reference's", () => {
  assert.equal(isReferenceManifest(sampleManifest()), false);
  assert.equal(isReferenceManifest(reporting), true);
  const result = validateManifest({ ...sampleManifest(), publisher: 'Nine Minds' });
  assert.equal(result.ok, false);
});

test('wildcard versions resolve to one past the highest stable patch of that minor, else .0', () => {
  assert.equal(resolveWildcardVersion('0.3.*', []), '0.3.0');
  assert.equal(resolveWildcardVersion('0.3.*', ['0.3.0', '0.3.4', '0.3.9-beta.1', '0.4.7', '1.3.8']), '0.3.5');
  assert.equal(resolveWildcardVersion('0.3.*', ['0.3.10', '0.3.2']), '0.3.11');
  assert.equal(resolveWildcardVersion('1.2.3', ['1.2.3']), '1.2.3');
});

test('setting keys allow the reference key names (capitals, dots, dashes)', () => {
  const result = validateManifest({
    ...sampleManifest(),
    settings: [
      { key: 'ALGA_API_KEY', type: 'string', label: 'API key', secret: true },
      { key: 'algaApiBase', type: 'string', label: 'Base' },
      { key: 'api.key-2', type: 'string', label: 'Other' },
    ],
  });
  assert.deepEqual(result.ok ? [] : result.errors, []);
  assert.equal(
    validateManifest({ ...sampleManifest(), settings: [{ key: 'a b', type: 'string', label: 'x' }] }).ok,
    false,
  );
});

test('hostProblem applies the allowedHosts rules to granted hosts', () => {
  assert.equal(hostProblem('api.example.com'), undefined);
  assert.equal(hostProblem('https://api.example.com:8443/v1'), undefined);
  assert.equal(hostProblem('*.example.com'), undefined);
  assert.match(hostProblem('*') ?? '', /wildcards like "\*"/);
  assert.match(hostProblem('*.com') ?? '', /too broad/);
  assert.ok(hostProblem('exa mple.com'));
  assert.ok(hostProblem(''));
});
