/**
 * PostgreSQL restarted under load, on a private cluster: while it is down,
 * requests that need the database fail fast with 503 (never hang, never 500),
 * and once it is back the same server process serves again, no restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import path from 'node:path';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { gatewayCall, repo, startSystem, type System } from '../adversarial/lib/system.ts';
import { createPrivatePostgres, findPostgresBin, type PrivatePostgres } from './lib/postgres.ts';

const bin = findPostgresBin();

describe(
  'PostgreSQL restarted mid-load',
  { skip: bin ? false : 'no initdb/pg_ctl under /usr/lib/postgresql/*/bin' },
  () => {
    let pg: PrivatePostgres;
    let sys: System;
    const call = (p: string) =>
      gatewayCall(sys.server.url, sys.tenants[0].apiKey, `looper${p}`, { timeoutMs: 15_000 }).then(
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
      await new Promise((r) => setTimeout(r, 300));
      await pg.stop();
      // The install cache (5 s) may still answer for a moment; after it, every request needs the database.
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
      let recovered = false;
      for (let i = 0; i < 40 && !recovered; i++) {
        recovered = (await call('/ok')).status === 200;
        if (!recovered) await new Promise((r) => setTimeout(r, 250));
      }
      stopLoad = true;
      await load;

      assert.equal(health.status, 503, 'healthz says the database is gone');
      for (const { status, ms } of during) {
        assert.equal(status, 503, `during the outage: ${JSON.stringify(during)}`);
        assert.ok(ms < 6_000, `a request took ${ms} ms to fail`);
      }
      assert.ok(!statuses.includes(0), 'no request hung');
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        `only 200 or 503 under load, got ${[...new Set(statuses)].join(',')}`,
      );
      assert.ok(recovered, 'the server serves again without a restart');
      const again = await Promise.all(Array.from({ length: 5 }, () => call('/ok')));
      assert.deepEqual(
        again.map((r) => r.status),
        [200, 200, 200, 200, 200],
      );
    });
  },
);
