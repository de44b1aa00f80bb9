/**
 * A tenant's API keys over their life, in-process: admins issue admin and
 * viewer keys (answered once), list them without secrets and revoke them; a
 * revoked key is refused at once; the last active admin key cannot be
 * revoked; viewers and other tenants cannot touch them; the operator can
 * issue a key to a tenant that lost its own. Every change is audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ApiKeyCreated, ApiKeyInfo, ApiKeyList, ErrorBody } from '@alga-psa/protocol';
import { operatorCredential } from '../policy/operator.ts';
import { testEngines } from '../testing/databases.ts';
import { closeAll, startTestServer, type TestContext } from '../testing/fixtures.ts';
import { createTenantWithKey } from './api-keys.ts';

const OPERATOR_KEY = 'operator-key-for-tests-0123456789abcdef';

for (const engine of testEngines()) {
  describe(`API keys (${engine.name})`, () => {
    let ctx: TestContext;
    // Tenant names are unique: keep reruns on one PostgreSQL apart.
    const suffix = Math.random().toString(36).slice(2, 8);
    let tenants = 0;
    const call = (method: 'GET' | 'POST' | 'DELETE', url: string, key: string, payload?: unknown) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { authorization: key.startsWith('Bearer ') ? key : `Bearer ${key}`, 'x-request-id': `req-${suffix}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
    const issue = async (key: string, name: string, role: 'admin' | 'viewer') => {
      const response = await call('POST', '/api/v1/api-keys', key, { name, role });
      assert.equal(response.statusCode, 201, response.body);
      return response.json<ApiKeyCreated>();
    };
    /** A tenant of its own per test, with one admin key. */
    const freshTenant = async () => createTenantWithKey(ctx.db, { name: `keys-${suffix}-${++tenants}` });
    const errorOf = (response: { json: () => unknown }) => (response.json() as ErrorBody).error;

    before(async () => {
      ctx = await startTestServer(await engine.open(), { operatorCredential: operatorCredential(OPERATOR_KEY) });
    });
    after(() => closeAll(ctx));

    test('an admin issues a viewer key that reads but cannot write, and lists keys without any secret', async () => {
      const { tenantId, apiKey, keyId } = await freshTenant();
      const created = await issue(apiKey, 'ci reader', 'viewer');
      assert.match(created.apiKey, new RegExp(`^alga_sk_${created.key.id}_`));
      assert.deepEqual([created.key.name, created.key.role, created.key.revokedAt], ['ci reader', 'viewer', null]);
      assert.equal((await call('GET', '/api/v1/installs', created.apiKey)).statusCode, 200);
      assert.equal(
        (await call('POST', '/api/v1/api-keys', created.apiKey, { name: 'x', role: 'admin' })).statusCode,
        403,
      );
      assert.equal((await call('GET', '/api/v1/api-keys', created.apiKey)).statusCode, 403, 'viewers do not list keys');

      const list = (await call('GET', '/api/v1/api-keys', apiKey)).json<ApiKeyList>();
      assert.deepEqual(list.keys.map((k) => k.id).sort(), [keyId, created.key.id].sort());
      assert.ok(!JSON.stringify(list).includes(created.apiKey.split('_').at(-1)!), 'no secret in the list');
      const { rows } = await ctx.db.query<{ action: string; key_names: string[] }>(
        'SELECT action, key_names FROM audit_log WHERE tenant_id = $1',
        [tenantId],
      );
      assert.deepEqual(rows, [{ action: 'api_key.create', key_names: [created.key.id, 'viewer'] }]);
    });

    test('a revoked key is refused at once; revoking again changes nothing; the last admin key stays', async () => {
      const { tenantId, apiKey, keyId } = await freshTenant();
      const last = await call('DELETE', `/api/v1/api-keys/${keyId}`, apiKey);
      assert.equal(last.statusCode, 409, last.body);
      assert.equal(errorOf(last).code, 'ALGA_CONFLICT');
      assert.match(errorOf(last).message, /last active admin key; create another admin key first/);

      const second = await issue(apiKey, 'rotation', 'admin');
      // Rotation: the old key revokes itself once the new one exists.
      const revoked = await call('DELETE', `/api/v1/api-keys/${keyId}`, apiKey);
      assert.equal(revoked.statusCode, 200, revoked.body);
      assert.ok(revoked.json<ApiKeyInfo>().revokedAt);
      const refused = await call('GET', '/api/v1/installs', apiKey);
      assert.equal(refused.statusCode, 401, 'the revoked key stops working at once');
      assert.equal((await call('GET', '/api/v1/installs', second.apiKey)).statusCode, 200);
      const again = await call('DELETE', `/api/v1/api-keys/${keyId}`, second.apiKey);
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<ApiKeyInfo>().revokedAt, revoked.json<ApiKeyInfo>().revokedAt);
      const { rows } = await ctx.db.query<{ action: string }>(
        "SELECT action FROM audit_log WHERE tenant_id = $1 AND action = 'api_key.revoke'",
        [tenantId],
      );
      assert.equal(rows.length, 1, 'one audit row for one revocation');
    });

    test("another tenant's key id is a 404, and bad input is a 400", async () => {
      const mine = await freshTenant();
      const theirs = await freshTenant();
      const response = await call('DELETE', `/api/v1/api-keys/${theirs.keyId}`, mine.apiKey);
      assert.equal(response.statusCode, 404);
      assert.equal((await call('GET', '/api/v1/installs', theirs.apiKey)).statusCode, 200, 'their key still works');
      for (const body of [
        { name: '', role: 'admin' },
        { name: 'x', role: 'owner' },
        { name: 'x' },
        { name: 'a\nb', role: 'viewer' },
      ]) {
        assert.equal((await call('POST', '/api/v1/api-keys', mine.apiKey, body)).statusCode, 400, JSON.stringify(body));
      }
    });

    test('the operator issues an admin key to a tenant that lost its own; tenant keys cannot', async () => {
      const { tenantId, apiKey } = await freshTenant();
      const url = `/api/v1/operator/tenants/${tenantId}/api-keys`;
      assert.equal((await call('POST', url, apiKey, { name: 'recovery', role: 'admin' })).statusCode, 403);
      const response = await call('POST', url, OPERATOR_KEY, { name: 'recovery', role: 'admin' });
      assert.equal(response.statusCode, 201, response.body);
      const created = response.json<ApiKeyCreated>();
      assert.equal((await call('GET', '/api/v1/api-keys', created.apiKey)).statusCode, 200);
      const { rows } = await ctx.db.query<{ actor: string }>(
        "SELECT actor FROM audit_log WHERE tenant_id = $1 AND action = 'api_key.create'",
        [tenantId],
      );
      assert.deepEqual(rows, [{ actor: operatorCredential(OPERATOR_KEY).actor }]);
    });
  });
}
