import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BundleIntegrityError, DirectoryBundleStore, contentHashOf, parseContentHash } from './index.ts';

test('stores bytes under their sha256 and reads them back verified', async () => {
  const store = new DirectoryBundleStore(await mkdtemp(path.join(tmpdir(), 'alga-bundles-')));
  const bytes = Buffer.from('component bytes');
  const hash = await store.put(bytes);
  assert.equal(hash, contentHashOf(bytes));
  assert.deepEqual(Buffer.from((await store.get(hash))!), bytes);
  assert.equal(await store.get(contentHashOf(Buffer.from('other'))), undefined);
});

test('refuses bytes altered on disk', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'alga-bundles-'));
  const store = new DirectoryBundleStore(root);
  const hash = await store.put(Buffer.from('original'));
  await writeFile(path.join(root, 'sha256', parseContentHash(hash), 'component.wasm'), 'tampered');
  await assert.rejects(store.get(hash), BundleIntegrityError);
});

test('rejects malformed content hashes instead of building a path from them', () => {
  assert.throws(() => parseContentHash('sha256:../../etc/passwd'), /sha256:<64 hex chars>/);
});
