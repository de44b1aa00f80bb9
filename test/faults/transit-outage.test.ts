/**
 * Transit (Vault/OpenBao, here FakeVault) failing under a runner configured by
 * environment (ALGA_TRANSIT=vault, decrypt only): cached secrets keep serving
 * until their TTL and not after; then a refusal (403) is one request, not a
 * retry storm, and reaches the guest as the clear "unavailable"; the runner
 * recovers by itself. A hanging Vault is bounded by VaultTransit's own
 * timeouts (packages/transit/src/vault.test.ts proves the bound).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { FakeVault } from '@alga-psa/transit/testing';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { canaryRun } from '../adversarial/lib/canary.ts';
import { gatewayCall, repo, startSystem, type System } from '../adversarial/lib/system.ts';

const TTL_MS = 3_000;
const TOKEN = `fake-vault-token-${process.pid}`;

describe('transit unavailable: cached material until its TTL, then clear and bounded failures', () => {
  let vault: FakeVault;
  let sys: System;
  let dir: string;
  let tokenFile: string;
  const read = async () => {
    const started = Date.now();
    const answer = await gatewayCall(sys.server.url, sys.tenants[0].apiKey, 'hostile/secret-status', {
      timeoutMs: 30_000,
    });
    return { status: answer.status, body: answer.json(), ms: Date.now() - started };
  };
  const decryptRequests = () => vault.transitRequests.filter((r) => r.path.includes('/decrypt/')).length;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alga-transit-outage-'));
    vault = await FakeVault.start({ token: TOKEN });
    tokenFile = path.join(dir, 'vault-token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const vaultEnv = {
      ALGA_TRANSIT: 'vault',
      VAULT_ADDR: vault.address,
      VAULT_TRANSIT_KEY: 'alga-ext',
      VAULT_TOKEN_FILE: tokenFile,
    };
    sys = await startSystem({
      name: 'transit-outage',
      runnerEnv: { ...vaultEnv, ALGA_TRANSIT_KEY_FILE: '', RUNNER_SECRET_CACHE_TTL_MS: String(TTL_MS) },
      // Room for the Vault client's bounded retries (≈ 3 × 2 s) inside one execution.
      serverEnv: { ...vaultEnv, ALGA_EXECUTION_TIMEOUT_MS: '12000', ALGA_GATEWAY_RATE_LIMIT: '0' },
    });
    await deployExtension(sys.tenants[0].client, path.join(repo, 'test/fixtures/hostile'));
    await sys.tenants[0].client.setSecret('hostile', 'canary', canaryRun().canary);
  });
  after(async () => {
    await sys?.stop();
    await vault?.close().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a runner configured with ALGA_TRANSIT=vault decrypts through Vault', async () => {
    const first = await read();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.length, canaryRun().canary.length);
    assert.ok(decryptRequests() >= 1);
  });

  test('Vault refusing (403): cached values serve until the TTL, then one request and "unavailable"', async () => {
    // A wrong token is what a 403 looks like in production (policy or token revoked); the runner
    // re-reads the token file on change, and sys/health (unauthenticated) stays green.
    await writeFile(tokenFile, 'revoked-token\n', { mode: 0o600 });
    const beforeCount = decryptRequests();
    assert.equal((await read()).status, 200, 'served from the cache');
    assert.equal(decryptRequests(), beforeCount, 'no Vault request within the TTL');
    await new Promise((r) => setTimeout(r, TTL_MS + 500));
    const refused = await read();
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'unavailable');
    assert.equal(decryptRequests() - beforeCount, 1, 'a 403 is not retried');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const back = await read();
    assert.equal(back.status, 200, 'recovers by itself once the token is good again');
  });

  test('Vault down: runners stay in rotation, cached values serve until the TTL, then "unavailable" in bounded time', async () => {
    assert.equal((await read()).status, 200);
    await vault.close();
    // Long enough for the gateway's readiness probe to have looked at the runner.
    await new Promise((r) => setTimeout(r, 2_500));
    const cached = await read();
    assert.equal(cached.status, 200, `cached while Vault is gone: ${JSON.stringify(cached.body)}`);
    await new Promise((r) => setTimeout(r, TTL_MS));
    const down = await read();
    assert.equal(down.status, 503);
    assert.equal(down.body.code, 'unavailable', JSON.stringify(down.body));
    assert.ok(down.ms < 11_000, `took ${down.ms} ms`);
  });

  test('the Vault token never appears in a runner or server log', () => {
    for (const proc of [...sys.runners, sys.server]) assert.ok(!proc.output().includes(TOKEN), proc.name);
  });
});
