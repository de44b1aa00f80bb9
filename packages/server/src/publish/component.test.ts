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

test('an import without its capability is accepted and reported as imported, not requested', async () => {
  // componentize-js imports the whole world: a component that never calls http still imports it.
  const bytes = await componentWithImports([
    'alga:extension/http@0.1.0',
    'alga:extension/storage',
    'alga:extension/secrets',
    'alga:extension/user-v2',
    'alga:extension/scheduler',
  ]);
  const { imports, warnings } = await verifyComponent(bytes, manifest);
  assert.equal(imports.length, 5);
  const notRequested = warnings.filter((w) => /imported, not (requested|provided)/.test(w));
  assert.deepEqual(notRequested, [
    'alga:extension/http: imported, not requested (needs cap:http.fetch; every call answers "not allowed").',
    'alga:extension/scheduler: imported, not provided by this platform (every call answers "not allowed").',
    'alga:extension/storage: imported, not requested (needs cap:storage.kv; every call answers "not allowed").',
    'alga:extension/user-v2: imported, not requested (needs cap:user.read; every call answers "not allowed").',
  ]);
  assert.ok(!warnings.some((w) => w.includes('/secrets:')), 'a requested interface is not listed');
});

test('WASI, foreign packages, incompatible versions and interfaces of neither WIT are refused', () => {
  const problems = importProblems([
    'wasi:cli/environment@0.2.3',
    'alga:extension/invoicing',
    'alga:extension/clients',
    'acme:thing/api',
    'alga:extension/secrets@0.4.0',
    'alga:extension/secrets@1.0.0',
    'alga:extension/teleport',
    'alga:extension/tickets',
    '<named>do-it',
  ]);
  assert.deepEqual(
    problems.map((p) => p.import),
    [
      'wasi:cli/environment@0.2.3',
      'acme:thing/api',
      'alga:extension/secrets@0.4.0',
      'alga:extension/secrets@1.0.0',
      'alga:extension/teleport',
      'alga:extension/tickets',
      'do-it',
    ],
  );
  assert.match(problems[0]!.message, /only the WASI clocks/);
  assert.match(problems[2]!.message, /not compatible/);
  assert.match(problems[4]!.message, /neither this platform's WIT nor the reference host's/);
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
  assert.deepEqual(importProblems(clocks), []);
  assert.deepEqual(
    importProblems(['wasi:clocks/wall-clock@0.3.0', 'wasi:random/random@0.2.3', 'wasi:filesystem/types@0.2.3']).map(
      (p) => p.import,
    ),
    ['wasi:clocks/wall-clock@0.3.0', 'wasi:random/random@0.2.3', 'wasi:filesystem/types@0.2.3'],
  );
  assert.deepEqual(importWarnings(clocks), []);
});

test('a component without the host clock is accepted with a warning that its clock reads its build time', () => {
  const [warning, ...more] = importWarnings(['alga:extension/secrets@0.1.0'], manifest);
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
