import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from './index.ts';
import { migrate } from './migrate.ts';
import { testEngines } from '../testing/databases.ts';

for (const engine of testEngines()) {
  describe(`migrations (${engine.name})`, () => {
    let db: Db;
    before(async () => {
      db = await engine.open();
    });
    after(() => db.close());

    test('apply once, then a second run applies nothing', async () => {
      const first = await migrate(db);
      assert.ok(first.includes('001_initial.sql'));
      assert.deepEqual(await migrate(db), []);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM alga_migrations');
      assert.equal(rows[0]?.n, first.length);
    });

    test('two concurrent runs apply each file exactly once', async () => {
      const results = await Promise.all([migrate(db), migrate(db)]);
      assert.deepEqual(results, [[], []]);
    });

    test('published versions and audit rows cannot be changed', async () => {
      const { rows } = await db.query<{ id: string }>(
        "INSERT INTO tenants (name) VALUES ('immutable-check') RETURNING id",
      );
      await db.query("INSERT INTO audit_log (actor, tenant_id, action) VALUES ('test', $1, 'check')", [rows[0]!.id]);
      await assert.rejects(db.query("UPDATE audit_log SET action = 'changed'"), /immutable/);
      await assert.rejects(db.query('DELETE FROM audit_log'), /immutable/);
    });

    test('a failing transaction rolls back', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("INSERT INTO tenants (name) VALUES ('rolled-back')");
          throw new Error('boom');
        }),
        /boom/,
      );
      const { rows } = await db.query("SELECT 1 FROM tenants WHERE name = 'rolled-back'");
      assert.equal(rows.length, 0);
    });
  });
}
