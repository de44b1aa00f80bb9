import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeVault } from '@alga-psa/transit/testing';
import { testEngines } from './testing/databases.ts';
import { install, publish, sampleManifest, startTestServer, type TestContext } from './testing/fixtures.ts';
import { encrypterFromEnv } from './transit.ts';

test('ALGA_TRANSIT picks the backend and names what vault mode is missing', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-transit-env-'));
  try {
    const local = await encrypterFromEnv({}, dir);
    assert.match(local.encrypter.keyRef, /^local:/);
    assert.equal('decrypt' in local.encrypter, false, 'the server holds encrypt only');
    await assert.rejects(
      encrypterFromEnv({ ALGA_TRANSIT: 'vault' }, dir),
      /VAULT_ADDR, VAULT_TRANSIT_KEY, VAULT_TOKEN_FILE/,
    );
    await assert.rejects(encrypterFromEnv({ ALGA_TRANSIT: 'kms' }, dir), /"local" or "vault"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const engine of testEngines()) {
  describe(`secrets through Vault transit (${engine.name})`, () => {
    let vault: FakeVault;
    let ctx: TestContext;
    let dir: string;
    let closeTransit: () => Promise<void>;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'alga-transit-'));
      vault = await FakeVault.start({ token: 'server-token', namespace: 'team-a' });
      const tokenFile = path.join(dir, 'token');
      await writeFile(tokenFile, 'server-token\n', { mode: 0o600 });
      const transit = await encrypterFromEnv(
        {
          ALGA_TRANSIT: 'vault',
          VAULT_ADDR: vault.address,
          VAULT_TRANSIT_KEY: 'alga-ext',
          VAULT_TRANSIT_MOUNT: 'transit',
          VAULT_TOKEN_FILE: tokenFile,
          VAULT_NAMESPACE: 'team-a',
        },
        dir,
      );
      closeTransit = transit.close;
      ctx = await startTestServer(await engine.open(), { encrypter: transit.encrypter });
      await publish(ctx, sampleManifest({ name: 'vault-ext' }));
      await install(ctx, 'vault-ext');
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
      await closeTransit();
      await vault.close();
      await rm(dir, { recursive: true, force: true });
    });

    const put = (value: string) =>
      ctx.server.app.inject({
        method: 'PUT',
        url: '/api/v1/installs/vault-ext/secrets/api_token',
        headers: { authorization: ctx.adminA },
        payload: { value },
      });

    test('a secret is encrypted inside Vault (namespace sent) and stored as vault ciphertext', async () => {
      const response = await put('vault-plaintext-1');
      assert.equal(response.statusCode, 200, response.body);
      const { rows } = await ctx.db.query<{ ciphertext: string; key_ref: string }>(
        'SELECT ciphertext, key_ref FROM install_secrets',
      );
      assert.match(rows[0]!.ciphertext, /^vault:v1:/);
      assert.equal(rows[0]!.key_ref, 'vault:transit/alga-ext');
      assert.ok(vault.transitRequests.every((r) => r.namespace === 'team-a'));
    });

    test('Vault answering 403 fails the write with a clear 503 and stores nothing', async () => {
      const before = await ctx.db.query<{ ciphertext: string; version: number }>(
        'SELECT ciphertext, version FROM install_secrets',
      );
      vault.failNext({ kind: 'status', status: 403, errors: ['permission denied'] }, 5);
      try {
        const response = await put('must-not-be-stored');
        assert.equal(response.statusCode, 503);
        const { error } = response.json();
        assert.equal(error.code, 'ALGA_TRANSIT_UNAVAILABLE');
        assert.match(error.message, /nothing was saved.*refused the server/);
        assert.equal(error.details.transitReason, 'denied');
        assert.ok(error.requestId);
        assert.ok(!response.body.includes('server-token'));
      } finally {
        vault.clearFailures();
      }
      const afterRows = await ctx.db.query<{ ciphertext: string; version: number }>(
        'SELECT ciphertext, version FROM install_secrets',
      );
      assert.deepEqual(afterRows.rows, before.rows);
      const audit = await ctx.db.query("SELECT 1 FROM audit_log WHERE action = 'secret.set'");
      assert.equal(audit.rows.length, 1, 'the failed write left no audit row');
    });
  });
}
