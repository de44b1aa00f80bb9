/**
 * Limits, isolation between installs, secret rotation and redaction, with a
 * REAL component under concurrent load. The install's secret is the shared
 * CANARY; the last test proves no log line or response held it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExecuteRequest } from '@alga-psa/protocol';
import {
  bodyOf,
  CANARY,
  canaryForms,
  envelopeFor,
  executeRequest,
  fixtureHarness,
  type Harness,
} from '../testing/harness.ts';
import { until } from '../testing/wait.ts';

/** A request of another install (B), so it never shares a cache entry or token with install A. */
function forInstallB(request: ExecuteRequest, id: string): ExecuteRequest {
  return {
    ...request,
    context: { ...request.context, tenant_id: 'tenant-b', install_id: 'install-b', request_id: id },
  };
}

for (const mode of ['reset', 'fresh'] as const) {
  describe(`isolation, limits, rotation and redaction (${mode} instances)`, () => {
    let h: Harness;
    let hash: string;

    before(async () => {
      ({ h, hash } = await fixtureHarness({
        workers: 3,
        queueLimit: 256,
        secretCacheTtlMs: 300,
        instanceMode: mode,
      }));
      await h.execute(executeRequest(hash)); // compile once, outside the timed tests
    });
    after(async () => {
      await h?.close();
    });

    it('stops a guest that allocates past limits.memory_mb with 502 ALGA_MEMORY_LIMIT while another install keeps being served', async () => {
      const hog = h.execute(executeRequest(hash, { path: '/alloc', limits: { memory_mb: 64 } }));
      const others = Array.from({ length: 6 }, (_, i) => h.execute(forInstallB(executeRequest(hash), `b-${i}`)));
      const res = await hog;
      assert.equal(res.statusCode, 502);
      assert.equal(res.json().error.code, 'ALGA_MEMORY_LIMIT');
      for (const other of await Promise.all(others)) assert.equal(other.statusCode, 200, other.body);
      // The worker that hit the cap was replaced; the runner still serves.
      assert.equal((await h.execute(executeRequest(hash))).statusCode, 200);
      const metrics = (await h.runner.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /alga_runner_limit_kills_total\{kind="memory"\} [1-9]/);
      assert.match(metrics, /alga_runner_worker_restarts_total\{reason="memory"\} [1-9]/);
    });

    it('refuses a memory limit below what the component needs to start, saying so', async () => {
      const res = await h.execute(executeRequest(hash, { limits: { memory_mb: 2 } }));
      assert.equal(res.statusCode, 502);
      assert.equal(res.json().error.code, 'ALGA_MEMORY_LIMIT');
      assert.match(res.json().error.message, /limits\.memory_mb/);
    });

    it("keeps serving install B while install A's guests loop and allocate", async (t) => {
      // A's loop holds its worker until the test moves the clock past its deadline: after B was served.
      t.mock.timers.enable({ apis: ['setTimeout'] });
      let loopEnded = false;
      const a = [
        h
          .execute(
            executeRequest(hash, {
              path: '/log-then-loop',
              providers: ['cap:log.emit'],
              limits: { timeout_ms: 1_500 },
              context: { ...executeRequest(hash).context, request_id: 'iso-loop' },
            }),
          )
          .finally(() => (loopEnded = true)),
        h.execute(executeRequest(hash, { path: '/alloc', limits: { memory_mb: 48 } })),
      ];
      await until(() => h.logs.some((line) => line.request_id === 'iso-loop' && line.msg === 'step-3'));
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await h.execute(forInstallB(executeRequest(hash), `iso-${i}`));
        statuses.push(res.statusCode);
      }
      assert.deepEqual(statuses, Array(10).fill(200));
      assert.equal(loopEnded, false, "B was served while A's guest was still looping");
      t.mock.timers.tick(1_500);
      const [loop, alloc] = await Promise.all(a);
      assert.equal(loop!.statusCode, 504);
      assert.equal(alloc!.statusCode, 502);
      assert.equal(alloc!.json().error.code, 'ALGA_MEMORY_LIMIT');
    });

    it('gives each of 100 concurrent requests one secret version from start to end across a rotation, and the new value right after it', async () => {
      const rotated = `${CANARY}-rotated`;
      const v1 = await envelopeFor(h.keyring, { token: CANARY }, { version: 'rot-1' });
      const send = (envelope: typeof v1, i: number) =>
        h.execute(
          executeRequest(hash, {
            path: '/secret-twice',
            query: 'key=token',
            providers: ['cap:secrets.get', 'cap:log.emit'],
            secret_envelope: envelope,
            context: { ...executeRequest(hash).context, request_id: `rot-${i}` },
          }),
        );
      const before = Array.from({ length: 50 }, (_, i) => send(v1, i));
      // Rotation: the server re-encrypts under a new envelope version while those run.
      const v2 = await envelopeFor(h.keyring, { token: rotated }, { version: 'rot-2' });
      const afterRotation = Array.from({ length: 50 }, (_, i) => send(v2, 50 + i));
      const results = await Promise.all([...before, ...afterRotation]);
      results.forEach((res, i) => {
        assert.equal(res.statusCode, 200, res.body);
        const { first, second } = bodyOf(res.json()) as { first: string; second: string };
        assert.equal(first, second, `request ${i} saw two versions`);
        assert.equal(first, i < 50 ? CANARY : rotated, `request ${i} saw the wrong version`);
      });
      // The guest returned the value on purpose; keep it out of the canary check of runner output.
      h.responses.splice(h.responses.length - results.length, results.length);
    });

    it('answers a guest failure that embeds a secret with a generic 502, logged without the value', async () => {
      const res = await h.execute(
        executeRequest(hash, {
          path: '/throw-secret',
          query: 'key=token',
          providers: ['cap:secrets.get'],
          secret_envelope: await envelopeFor(h.keyring, { token: CANARY }, { version: 'throw-1' }),
          context: { ...executeRequest(hash).context, request_id: 'req-throw-secret' },
        }),
      );
      assert.equal(res.statusCode, 502);
      assert.equal(res.json().error.code, 'ALGA_EXECUTION_FAILED');
      const line = h.logs.find((entry) => entry.request_id === 'req-throw-secret' && entry.detail);
      assert.ok(line, 'the failure was logged');
      // The ui-proxy route name is guest-controlled text the runner logs itself.
      const proxied = await h.execute(
        executeRequest(hash, {
          path: '/ui-proxy',
          query: `key=token&route=${encodeURIComponent(CANARY)}`,
          providers: ['cap:secrets.get', 'cap:ui.proxy'],
          secret_envelope: await envelopeFor(h.keyring, { token: CANARY }, { version: 'throw-1' }),
          context: { ...executeRequest(hash).context, request_id: 'req-route-secret' },
        }),
      );
      assert.equal(proxied.statusCode, 200);
      const warning = h.logs.find((entry) => entry.request_id === 'req-route-secret' && entry.provider === 'ui-proxy');
      assert.equal(warning?.route, '[REDACTED]');
    });

    it('masks the secret in every encoding the guest logs it in', async () => {
      const res = await h.execute(
        executeRequest(hash, {
          path: '/log-secret',
          query: 'key=token',
          providers: ['cap:secrets.get', 'cap:log.emit'],
          secret_envelope: await envelopeFor(h.keyring, { token: CANARY }, { version: 'log-1' }),
        }),
      );
      assert.equal(res.statusCode, 200);
    });

    it('wrote the canary secret in no log line, error, metric or response (plain, base64, hex, URL-encoded)', async () => {
      const metrics = (await h.runner.app.inject({ method: 'GET', url: '/metrics' })).body;
      for (const form of canaryForms()) assert.ok(!metrics.includes(form), 'a metric holds the canary');
      assert.ok(h.logs.length > 100, 'the harness captured the runner output');
      h.assertNoCanary();
    });
  });
}
