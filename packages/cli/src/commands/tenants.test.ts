import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { intoPrivateFile } from '../lib/private-file.ts';
import { apiKeyLine } from './api-keys.ts';
import { tenantLine } from './tenants.ts';
import { userLine } from './users.ts';

test('a tenant line names the tenant, its id and when it was created, aligned on the longest name', () => {
  const tenant = { id: '3f2504e0-4f89-41d3-9a0c-0305e82c3301', name: 'acme', createdAt: '2026-12-07T06:00:00.123Z' };
  assert.equal(tenantLine(tenant, 6), 'acme    3f2504e0-4f89-41d3-9a0c-0305e82c3301  created 2026-12-07T06:00:00Z');
});

test('a user line shows the role, the name, and the client of a client-portal user', () => {
  const base = { id: 'u1', name: 'Ops Person', createdAt: '2026-12-07T06:00:00.000Z' };
  assert.equal(
    userLine({ ...base, email: 'ops@acme.test', role: 'admin', clientId: null }, 16),
    'ops@acme.test     admin   Ops Person',
  );
  assert.equal(
    userLine({ ...base, email: 'c@acme.test', role: 'client', name: '', clientId: 'acme-co' }, 11),
    'c@acme.test  client    (client acme-co)',
  );
});

test('a key file is reserved 0600 before the key is made, never overwrites a file, and goes if making the key fails', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-key-file-'));
  try {
    const file = path.join(dir, 'acme.key');
    let made = 0;
    const make = async () => {
      made += 1;
      // Reserved before the server is asked: the file is there, empty and private, already.
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      return { apiKey: 'alga_sk_x' };
    };
    await intoPrivateFile(file, make, (key) => `${key.apiKey}\n`);
    assert.equal(await readFile(file, 'utf8'), 'alga_sk_x\n');

    const existing = path.join(dir, 'existing.key');
    await writeFile(existing, 'keep me');
    await assert.rejects(
      intoPrivateFile(existing, make, () => 'new'),
      /exists already; choose a new file/,
    );
    assert.equal(await readFile(existing, 'utf8'), 'keep me');
    await assert.rejects(
      intoPrivateFile(path.join(dir, 'no/such/dir.key'), make, () => 'x'),
      /Cannot create/,
    );
    assert.equal(made, 1, 'a bad path fails before any key is made');

    const failed = path.join(dir, 'failed.key');
    await assert.rejects(
      intoPrivateFile(
        failed,
        () => Promise.reject(new Error('server said no')),
        () => 'x',
      ),
      /server said no/,
    );
    await assert.rejects(stat(failed), { code: 'ENOENT' }, 'the reserved file is removed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an API key line shows id, role, name and when it was created and last used, or that it is revoked', () => {
  const key = { id: '1a2b3c4d5e6f7a8b', name: 'ci', role: 'viewer' as const, createdAt: '2026-12-07T06:00:00.000Z' };
  assert.equal(
    apiKeyLine({ ...key, lastUsedAt: '2026-12-07T07:00:00.000Z', revokedAt: null }, 4),
    '1a2b3c4d5e6f7a8b  viewer  ci    created 2026-12-07T06:00:00Z  last used 2026-12-07T07:00:00Z',
  );
  assert.equal(
    apiKeyLine({ ...key, lastUsedAt: null, revokedAt: '2026-12-07T08:00:00.000Z' }, 2),
    '1a2b3c4d5e6f7a8b  viewer  ci  REVOKED 2026-12-07T08:00:00Z',
  );
});
