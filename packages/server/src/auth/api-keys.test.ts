import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Db, Queryable } from '../db/index.ts';
import { migrate } from '../db/migrate.ts';
import { testEngines } from '../testing/databases.ts';
import { authenticateApiKey, createTenantWithKey } from './api-keys.ts';

for (const engine of testEngines()) {
  describe(`API key authentication (${engine.name})`, () => {
    let db: Db;
    before(async () => {
      db = await engine.open();
      await migrate(db);
    });
    after(() => db.close());

    /** The same handle, counting the queries that reach the database. */
    function counting(inner: Db): Queryable & { queries: number } {
      const wrapper = {
        queries: 0,
        query: (sql: string, params?: unknown[]) => {
          wrapper.queries++;
          return inner.query(sql, params);
        },
        exec: (sql: string) => inner.exec(sql),
      };
      return wrapper as Queryable & { queries: number };
    }

    it('looks a busy key up once, then answers from memory; a wrong secret is refused either way', async () => {
      const { tenantId, keyId, apiKey } = await createTenantWithKey(db, { name: 'cache' });
      const handle = counting(db);
      const header = `Bearer ${apiKey}`;
      assert.deepEqual(await authenticateApiKey(handle, header), {
        tenantId,
        role: 'admin',
        keyId,
        actor: `api_key:${keyId}`,
      });
      const afterFirst = handle.queries;
      assert.ok(afterFirst >= 1);
      for (let i = 0; i < 20; i++) assert.equal((await authenticateApiKey(handle, header)).tenantId, tenantId);
      assert.equal(handle.queries, afterFirst, 'no query while the lookup is fresh');
      const wrong = `Bearer ${apiKey.slice(0, -4)}AAAA`;
      await assert.rejects(authenticateApiKey(handle, wrong), { code: 'ALGA_UNAUTHENTICATED' });
    });

    it('no key at all asks for one; a key that is cut short, unknown or revoked is told it is not valid', async () => {
      const { keyId, apiKey } = await createTenantWithKey(db, { name: 'told-apart' });
      const missing = /^Send an API key as "Authorization: Bearer alga_sk_…"\.$/;
      for (const header of [undefined, '', 'Bearer', 'Basic abc']) {
        await assert.rejects(authenticateApiKey(db, header), { code: 'ALGA_UNAUTHENTICATED', message: missing });
      }
      // The same words for an unknown id and a wrong secret: which part is wrong is not said.
      const notValid = { code: 'ALGA_UNAUTHENTICATED', message: 'The API key is not valid.' };
      await assert.rejects(authenticateApiKey(db, `Bearer alga_sk_${'0'.repeat(16)}_${'a'.repeat(43)}`), notValid);
      await assert.rejects(authenticateApiKey(db, `Bearer ${apiKey.slice(0, -4)}AAAA`), notValid);
      // A key cut short when copied, or some other token, was sent: it is not valid (not "send one").
      await assert.rejects(authenticateApiKey(db, `Bearer ${apiKey.slice(0, -5)}`), notValid);
      await assert.rejects(authenticateApiKey(db, 'Bearer nope'), notValid);
      await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [keyId]);
      await assert.rejects(authenticateApiKey(db, `Bearer ${apiKey}`), notValid);
    });

    it('never remembers a key that failed: revoked or unknown keys are refused every time', async () => {
      const { keyId, apiKey } = await createTenantWithKey(db, { name: 'revoked' });
      await db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [keyId]);
      const handle = counting(db);
      for (let i = 0; i < 3; i++) {
        await assert.rejects(authenticateApiKey(handle, `Bearer ${apiKey}`), { code: 'ALGA_UNAUTHENTICATED' });
      }
      assert.equal(handle.queries, 3, 'each attempt asked the database');
    });
  });
}
