/**
 * Provider policy in-process: only the operator key reaches the operator
 * routes; a disabled capability refuses installs and upgrades naming it and
 * leaves the runner's grant at once in this process; every change is audited.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PolicyAuditPage, PolicyCatalog } from '@alga-psa/protocol';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';
import { operatorCredential } from './operator.ts';

const OPERATOR_KEY = 'operator-key-for-tests-0123456789abcdef';
const OPERATOR = `Bearer ${OPERATOR_KEY}`;

test('an operator key shorter than 32 characters or with spaces is refused at start', () => {
  assert.throws(() => operatorCredential('short'), /at least 32 characters/);
  assert.throws(() => operatorCredential(`${'a'.repeat(32)} b`), /without spaces/);
  assert.match(operatorCredential(OPERATOR_KEY).actor, /^operator:[0-9a-f]{8}$/);
});

for (const engine of testEngines()) {
  describe(`provider policy (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, auth: string | undefined, payload?: unknown) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { ...(auth ? { authorization: auth } : {}), 'x-request-id': `req-${method}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });
    const setPolicy = (capability: string, body: { enabled: boolean; tenant?: string }, auth = OPERATOR) =>
      call('PUT', `/api/v1/operator/policy/${encodeURIComponent(capability)}`, auth, body);
    const lastProviders = () => runner.received.at(-1)!.body.providers;

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), {
        runnerUrl: runner.url,
        operatorCredential: operatorCredential(OPERATOR_KEY),
      });
      await publish(ctx, sampleManifest());
      await publish(ctx, sampleManifest({ name: 'plain-ext', capabilities: [], allowedHosts: [] }));
      assert.equal((await install(ctx, 'hello-ext')).statusCode, 201);
    });
    after(() => closeAll(ctx, runner));

    test('tenant keys, viewer or admin, cannot read or change policy (403); no or a wrong key is a 401', async () => {
      for (const auth of [ctx.adminA, ctx.viewerA, ctx.adminB]) {
        const put = await setPolicy('cap:http.fetch', { enabled: false }, auth);
        assert.equal(put.statusCode, 403, put.body);
        assert.equal(put.json().error.code, 'ALGA_FORBIDDEN');
        assert.equal((await call('GET', '/api/v1/operator/policy', auth)).statusCode, 403);
      }
      for (const auth of [
        undefined,
        'Bearer not-the-operator-key-0123456789abcdef',
        `Bearer alga_sk_${'0'.repeat(16)}_${'a'.repeat(43)}`,
      ]) {
        const response = await call('GET', '/api/v1/operator/policy', auth);
        assert.equal(response.statusCode, 401, String(auth));
        assert.equal(response.json().error.code, 'ALGA_UNAUTHENTICATED');
      }
      const catalog = (await call('GET', '/api/v1/operator/policy', OPERATOR)).json<PolicyCatalog>();
      assert.ok(catalog.capabilities.every((entry) => entry.enabled && entry.tenants.length === 0));
    });

    test('a capability every install gets, or an unknown one, cannot be disabled', async () => {
      const required = await setPolicy('cap:log.emit', { enabled: false });
      assert.equal(required.statusCode, 400);
      assert.match(required.json().error.message, /cap:log\.emit is part of every install/);
      const unknown = await setPolicy('cap:nope', { enabled: false });
      assert.equal(unknown.json().error.code, 'ALGA_UNKNOWN_CAPABILITY');
      const tenant = await setPolicy('cap:http.fetch', { enabled: false, tenant: 'no-such-tenant' });
      assert.equal(tenant.statusCode, 404);
    });

    test('disabling for a tenant takes the capability out of its running install at once, and refuses its upgrade', async () => {
      assert.equal((await call('GET', '/api/ext/hello-ext/hello', ctx.adminA)).statusCode, 200);
      assert.deepEqual(lastProviders(), ['cap:context.read', 'cap:http.fetch', 'cap:log.emit', 'cap:secrets.get']);

      const off = await setPolicy('cap:secrets.get', { enabled: false, tenant: ctx.tenantA });
      assert.equal(off.statusCode, 200, off.body);
      const entry = off.json<PolicyCatalog>().capabilities.find((c) => c.capability === 'cap:secrets.get')!;
      assert.equal(entry.enabled, true, 'the global setting is untouched');
      assert.equal(entry.effective, false);
      assert.deepEqual(
        entry.tenants.map((t) => [t.tenantId, t.enabled]),
        [[ctx.tenantA, false]],
      );

      assert.equal((await call('GET', '/api/ext/hello-ext/hello', ctx.adminA)).statusCode, 200);
      assert.deepEqual(lastProviders(), ['cap:context.read', 'cap:http.fetch', 'cap:log.emit']);
      assert.equal(runner.received.at(-1)!.body.secret_envelope, null, 'no ciphertexts for a disabled capability');

      const upgrade = await install(ctx, 'hello-ext');
      assert.equal(upgrade.statusCode, 403);
      assert.equal(upgrade.json().error.code, 'ALGA_CAPABILITY_DISABLED');
      assert.match(upgrade.json().error.message, /cap:secrets\.get/);
      assert.deepEqual(upgrade.json().error.details, { capabilities: ['cap:secrets.get'] });

      // Tenant B is not affected; an extension without the capability still installs in A.
      assert.equal((await install(ctx, 'hello-ext', ctx.adminB)).statusCode, 201);
      assert.equal((await install(ctx, 'plain-ext')).statusCode, 201);
    });

    test('a global disable reaches every tenant unless its own setting enables it; reset restores the default', async () => {
      assert.equal((await setPolicy('cap:http.fetch', { enabled: false })).statusCode, 200);
      await call('GET', '/api/ext/hello-ext/hello', ctx.adminB);
      assert.ok(!lastProviders().includes('cap:http.fetch'));
      assert.equal(runner.received.at(-1)!.body.egress, undefined, 'no egress list without the capability');

      await setPolicy('cap:http.fetch', { enabled: true, tenant: ctx.tenantB });
      await call('GET', '/api/ext/hello-ext/hello', ctx.adminB);
      assert.ok(lastProviders().includes('cap:http.fetch'));

      const reset = await call('DELETE', '/api/v1/operator/policy/cap%3Ahttp.fetch', OPERATOR);
      assert.equal(reset.statusCode, 200);
      await call('DELETE', `/api/v1/operator/policy/cap%3Asecrets.get?tenant=${ctx.tenantA}`, OPERATOR);
      await call('GET', '/api/ext/hello-ext/hello', ctx.adminA);
      assert.deepEqual(lastProviders(), ['cap:context.read', 'cap:http.fetch', 'cap:log.emit', 'cap:secrets.get']);
      assert.equal((await install(ctx, 'hello-ext')).statusCode, 200, 'the upgrade goes through again');
    });

    test('every change is audited once, with the operator, the capability and the tenant; repeats are not', async () => {
      await setPolicy('cap:storage.kv', { enabled: false, tenant: ctx.tenantB });
      await setPolicy('cap:storage.kv', { enabled: false, tenant: ctx.tenantB });
      const page = (await call('GET', '/api/v1/operator/policy/audit?limit=10', OPERATOR)).json<PolicyAuditPage>();
      const rows = page.entries.map((e) => [e.action, e.keyNames.join(), e.tenantId]);
      assert.deepEqual(rows, [
        ['policy.disable', 'cap:storage.kv', ctx.tenantB],
        ['policy.reset', 'cap:secrets.get', ctx.tenantA],
        ['policy.reset', 'cap:http.fetch', null],
        ['policy.enable', 'cap:http.fetch', ctx.tenantB],
        ['policy.disable', 'cap:http.fetch', null],
        ['policy.disable', 'cap:secrets.get', ctx.tenantA],
      ]);
      for (const entry of page.entries) {
        assert.match(entry.actor, /^operator:[0-9a-f]{8}$/);
        assert.match(entry.requestId ?? '', /^req-(PUT|DELETE)$/);
      }
      // Tenant install trails do not carry operator rows, and a tenant key cannot read this one.
      assert.equal((await call('GET', '/api/v1/operator/policy/audit', ctx.adminA)).statusCode, 403);
    });

    test('a server without an operator key answers every operator route 401', async () => {
      const bare = await startTestServer(ctx.db, { runnerUrl: runner.url });
      try {
        const response = await bare.server.app.inject({
          method: 'GET',
          url: '/api/v1/operator/policy',
          headers: { authorization: OPERATOR },
        });
        assert.equal(response.statusCode, 401);
        assert.match(response.json().error.message, /no operator key configured/);
      } finally {
        await bare.close();
      }
    });
  });
}
