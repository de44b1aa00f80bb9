import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { writeNewPrivateFile } from '../lib/private-file.ts';
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

test('a key file is created 0600 and never overwrites an existing file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-key-file-'));
  try {
    const file = path.join(dir, 'acme.key');
    await writeNewPrivateFile(file, 'alga_sk_x\n');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await readFile(file, 'utf8'), 'alga_sk_x\n');
    const existing = path.join(dir, 'existing.key');
    await writeFile(existing, 'keep me');
    await assert.rejects(writeNewPrivateFile(existing, 'new'), /exists already; choose a new file/);
    assert.equal(await readFile(existing, 'utf8'), 'keep me');
    await assert.rejects(writeNewPrivateFile(path.join(dir, 'no/such/dir.key'), 'x'), /Cannot create/);
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
