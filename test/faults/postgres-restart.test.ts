/**
 * PostgreSQL restarted under load, on a private cluster: while it is down,
 * requests that need the database fail fast with 503 (never hang, never 500),
 * and once it is back the same server process serves again, no restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import path from 'node:path';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { gatewayCall, repo, startSystem, until, type System } from '../adversarial/lib/system.ts';

/**
 * A request still unanswered after this long counts as hung (status 0). The gateway ends every call
 * within the execution deadline plus 5 s (15 s here), so only a hang reaches it, on any machine.
 */
const HANG_MS = 60_000;
/**
 * "Fast": well inside what a hang would take, whatever the load. A request that needs the stopped
 * database fails on the refused connection at once; the pool's own connect timeout is 5 s.
 */
const FAIL_FAST_MS = 30_000;
import { createPrivatePostgres, findPostgresBin, type PrivatePostgres } from './lib/postgres.ts';

const bin = findPostgresBin();

describe(
  'PostgreSQL restarted mid-load',
  { skip: bin ? false : 'no initdb/pg_ctl under /usr/lib/postgresql/*/bin' },
  () => {
    let pg: PrivatePostgres;
    let sys: System;
    const call = (p: string) =>
      gatewayCall(sys.server.url, sys.tenants[0].apiKey, `looper${p}`, { timeoutMs: HANG_MS }).then(
        (r) => r,
        () => ({ status: 0, text: 'hung or refused' }),
      );

    before(async () => {
      pg = await createPrivatePostgres(bin!);
      sys = await startSystem({ name: 'pg-restart', databaseUrl: pg.url });
      await deployExtension(sys.tenants[0].client, path.join(repo, 'test/fixtures/looper'));
      assert.equal((await call('/ok')).status, 200);
    });
    after(async () => {
      await sys?.stop();
      await pg?.destroy();
    });

    test('during the outage requests fail fast with 503; afterwards the same server serves again', async () => {
      // Load running while the database goes away.
      let stopLoad = false;
      const statuses: number[] = [];
      // Paced under the per-install rate limit (50/s): with the API key and install
      // cached, an unpaced loop would also meet 429s, which say nothing about the database.
      const load = (async () => {
        while (!stopLoad) {
          statuses.push((await call('/ok')).status);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      // The load is under way (some requests answered) when the database goes.
      await until(() => statuses.length >= 3);
      await pg.stop();
      // The install cache (5 s) may still answer for a moment; after it, every request needs the database.
      // (A wait for a lower bound: whenever an entry was cached, it was before the stop.)
      await new Promise((r) => setTimeout(r, 6_000));
      const during: Array<{ status: number; ms: number }> = [];
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const { status } = await call('/ok');
        during.push({ status, ms: Date.now() - started });
      }
      const health = await fetch(`${sys.server.url}/healthz`);
      await pg.start();
      // The pool reconnects on demand: the first requests after the restart may still see a dead connection.
      // Served again sooner or later, however long the restart takes on this machine (never is the test's timeout).
      await until(async () => (await call('/ok')).status === 200);
      stopLoad = true;
      await load;

      assert.equal(health.status, 503, 'healthz says the database is gone');
      for (const { status, ms } of during) {
        assert.equal(status, 503, `during the outage: ${JSON.stringify(during)}`);
        assert.ok(ms < FAIL_FAST_MS, `a request took ${ms} ms to fail`);
      }
      assert.ok(!statuses.includes(0), 'no request hung');
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        `only 200 or 503 under load, got ${[...new Set(statuses)].join(',')}`,
      );
      const again = await Promise.all(Array.from({ length: 5 }, () => call('/ok')));
      assert.deepEqual(
        again.map((r) => r.status),
        [200, 200, 200, 200, 200],
      );
    });
  },
);
