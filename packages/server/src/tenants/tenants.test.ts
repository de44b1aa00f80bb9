/**
 * The operator's tenants and users, in-process: only the operator key reaches
 * them; a new tenant's admin key works at once on the tenant API; a new user
 * signs in to the web UI with the password answered once; every change is
 * audited; bad input is refused with a code and a message saying what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CSRF_HEADER,
  type ErrorBody,
  type TenantCreated,
  type TenantList,
  type UserCreated,
  type UserList,
} from '@alga-psa/protocol';
import { operatorCredential } from '../policy/operator.ts';
import { testEngines } from '../testing/databases.ts';
import { closeAll, startTestServer, type TestContext } from '../testing/fixtures.ts';

const OPERATOR_KEY = 'operator-key-for-tests-0123456789abcdef';
const OPERATOR = `Bearer ${OPERATOR_KEY}`;

for (const engine of testEngines()) {
  describe(`operator tenants and users (${engine.name})`, () => {
    let ctx: TestContext;
    // Tenant names and emails are unique: keep reruns on one PostgreSQL apart.
    const suffix = Math.random().toString(36).slice(2, 8);
    const call = (method: 'GET' | 'POST', url: string, auth: string | undefined, payload?: unknown) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { ...(auth ? { authorization: auth } : {}), 'x-request-id': `req-${suffix}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
    const createTenant = (name: string, auth = OPERATOR) => call('POST', '/api/v1/operator/tenants', auth, { name });
    const addUser = (tenant: string, body: Record<string, unknown>) =>
      call('POST', `/api/v1/operator/tenants/${encodeURIComponent(tenant)}/users`, OPERATOR, body);
    const errorOf = (response: { json: () => unknown }) => (response.json() as ErrorBody).error;

    /** Signs in as a browser does (CSRF token first); the status of the sign-in. */
    const signIn = async (email: string, password: string): Promise<number> => {
      const first = await ctx.server.app.inject({
        method: 'GET',
        url: '/ui/api/session',
        headers: { host: 'localhost' },
      });
      const cookie = first.cookies.map((c) => `${c.name}=${c.value}`).join('; ');
      const response = await ctx.server.app.inject({
        method: 'POST',
        url: '/ui/api/session',
        headers: {
          host: 'localhost',
          cookie,
          origin: 'http://localhost',
          'x-csrf-token': first.json<{ csrfToken: string }>().csrfToken,
          [CSRF_HEADER]: '1',
          'content-type': 'application/json',
        },
        payload: JSON.stringify({ email, password }),
      });
      return response.statusCode;
    };

    before(async () => {
      ctx = await startTestServer(await engine.open(), { operatorCredential: operatorCredential(OPERATOR_KEY) });
    });
    after(() => closeAll(ctx));

    test('tenant keys cannot create tenants or users (403); no or a wrong key is a 401', async () => {
      for (const auth of [ctx.adminA, ctx.viewerA]) {
        const response = await createTenant(`denied-${suffix}`, auth);
        assert.equal(response.statusCode, 403, response.body);
        assert.match(errorOf(response).message, /belong to the platform operator/);
        assert.equal((await call('GET', `/api/v1/operator/tenants/${ctx.tenantA}/users`, auth)).statusCode, 403);
      }
      for (const auth of [undefined, 'Bearer not-the-operator-key-0123456789abcdef']) {
        const response = await call('POST', '/api/v1/operator/tenants', auth, { name: `denied-${suffix}` });
        assert.equal(response.statusCode, 401, String(auth));
      }
      const names = (await call('GET', '/api/v1/operator/tenants', OPERATOR))
        .json<TenantList>()
        .tenants.map((t) => t.name);
      assert.ok(!names.includes(`denied-${suffix}`), 'a refused request created nothing');
    });

    test('a new tenant answers its first admin key once, and the key works on the tenant API at once', async () => {
      const response = await createTenant(`acme-${suffix}`);
      assert.equal(response.statusCode, 201, response.body);
      const created = response.json<TenantCreated>();
      assert.equal(created.tenant.name, `acme-${suffix}`);
      assert.match(created.apiKey, /^alga_sk_[0-9a-f]{16}_/);
      assert.ok(created.apiKey.includes(created.keyId));
      const installs = await call('GET', '/api/v1/installs', `Bearer ${created.apiKey}`);
      assert.equal(installs.statusCode, 200, installs.body);
      assert.deepEqual(installs.json(), { installs: [] });

      const listed = (await call('GET', '/api/v1/operator/tenants', OPERATOR)).json<TenantList>();
      const entry = listed.tenants.find((t) => t.id === created.tenant.id);
      assert.deepEqual(entry, created.tenant);
      assert.ok(!JSON.stringify(listed).includes('alga_sk_'), 'the list never carries a key');

      const { rows } = await ctx.db.query<{ actor: string; action: string; key_names: string[]; request_id: string }>(
        'SELECT actor, action, key_names, request_id FROM audit_log WHERE tenant_id = $1',
        [created.tenant.id],
      );
      assert.deepEqual(rows, [
        {
          actor: operatorCredential(OPERATOR_KEY).actor,
          action: 'tenant.create',
          key_names: [created.keyId],
          request_id: `req-${suffix}`,
        },
      ]);
      const stored = await ctx.db.query('SELECT 1 FROM api_keys WHERE secret_sha256 LIKE $1', [
        `%${created.apiKey.split('_').at(-1)}%`,
      ]);
      assert.equal(stored.rows.length, 0, 'only a hash of the key is stored');
    });

    test('a taken name is a 409; a blank, padded or UUID-shaped name is a 400', async () => {
      assert.equal((await createTenant(`dup-${suffix}`)).statusCode, 201);
      const again = await createTenant(`dup-${suffix}`);
      assert.equal(again.statusCode, 409, again.body);
      assert.equal(errorOf(again).code, 'ALGA_ALREADY_EXISTS');
      assert.match(errorOf(again).message, new RegExp(`dup-${suffix}`));
      // Names an operator could not tell apart: the same in other capitals.
      const shouting = await createTenant(`DUP-${suffix}`);
      assert.equal(shouting.statusCode, 409, shouting.body);
      assert.match(errorOf(shouting).message, new RegExp(`"dup-${suffix}"`));
      for (const name of [
        '',
        ' padded',
        'padded ',
        'line\nbreak',
        '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
        'evil\u202egnp.exe',
      ]) {
        const response = await createTenant(name);
        assert.equal(response.statusCode, 400, JSON.stringify(name));
        assert.equal(errorOf(response).code, 'ALGA_VALIDATION_FAILED');
      }
      assert.equal((await call('POST', '/api/v1/operator/tenants', OPERATOR, { name: 'x', extra: 1 })).statusCode, 400);
    });

    test('a user added without a password gets one generated, answered once, that signs in to the web UI', async () => {
      const tenant = `people-${suffix}`;
      assert.equal((await createTenant(tenant)).statusCode, 201);
      const email = `Ops-${suffix}@Example.TEST`;
      const response = await addUser(tenant, { email, role: 'admin', name: 'Ops Person' });
      assert.equal(response.statusCode, 201, response.body);
      const created = response.json<UserCreated>();
      assert.equal(created.user.email, email.toLowerCase());
      assert.equal(created.user.role, 'admin');
      assert.equal(created.user.clientId, null);
      assert.ok(created.password && created.password.length >= 20);
      assert.equal(await signIn(email, created.password), 200);
      assert.equal(await signIn(email, `${created.password}x`), 401);

      // A password the operator chose is not echoed back.
      const chosen = await addUser(tenant, {
        email: `viewer-${suffix}@example.test`,
        role: 'viewer',
        password: 'correct horse battery',
      });
      assert.equal(chosen.statusCode, 201, chosen.body);
      assert.equal(chosen.json<UserCreated>().password, undefined);
      assert.equal(await signIn(`viewer-${suffix}@example.test`, 'correct horse battery'), 200);

      const list = (await call('GET', `/api/v1/operator/tenants/${tenant}/users`, OPERATOR)).json<UserList>();
      assert.deepEqual(
        list.users.map((u) => [u.email, u.role]),
        [
          [email.toLowerCase(), 'admin'],
          [`viewer-${suffix}@example.test`, 'viewer'],
        ],
      );
      assert.ok(!/password|hash|scrypt/i.test(JSON.stringify(list)), 'the list never carries a password or its hash');
      const { rows } = await ctx.db.query<{ action: string; key_names: string[] }>(
        "SELECT action, key_names FROM audit_log WHERE tenant_id = $1 AND action = 'user.create' ORDER BY id",
        [list.tenant.id],
      );
      assert.deepEqual(rows, [
        { action: 'user.create', key_names: [email.toLowerCase(), 'admin'] },
        { action: 'user.create', key_names: [`viewer-${suffix}@example.test`, 'viewer'] },
      ]);
    });

    test('a client-portal user needs its client, staff must not have one; duplicates, short passwords and unknown tenants are refused', async () => {
      const tenant = `portal-${suffix}`;
      const { tenant: created } = (await createTenant(tenant)).json<TenantCreated>();
      const noClient = await addUser(tenant, { email: `c-${suffix}@example.test`, role: 'client' });
      assert.equal(noClient.statusCode, 400);
      assert.match(errorOf(noClient).message, /--client-id/);
      const staffClient = await addUser(tenant, { email: `s-${suffix}@example.test`, role: 'viewer', clientId: 'c1' });
      assert.equal(staffClient.statusCode, 400);
      assert.match(errorOf(staffClient).message, /drop clientId/);

      // By id as well as by name.
      const client = await addUser(created.id, {
        email: `c-${suffix}@example.test`,
        role: 'client',
        clientId: 'acme-co',
      });
      assert.equal(client.statusCode, 201, client.body);
      assert.equal(client.json<UserCreated>().user.clientId, 'acme-co');
      const duplicate = await addUser(tenant, { email: `C-${suffix}@EXAMPLE.test`, role: 'admin' });
      assert.equal(duplicate.statusCode, 409);
      assert.equal(errorOf(duplicate).code, 'ALGA_ALREADY_EXISTS');

      const bell = await addUser(tenant, { email: `b-${suffix}@example.test`, role: 'admin', name: '<script>\u0007' });
      assert.equal(bell.statusCode, 400, 'a control character in a name');

      const short = await addUser(tenant, { email: `p-${suffix}@example.test`, role: 'admin', password: 'short' });
      assert.equal(short.statusCode, 400);
      for (const body of [
        { email: 'not-an-email', role: 'admin' },
        { email: `r-${suffix}@example.test`, role: 'owner' },
        { email: `r-${suffix}@example.test`, role: 'admin', extra: true },
      ]) {
        assert.equal((await addUser(tenant, body)).statusCode, 400, JSON.stringify(body));
      }
      const unknown = await addUser(`no-such-tenant-${suffix}`, { email: `u-${suffix}@example.test`, role: 'admin' });
      assert.equal(unknown.statusCode, 404);
      assert.equal(errorOf(unknown).code, 'ALGA_NOT_FOUND');
      const users = (await call('GET', `/api/v1/operator/tenants/${tenant}/users`, OPERATOR)).json<UserList>().users;
      assert.deepEqual(
        users.map((u) => u.email),
        [`c-${suffix}@example.test`],
        'nothing refused was stored',
      );
    });
  });
}
