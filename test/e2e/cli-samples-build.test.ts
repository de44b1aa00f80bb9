/**
 * Every sample builds with the real pipeline (type-check, bundle,
 * componentize). Builds are cached by their input hash (dist/metadata.json),
 * so only a sample whose sources changed is componentized again.
 */
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildExtension } from '@alga-psa/cli';
import { WIT_VERSION, ambientWasiInterface, importsHostClock } from '@alga-psa/protocol';
import { packExtension } from '../../packages/cli/src/pack/index.ts';
import { readFixture, runComponentTests } from '../../packages/cli/src/test/index.ts';
import { componentImports, importWarnings } from '../../packages/server/src/publish/component.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const samples = readdirSync(path.join(repo, 'samples')).filter((name) =>
  existsSync(path.join(repo, 'samples', name, 'manifest.json')),
);

test('the samples are the four the docs describe', () => {
  for (const name of ['secrets-demo', 'http-demo', 'storage-demo', 'ui-proxy-demo'])
    assert.ok(samples.includes(name), name);
});

for (const name of samples) {
  test(`sample ${name} builds into a component whose imports match its manifest`, async () => {
    const result = await buildExtension({ dir: path.join(repo, 'samples', name) });
    assert.equal(result.metadata.name, name);
    assert.match(result.metadata.contentHash, /^sha256:[0-9a-f]{64}$/);
    const declared = new Set(result.metadata.capabilities);
    // Each import is our WIT (a declared capability: the build enforces it) or the ambient WASI clocks,
    // read from the component itself as the server's publish reads it.
    const imports = await componentImports(new Uint8Array(await readFile(result.componentPath)));
    for (const imp of imports) {
      if (ambientWasiInterface(imp)) continue;
      assert.match(imp, /^alga:extension\/[a-z0-9-]+@(.+)$/);
      assert.equal(imp.slice(imp.indexOf('@') + 1), WIT_VERSION, `${imp} is from the WIT this CLI builds against`);
    }
    assert.ok(importsHostClock(imports), 'built with the host clock');
    assert.deepEqual(importWarnings(imports), [], 'publish has nothing to warn about');
    assert.ok(declared.size > 0);
  });
}

test('packing the ui-proxy sample ships its ui/ files, and packing is byte-for-byte repeatable', async () => {
  const dir = path.join(repo, 'samples', 'ui-proxy-demo');
  const first = await packExtension({ dir });
  const second = await packExtension({ dir });
  assert.deepEqual(first.entries, [
    'component.wasm',
    'manifest.json',
    'metadata.json',
    'ui/app.js',
    'ui/index.html',
    'ui/style.css',
    'wit/alga-extension.wit',
  ]);
  assert.equal(first.sha256, second.sha256);
});

// `alga test` on the built components: storage and outbound HTTP answered from each sample's
// alga.test.json, behind the real runner's grant checks (after the builds above, so reused).
for (const name of ['http-demo', 'storage-demo']) {
  test(`alga test: sample ${name}'s component passes its fixture in the real runner`, async () => {
    const dir = path.join(repo, 'samples', name);
    await buildExtension({ dir });
    const results = await runComponentTests({ dir, fixture: await readFixture(path.join(dir, 'alga.test.json')) });
    assert.ok(results.length >= 3);
    for (const result of results) assert.ok(result.ok, `${result.name}: ${result.problems.join('; ')}`);
  });
}

test('alga test reports a failed expectation with what the component answered', async () => {
  const dir = path.join(repo, 'samples', 'storage-demo');
  const fixture = await readFixture(path.join(dir, 'alga.test.json'));
  const [result] = await runComponentTests({
    dir,
    fixture: {
      storage: { counter: 1 },
      requests: [{ path: '/count', expect: { json: { count: 2, revision: null } } }],
    },
  });
  assert.equal(fixture.requests.length, 3);
  assert.equal(result!.ok, false);
  assert.match(
    result!.problems[0]!,
    /^JSON body \{"count":1,"revision":"\d+"\}, expected \{"count":2,"revision":null\}$/,
  );
});
