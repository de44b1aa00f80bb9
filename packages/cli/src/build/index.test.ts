import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildExtension, ManifestError } from './index.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

async function copyOfLooper(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-build-'));
  await cp(path.join(repo, 'test/fixtures/looper'), dir, { recursive: true, filter: (src) => !src.includes('/dist') });
  return dir;
}

test('builds a component whose imports are exactly the declared capabilities, then reuses it', async () => {
  const dir = await copyOfLooper();
  const progress: string[] = [];
  const first = await buildExtension({ dir, onProgress: (m) => progress.push(m) });
  assert.equal(first.cached, false);
  assert.deepEqual(first.metadata.imports, [
    'alga:extension/config@0.3.0',
    'alga:extension/context@0.3.0',
    'alga:extension/logging@0.3.0',
    'alga:extension/random@0.3.0',
  ]);
  assert.match(first.metadata.contentHash, /^sha256:[0-9a-f]{64}$/);
  assert.equal(first.metadata.toolchain['componentize-js'], '0.23.0');
  assert.ok(progress.some((m) => m.startsWith('componentizing')));
  const bytes = await readFile(first.componentPath);
  assert.equal(bytes.byteLength, first.metadata.size);
  // A component (layer 1), not a core module.
  assert.deepEqual([...bytes.subarray(0, 8)], [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);

  const second = await buildExtension({ dir });
  assert.equal(second.cached, true);
  assert.equal(second.metadata.contentHash, first.metadata.contentHash);

  // An edit builds anew; undoing it brings the first build back without componentizing.
  const index = path.join(dir, 'src/index.ts');
  const original = await readFile(index, 'utf8');
  await writeFile(index, original.replace("request.path === '/clock'", "request.path === '/clock-edited'"));
  const edited = await buildExtension({ dir });
  assert.equal(edited.cached, false);
  assert.notEqual(edited.metadata.contentHash, first.metadata.contentHash);
  await writeFile(index, original);
  const undone = await buildExtension({ dir });
  assert.equal(undone.cached, true);
  assert.equal(undone.metadata.contentHash, first.metadata.contentHash);
  assert.deepEqual(await readFile(undone.componentPath), bytes);
});

test('a manifest error names the field', async () => {
  const dir = await copyOfLooper();
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  manifest.capabilities = ['cap:secrets.read'];
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  await assert.rejects(
    buildExtension({ dir }),
    (error: unknown) => error instanceof ManifestError && /capabilities/.test(error.message),
  );
});

test('a missing manifest says how to create one', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-build-'));
  await assert.rejects(buildExtension({ dir }), /alga new component/);
});

test('a TypeScript syntax error is reported with file and line', async () => {
  const dir = await copyOfLooper();
  await writeFile(path.join(dir, 'src/index.ts'), 'export const handler = (;\n');
  // The type check runs first and names the spot; without it, the bundler does.
  await assert.rejects(buildExtension({ dir }), /Type check failed with \d+ errors?.*\n {2}src\/index\.ts:1:\d+ TS\d+/);
  await assert.rejects(buildExtension({ dir, typeCheck: false }), /Bundling failed:\n {2}.*src\/index\.ts:1:\d+/);
});
