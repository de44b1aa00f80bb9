/**
 * Client-portal users, in-process: they sign in, see only extensions whose
 * UI declares `ui.hooks.clientPortalMenu`, call those through the UI proxy
 * (as `user_type: client` with their client id), and are refused by the
 * server everywhere else: the install, settings, audit and logs routes, the
 * API gateway, and the proxy of an extension that is not in the portal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { CSRF_HEADER, type Manifest } from '@alga-psa/protocol';
import { createDemoUsers, createUser, DEMO_CLIENT_ID, tenantName } from '../auth/session.ts';
import { testEngines } from '../testing/databases.ts';
import { bundleArchive } from '../testing/archives.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import {
  closeAll,
  componentWithImports,
  install,
  sampleManifest,
  startTestServer,
  type TestContext,
} from '../testing/fixtures.ts';

const ORIGIN = 'http://localhost';

interface Browser {
  cookie: Record<string, string>;
  csrf: string;
}

for (const engine of testEngines()) {
  describe(`client-portal users (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    const installIds: Record<string, string> = {};
    let client: Browser;
    let admin: Browser;
    let clientUserId: string;
    // Emails are unique per tenant only and sign-in tries them all: keep reruns on one database apart.
    const suffix = Math.random().toString(36).slice(2, 8);
    const clientEmail = `client-${suffix}@a.test`;

    const request = async (
      browser: Browser,
      method: 'GET' | 'POST' | 'PUT' | 'DELETE',
      url: string,
      payload?: unknown,
    ) => {
      const response = await ctx.server.app.inject({
        method,
        url,
        headers: {
          host: 'localhost',
          cookie: Object.entries(browser.cookie)
            .map(([k, v]) => `${k}=${v}`)
            .join('; '),
          ...(method !== 'GET' ? { origin: ORIGIN, 'x-csrf-token': browser.csrf, [CSRF_HEADER]: '1' } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });
      for (const set of response.cookies) browser.cookie[set.name] = set.value;
      return response;
    };

    const signIn = async (email: string, password: string): Promise<Browser> => {
      const browser: Browser = { cookie: {}, csrf: '' };
      browser.csrf = (await request(browser, 'GET', '/ui/api/session')).json().csrfToken;
      const response = await request(browser, 'POST', '/ui/api/session', { email, password });
      assert.equal(response.statusCode, 200, response.body);
      browser.csrf = response.json().csrfToken;
      return browser;
    };

    /** Publishes (with UI files, so it has a page) and installs for tenant A. */
    const publishWithUi = async (name: string, hooks: NonNullable<Manifest['ui']>['hooks']) => {
      const component = await componentWithImports(['alga:extension/types@0.1.0']);
      const manifest = sampleManifest({
        name,
        api: {
          endpoints: [
            { method: 'GET', path: '/hello', proxy: true },
            { method: 'POST', path: '/items/:id', proxy: true },
          ],
        },
        ui: { type: 'iframe', entry: 'ui/index.html', hooks },
      });
      const archive = bundleArchive(
        manifest,
        component,
        contentHashOf(component),
        [{ path: 'ui/index.html', body: '<!doctype html><p>page</p>' }],
        { name, version: manifest.version },
      );
      const published = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/publish',
        headers: { authorization: ctx.adminA, 'content-type': 'application/gzip' },
        payload: archive,
      });
      assert.equal(published.statusCode, 201, published.body);
      const installed = await install(ctx, name);
      assert.equal(installed.statusCode, 201, installed.body);
      installIds[name] = installed.json().install.id;
    };

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), { runnerUrl: runner.url });
      await publishWithUi('portal-ext', { clientPortalMenu: { label: ' My tickets ' } });
      await publishWithUi('staff-ext', { appMenu: { label: 'Reports' } });
      await publishWithUi('both-ext', { appMenu: { label: 'Team' }, clientPortalMenu: { label: 'Our team' } });
      await createUser(ctx.db, {
        tenantId: ctx.tenantA,
        email: `admin-${suffix}@a.test`,
        role: 'admin',
        password: 'admin-pass-1',
      });
      admin = await signIn(`admin-${suffix}@a.test`, 'admin-pass-1');
      const disabled = await request(admin, 'PUT', `/ui/api/installs/${installIds['both-ext']}/enabled`, {
        enabled: false,
      });
      assert.equal(disabled.statusCode, 200, disabled.body);
      ({ userId: clientUserId } = await createUser(ctx.db, {
        tenantId: ctx.tenantA,
        email: clientEmail,
        name: 'Cleo Client',
        role: 'client',
        clientId: 'acme-corp',
        password: 'client-pass-1',
      }));
      client = await signIn(clientEmail, 'client-pass-1');
    });
    after(() => closeAll(ctx, runner));

    test('the schema refuses a client-portal user without a client, and a staff user with one', async () => {
      await assert.rejects(
        createUser(ctx.db, { tenantId: ctx.tenantA, email: `c2-${suffix}@a.test`, role: 'client', password: 'pw-1' }),
        /users_client_id_check/,
      );
      await assert.rejects(
        createUser(ctx.db, {
          tenantId: ctx.tenantA,
          email: `v2-${suffix}@a.test`,
          role: 'viewer',
          clientId: 'acme-corp',
          password: 'pw-123456',
        }),
        /users_client_id_check/,
      );
    });

    test('a client-portal user signs in and is shown as role client', async () => {
      const session = (await request(client, 'GET', '/ui/api/session')).json();
      assert.equal(session.user.role, 'client');
      assert.equal(session.user.email, clientEmail);
    });

    test('the portal lists only enabled installs with a clientPortalMenu hook, labelled by the hook', async () => {
      const response = await request(client, 'GET', '/ui/api/portal/extensions');
      assert.equal(response.statusCode, 200, response.body);
      const { extensions } = response.json();
      assert.equal(extensions.length, 1, response.body);
      assert.equal(extensions[0].id, installIds['portal-ext']);
      assert.equal(extensions[0].extensionId, 'portal-ext');
      assert.equal(extensions[0].label, 'My tickets');
      assert.match(extensions[0].url, /^\/ext-ui\/portal-ext\/[0-9a-f]{64}\/index\.html$/);
    });

    test('install, settings, audit, logs and consent routes answer 403 for a client-portal user', async () => {
      const id = installIds['portal-ext']!;
      const refused: ['GET' | 'POST' | 'PUT' | 'DELETE', string, unknown?][] = [
        ['GET', '/ui/api/extensions'],
        ['GET', '/ui/api/extensions/portal-ext/consent'],
        ['POST', '/ui/api/installs', { extensionId: 'staff-ext', version: '1.0.0', consent: [] }],
        ['GET', `/ui/api/installs/${id}/settings`],
        ['PUT', `/ui/api/installs/${id}/settings`, { config: { greeting: 'x' } }],
        ['PUT', `/ui/api/installs/${id}/enabled`, { enabled: false }],
        ['PUT', `/ui/api/installs/${id}/egress`, { hosts: [] }],
        ['POST', `/ui/api/installs/${id}/reset`],
        ['DELETE', `/ui/api/installs/${id}`],
        ['GET', `/ui/api/installs/${id}/audit`],
        ['GET', `/ui/api/installs/${id}/logs`],
      ];
      for (const [method, url, payload] of refused) {
        const response = await request(client, method, url, payload);
        assert.equal(response.statusCode, 403, `${method} ${url}: ${response.body}`);
        assert.equal(response.json().error.code, 'ALGA_FORBIDDEN', `${method} ${url}`);
      }
      // Nothing changed: the install is still enabled and still in the portal.
      const list = (await request(client, 'GET', '/ui/api/portal/extensions')).json();
      assert.equal(list.extensions.length, 1);
    });

    test('the UI proxy of a portal extension takes any method, and the guest learns the user is a client', async () => {
      runner.received.length = 0;
      const response = await request(client, 'POST', '/api/ext-proxy/portal-ext/items/7', { n: 1 });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(runner.received.length, 1);
      assert.deepEqual(runner.received[0]!.body.user, {
        user_id: clientUserId,
        user_email: clientEmail,
        user_name: 'Cleo Client',
        user_type: 'client',
        client_id: 'acme-corp',
        client_name: await tenantName(ctx.db, ctx.tenantA),
      });
    });

    test('an extension outside the portal is "not installed" to a client, and /api/ext is refused', async () => {
      runner.received.length = 0;
      const staff = await request(client, 'GET', '/api/ext-proxy/staff-ext/hello');
      assert.equal(staff.statusCode, 404, staff.body);
      const disabled = await request(client, 'GET', '/api/ext-proxy/both-ext/hello');
      assert.equal(disabled.statusCode, 404, disabled.body);
      assert.equal(staff.json().error.message, disabled.json().error.message.replace('both-ext', 'staff-ext'));
      const api = await request(client, 'GET', '/api/ext/portal-ext/hello');
      assert.equal(api.statusCode, 403, api.body);
      assert.equal(api.json().error.code, 'ALGA_FORBIDDEN');
      assert.equal(runner.received.length, 0, 'nothing refused reached the runner');
    });

    test('staff keep their view: an admin still lists every install, and the portal list is the same for them', async () => {
      const all = (await request(admin, 'GET', '/ui/api/extensions')).json();
      assert.deepEqual(all.installed.map((i: { extensionId: string }) => i.extensionId).sort(), [
        'both-ext',
        'portal-ext',
        'staff-ext',
      ]);
      const portal = (await request(admin, 'GET', '/ui/api/portal/extensions')).json();
      assert.deepEqual(
        portal.extensions.map((e: { extensionId: string }) => e.extensionId),
        ['portal-ext'],
      );
    });

    test('the demo tenant gets a client-portal user with its own client', async () => {
      const { rows } = await ctx.db.query<{ id: string }>('INSERT INTO tenants (name) VALUES ($1) RETURNING id', [
        `demo-${Math.random().toString(36).slice(2, 8)}`,
      ]);
      const demo = await createDemoUsers(ctx.db, rows[0]!.id);
      assert.equal(demo.clientEmail, 'client@demo.local');
      const people = await ctx.db.query<{ email: string; role: string; client_id: string | null }>(
        'SELECT email, role, client_id FROM users WHERE tenant_id = $1 ORDER BY email',
        [rows[0]!.id],
      );
      assert.deepEqual(people.rows, [
        { email: 'admin@demo.local', role: 'admin', client_id: null },
        { email: 'client@demo.local', role: 'client', client_id: DEMO_CLIENT_ID },
        { email: 'viewer@demo.local', role: 'viewer', client_id: null },
      ]);
    });
  });
}
