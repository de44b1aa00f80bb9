/**
 * Issue 19: extensions written for the reference host build with `alga build`
 * as they are. The fixture imports `alga:extension/*` unversioned and
 * returns the reference SDK's response shape; the build rewrites the imports
 * to our versioned package and writes the reference's dist/main.wasm too.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildExtension } from '@alga-psa/cli';
import { WIT_VERSION } from '@alga-psa/protocol';
import { componentImports } from '../../packages/server/src/publish/component.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('a reference-style fixture with unversioned imports builds into dist/main.wasm importing our versioned package', async () => {
  const dir = path.join(repo, 'test/fixtures/reference/secrets-reader');
  const result = await buildExtension({ dir });
  assert.equal(result.metadata.name, 'com.alga.fixture.secrets-reader');
  const component = await readFile(result.componentPath);
  assert.deepEqual(await readFile(path.join(dir, 'dist/main.wasm')), component, 'dist/main.wasm is the component');
  const imports = await componentImports(new Uint8Array(component));
  for (const name of ['secrets', 'logging', 'context'])
    assert.ok(imports.includes(`alga:extension/${name}@${WIT_VERSION}`), name);
  assert.ok(!imports.some((name) => /^alga:extension\/[a-z-]+$/.test(name)), 'no unversioned import is left');
});
