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
import { gatewayCall, repo, startSystem, until, type System } from '../adversarial/lib/system.ts';

/**
 * The runner's secret cache TTL. A read that must be served from the cache
 * comes within a few requests (and at most two readiness probes, ~4 s) of the
 * value being cached, so the TTL leaves room for any machine's slowness; a
 * read that must find the value expired comes after waiting the whole TTL.
 */
const TTL_MS = 15_000;
/** The gateway's execution deadline in this file: room for the Vault client's bounded retries (≈ 3 × 2 s). */
const EXECUTION_TIMEOUT_MS = 12_000;
const TOKEN = `fake-vault-token-${process.pid}`;

describe('transit unavailable: cached material until its TTL, then clear and bounded failures', () => {
  let vault: FakeVault;
  let sys: System;
  let dir: string;
  let tokenFile: string;
  const read = async () => {
    const started = Date.now();
    const answer = await gatewayCall(sys.server.url, sys.tenants[0].apiKey, 'hostile/secret-status');
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
      runnerEnv: {
        ...vaultEnv,
        ALGA_TRANSIT_KEY_FILE: '',
        RUNNER_SECRET_CACHE_TTL_MS: String(TTL_MS),
        // Readiness probes are logged at debug; the Vault-down test waits for them in this log.
        LOG_LEVEL: 'debug',
      },
      serverEnv: {
        ...vaultEnv,
        ALGA_EXECUTION_TIMEOUT_MS: String(EXECUTION_TIMEOUT_MS),
        ALGA_GATEWAY_RATE_LIMIT: '0',
      },
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
    // Whenever the value was cached, it has expired once a whole TTL has passed from now.
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
    // Cached by the last read of the previous test (the value had expired before it).
    assert.equal((await read()).status, 200);
    const runner = sys.runners[0]!;
    const probes = () =>
      runner
        .output()
        .split('\n')
        .filter((line) => line.includes('"url":"/readyz"')).length;
    await vault.close();
    // The gateway's readiness probe has looked at the runner with Vault gone, and acted on the answer:
    // the first probe to arrive from now on sees Vault down, and the gateway sends the next one only
    // after it has handled that one's answer, so wait for the second.
    const probesBefore = probes();
    await until(() => probes() >= probesBefore + 2);
    const cached = await read();
    assert.equal(cached.status, 200, `cached while Vault is gone: ${JSON.stringify(cached.body)}`);
    await new Promise((r) => setTimeout(r, TTL_MS));
    const down = await read();
    // The guest's own answer, not the gateway's 504: the Vault client gave up inside the execution deadline.
    assert.equal(down.status, 503);
    assert.equal(down.body.code, 'unavailable', JSON.stringify(down.body));
    assert.ok(down.ms < EXECUTION_TIMEOUT_MS, `took ${down.ms} ms`);
  });

  test('the Vault token never appears in a runner or server log', () => {
    for (const proc of [...sys.runners, sys.server]) assert.ok(!proc.output().includes(TOKEN), proc.name);
  });
});
