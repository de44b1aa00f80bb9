/**
 * The audit trail, read through both doors: who changed what (key names,
 * never values), in pages, newest first; admins only; another tenant's
 * install is a 404 whichever id is used.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditPage } from '@alga-psa/protocol';
import { createSession, createUser } from '../auth/session.ts';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';
import { SESSION_COOKIE } from '../web/security.ts';

const SECRET = 'audit-secret-value-123';

for (const engine of testEngines()) {
  describe(`install audit trail (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    let installId: string;
    const call = (method: 'GET' | 'PUT' | 'DELETE', url: string, auth: string, payload?: unknown) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { authorization: auth, 'x-request-id': `req-${method}-${url.length}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), { runnerUrl: runner.url });
      await publish(ctx, sampleManifest());
      installId = (await install(ctx, 'hello-ext')).json().install.id as string;
      await call('PUT', '/api/v1/installs/hello-ext/config', ctx.adminA, { config: { greeting: 'Howdy' } });
      await call('PUT', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminA, { value: SECRET });
      await call('DELETE', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminA);
    });
    after(() => closeAll(ctx, runner));

    test('lists every change newest first: who, what (key names only), version, request id, when', async () => {
      const response = await call('GET', '/api/v1/installs/hello-ext/audit', ctx.adminA);
      assert.equal(response.statusCode, 200);
      const page = response.json<AuditPage>();
      assert.deepEqual(
        page.entries.map((e) => e.action),
        ['secret.delete', 'secret.set', 'config.update', 'install.create'],
      );
      const set = page.entries[1]!;
      assert.deepEqual(set.keyNames, ['api_token']);
      assert.equal(set.version, 1);
      assert.match(set.actor, /^api_key:/);
      assert.match(set.requestId ?? '', /^req-PUT-/);
      assert.ok(Date.now() - Date.parse(set.at) < 24 * 3600_000);
      assert.ok(page.entries[2]!.keyNames.includes('greeting'));
      assert.equal(page.nextBefore, null);
      assert.ok(!response.body.includes(SECRET));
    });

    test('pages with limit and before, without gaps or repeats', async () => {
      const first = (await call('GET', '/api/v1/installs/hello-ext/audit?limit=3', ctx.adminA)).json<AuditPage>();
      assert.equal(first.entries.length, 3);
      assert.ok(first.nextBefore);
      const rest = (
        await call('GET', `/api/v1/installs/hello-ext/audit?limit=3&before=${first.nextBefore}`, ctx.adminA)
      ).json<AuditPage>();
      assert.deepEqual(
        rest.entries.map((e) => e.action),
        ['install.create'],
      );
      assert.equal(rest.nextBefore, null);
    });

    test('refuses a bad page request with a clear 400', async () => {
      for (const query of ['limit=0', 'limit=201', 'before=abc', 'other=1']) {
        const response = await call('GET', `/api/v1/installs/hello-ext/audit?${query}`, ctx.adminA);
        assert.equal(response.statusCode, 400, query);
        assert.equal(response.json().error.code, 'ALGA_VALIDATION_FAILED');
      }
    });

    test('viewers are refused; another tenant gets 404, as for an unknown extension', async () => {
      assert.equal((await call('GET', '/api/v1/installs/hello-ext/audit', ctx.viewerA)).statusCode, 403);
      const foreign = await call('GET', '/api/v1/installs/hello-ext/audit', ctx.adminB);
      const unknown = await call('GET', '/api/v1/installs/no-such-ext/audit', ctx.adminA);
      assert.equal(foreign.statusCode, 404);
      assert.equal(unknown.statusCode, 404);
      assert.equal(foreign.json().error.code, unknown.json().error.code);
    });

    test('the web door answers the same page for a signed-in admin, and 404 for another tenant', async () => {
      const session = async (tenantId: string, role: 'admin' | 'viewer') => {
        const { userId } = await createUser(ctx.db, {
          tenantId,
          email: `${role}-${tenantId.slice(0, 8)}@audit.test`,
          role,
          password: 'correct horse battery staple',
        });
        return `${SESSION_COOKIE}=${(await createSession(ctx.db, userId)).token}`;
      };
      const get = (cookie: string) =>
        ctx.server.app.inject({
          method: 'GET',
          url: `/ui/api/installs/${installId}/audit?limit=2`,
          headers: { cookie },
        });
      const mine = await get(await session(ctx.tenantA, 'admin'));
      assert.equal(mine.statusCode, 200);
      assert.deepEqual(
        mine.json<AuditPage>().entries.map((e) => e.action),
        ['secret.delete', 'secret.set'],
      );
      assert.equal((await get(await session(ctx.tenantA, 'viewer'))).statusCode, 403);
      assert.equal((await get(await session(ctx.tenantB, 'admin'))).statusCode, 404);
    });
  });
}
