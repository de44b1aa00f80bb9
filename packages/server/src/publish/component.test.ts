import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlgaError } from '@alga-psa/protocol';
import { componentWithImports, coreModule } from '../testing/fixtures.ts';
import { componentImports, importProblems, importWarnings, verifyComponent } from './component.ts';

const manifest = { capabilities: ['cap:secrets.get' as const] };

test('imports are read from a real component binary', async () => {
  const bytes = await componentWithImports(['alga:extension/secrets', 'alga:extension/types@0.1.0']);
  assert.deepEqual(await componentImports(bytes), ['alga:extension/secrets', 'alga:extension/types@0.1.0']);
});

test('unversioned and compatible 0.x imports covered by a declared capability pass', async () => {
  const bytes = await componentWithImports([
    'alga:extension/types',
    'alga:extension/secrets@0.1.0',
    'alga:extension/context',
    'alga:extension/logging@0.1.0',
  ]);
  assert.deepEqual((await verifyComponent(bytes, manifest)).imports.length, 4);
});

test('an import without its capability names the interface and the manifest line to add', async () => {
  const bytes = await componentWithImports(['alga:extension/http@0.1.0', 'alga:extension/storage']);
  const error = await verifyComponent(bytes, manifest).then(
    () => assert.fail('accepted'),
    (e: unknown) => e as AlgaError,
  );
  assert.equal(error.code, 'ALGA_IMPORT_NOT_ALLOWED');
  assert.equal(error.status, 422);
  assert.match(error.message, /alga:extension\/http@0\.1\.0.*add "cap:http\.fetch" to "capabilities"/);
  assert.match(error.message, /add "cap:storage\.kv" to "capabilities"/);
  assert.deepEqual(
    (error.details as { fix?: string }[]).map((d) => d.fix),
    ['add "cap:http.fetch" to "capabilities"', 'add "cap:storage.kv" to "capabilities"'],
  );
});

test('WASI, the reference host PSA interfaces, foreign packages and incompatible versions are refused', () => {
  const problems = importProblems(
    [
      'wasi:cli/environment@0.2.3',
      'alga:extension/invoicing',
      'acme:thing/api',
      'alga:extension/secrets@0.2.0',
      'alga:extension/secrets@1.0.0',
      'alga:extension/teleport',
      '<named>do-it',
    ],
    manifest,
  );
  assert.deepEqual(
    problems.map((p) => p.import),
    [
      'wasi:cli/environment@0.2.3',
      'alga:extension/invoicing',
      'acme:thing/api',
      'alga:extension/secrets@0.2.0',
      'alga:extension/secrets@1.0.0',
      'alga:extension/teleport',
      'do-it',
    ],
  );
  assert.match(problems[0]!.message, /only the WASI clocks/);
  assert.match(problems[1]!.message, /PSA-specific/);
  assert.match(problems[3]!.message, /not compatible/);
});

test('the ambient WASI clocks need no capability, but other WASI and other WASI versions are refused', () => {
  const clocks = [
    'wasi:clocks/wall-clock@0.2.3',
    'wasi:clocks/monotonic-clock@0.2.3',
    'wasi:io/poll@0.2.3',
    'wasi:io/error@0.2.3',
    'wasi:io/streams@0.2.3',
    'wasi:cli/stderr@0.2.3',
  ];
  assert.deepEqual(importProblems(clocks, { capabilities: [] }), []);
  assert.deepEqual(
    importProblems(['wasi:clocks/wall-clock@0.3.0', 'wasi:random/random@0.2.3', 'wasi:filesystem/types@0.2.3'], {
      capabilities: [],
    }).map((p) => p.import),
    ['wasi:clocks/wall-clock@0.3.0', 'wasi:random/random@0.2.3', 'wasi:filesystem/types@0.2.3'],
  );
  assert.deepEqual(importWarnings(clocks), []);
});

test('a component without the host clock is accepted with a warning that its clock reads its build time', () => {
  const [warning, ...more] = importWarnings(['alga:extension/secrets@0.1.0']);
  assert.match(warning!, /the instant it was built/);
  assert.match(warning!, /alga build/);
  assert.deepEqual(more, []);
});

test('a core module or garbage is ALGA_INVALID_COMPONENT, not a crash', async () => {
  for (const bytes of [coreModule(), Buffer.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0, 9, 9, 9])]) {
    await assert.rejects(
      componentImports(bytes),
      (e: unknown) => e instanceof AlgaError && e.code === 'ALGA_INVALID_COMPONENT',
    );
  }
});
