import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { PolicyCatalog } from '@alga-psa/protocol';
import { operatorKey } from '../lib/operator.ts';
import { policyAuditLine, policyLines } from './policy.ts';

const entry = (capability: string, more: Partial<PolicyCatalog['capabilities'][number]> = {}) => ({
  capability,
  consent: '',
  configurable: true,
  enabled: true,
  tenants: [],
  ...more,
});

test('the list shows each capability globally with the tenants that differ, and the defaults as always on', () => {
  const lines = policyLines({
    tenant: null,
    capabilities: [
      entry('cap:log.emit', { configurable: false }),
      entry('cap:http.fetch', { enabled: false, tenants: [{ tenantId: 't1', tenantName: 'acme', enabled: true }] }),
    ],
  });
  assert.deepEqual(lines, [
    'cap:log.emit    always (every install)',
    'cap:http.fetch  disabled globally; enabled for acme',
  ]);
});

test('with --tenant the list says what the tenant gets and which setting decided it', () => {
  const lines = policyLines({
    tenant: { id: 't1', name: 'acme' },
    capabilities: [
      entry('cap:http.fetch', {
        enabled: true,
        effective: false,
        tenants: [{ tenantId: 't1', tenantName: 'acme', enabled: false }],
      }),
      entry('cap:storage.kv', { enabled: false, effective: false }),
    ],
  });
  assert.deepEqual(lines, [
    'tenant acme (t1):',
    'cap:http.fetch  disabled (tenant setting)',
    'cap:storage.kv  disabled (global setting)',
  ]);
});

test('a history line names when, who, what and where', () => {
  const line = policyAuditLine({
    id: '7',
    at: '2026-12-06T20:31:02.123Z',
    actor: 'operator:1a2b3c4d',
    action: 'policy.disable',
    keyNames: ['cap:http.fetch'],
    version: null,
    requestId: 'r-1',
    tenantId: null,
  });
  assert.equal(line, '2026-12-06T20:31:02Z  operator:1a2b3c4d  policy.disable cap:http.fetch  global  request r-1');
});

test('the operator key comes from ALGA_OPERATOR_KEY or a 0600 file; a readable file or none is a clear error', async () => {
  assert.equal(await operatorKey({ ALGA_OPERATOR_KEY: 'k'.repeat(40) }), 'k'.repeat(40));
  await assert.rejects(operatorKey({}), /set ALGA_OPERATOR_KEY/);
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-policy-'));
  try {
    const file = path.join(dir, 'operator-key');
    await writeFile(file, 'from-file-key\n', { mode: 0o600 });
    assert.equal(await operatorKey({ ALGA_OPERATOR_KEY_FILE: file }), 'from-file-key');
    await chmod(file, 0o644);
    await assert.rejects(operatorKey({ ALGA_OPERATOR_KEY_FILE: file }), /readable by other users/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
