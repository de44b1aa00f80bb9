// Reference-host extensions (issue 19): their manifests publish as they are,
// whole-world imports are accepted and shown on the consent, wildcard
// versions resolve at publish as the reference resolves them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { sampleReferenceManifest } from '@alga-psa/protocol/testing';
import { testEngines } from '../testing/databases.ts';
import {
  apiCaller,
  componentWithImports,
  startTestServer,
  uploadComponent,
  type TestContext,
} from '../testing/fixtures.ts';
import { referenceBundle } from '../testing/archives.ts';

/** The twelve interfaces of the reference host's canonical world. */
const WORLD = [
  'context',
  'secrets',
  'http',
  'storage',
  'logging',
  'ui-proxy',
  'user',
  'user-v2',
  'scheduler',
  'invoicing',
  'clients',
  'services',
].map((iface) => `alga:extension/${iface}`);

const reporting = sampleReferenceManifest();

for (const engine of testEngines()) {
  describe(`reference-host extensions (${engine.name})`, () => {
    let ctx: TestContext;
    const call = apiCaller(() => ctx);
    before(async () => {
      ctx = await startTestServer(await engine.open());
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const publishWith = async (manifest: unknown, imports: readonly string[] = WORLD, auth = ctx.adminA) => {
      const contentHash = await uploadComponent(ctx, await componentWithImports(imports), auth);
      return call('POST', '/api/v1/extensions/versions', auth, { manifest, contentHash });
    };

    test('a reference manifest with a whole-world component publishes; the answer says what was defaulted', async () => {
      const response = await publishWith(reporting);
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.equal(body.extensionId, 'com.alga.ninemindsreporting');
      assert.equal(body.version, '0.3.0');
      const warnings = body.warnings as string[];
      assert.equal(warnings[0], 'Version "0.3.*" was published as 0.3.0.');
      for (const expected of [
        /no "api" section: every method and path/,
        /alga:extension\/secrets: imported, not requested \(needs cap:secrets\.get/,
        /alga:extension\/storage: imported, not requested \(needs cap:storage\.kv/,
        /alga:extension\/invoicing: imported, not provided by this platform/,
      ]) {
        assert.ok(
          warnings.some((w) => expected.test(w)),
          `${String(expected)} in ${JSON.stringify(warnings, null, 1)}`,
        );
      }
      assert.ok(!warnings.some((w) => /ui-proxy: imported/.test(w)), 'a requested interface is not listed');
      // The reference host grants cap:user.read to every install: requested here, and said so.
      assert.ok(!warnings.some((w) => /user(-v2)?: imported/.test(w)), 'user is requested');
      assert.ok(warnings.some((w) => /"cap:user.read" is added/.test(w)));
      const { rows } = await ctx.db.query<{ publisher: string }>('SELECT publisher FROM extensions WHERE id = $1', [
        'com.alga.ninemindsreporting',
      ]);
      assert.equal(rows[0]?.publisher, 'Nine Minds');
    });

    test('the same wildcard published again takes the next patch; pre-releases and other minors do not count', async () => {
      const second = await publishWith(reporting);
      assert.equal(second.json().version, '0.3.1');
      const prerelease = await publishWith({ ...reporting, version: '0.3.7-beta.1' });
      assert.equal(prerelease.statusCode, 201, prerelease.body);
      assert.equal((await publishWith({ ...reporting, version: '0.4.*' })).json().version, '0.4.0');
      assert.equal((await publishWith(reporting)).json().version, '0.3.2');
    });

    test('the consent (API) lists the interfaces imported but not requested, and the open path space', async () => {
      const response = await call(
        'GET',
        '/api/v1/extensions/com.alga.ninemindsreporting/consent?version=0.3.0',
        ctx.adminA,
      );
      assert.equal(response.statusCode, 200, response.body);
      const consent = response.json();
      assert.equal(consent.version, '0.3.0');
      assert.equal(consent.acceptsAnyPath, true);
      assert.deepEqual(
        consent.capabilities.map((c: { id: string }) => c.id),
        ['cap:context.read', 'cap:log.emit', 'cap:ui.proxy', 'cap:user.read'],
      );
      assert.deepEqual(
        consent.notRequested.map((n: { iface: string; capability?: string }) => [n.iface, n.capability ?? null]),
        [
          ['clients', null],
          ['http', 'cap:http.fetch'],
          ['invoicing', null],
          ['scheduler', null],
          ['secrets', 'cap:secrets.get'],
          ['services', null],
          ['storage', 'cap:storage.kv'],
        ],
      );
      const missing = await call(
        'GET',
        '/api/v1/extensions/com.alga.ninemindsreporting/consent?version=9.9.9',
        ctx.adminA,
      );
      assert.equal(missing.statusCode, 404);
    });

    test('installing grants only what was requested, never the imported-not-requested interfaces', async () => {
      const response = await call('POST', '/api/v1/installs', ctx.adminB, {
        extensionId: 'com.alga.ninemindsreporting',
        version: '0.3.0',
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.deepEqual(response.json().install.grantedCapabilities, [
        'cap:context.read',
        'cap:log.emit',
        'cap:ui.proxy',
        'cap:user.read',
      ]);
    });

    test('an extension without declared settings takes custom config and secret keys of the reference key names', async () => {
      const base = '/api/v1/installs/com.alga.ninemindsreporting';
      const config = await call('PUT', `${base}/config`, ctx.adminB, {
        config: { algaApiBase: 'https://psa.example', 'feature.flag': true },
      });
      assert.equal(config.statusCode, 200, config.body);
      const badConfig = await call('PUT', `${base}/config`, ctx.adminB, { config: { 'bad key': 'x', nested: {} } });
      assert.equal(badConfig.statusCode, 400);
      assert.deepEqual(
        badConfig.json().error.details.map((d: { field: string }) => d.field),
        ['bad key', 'nested'],
      );
      for (const key of ['ALGA_API_KEY', 'api_key']) {
        const secret = await call('PUT', `${base}/secrets/${key}`, ctx.adminB, { value: 'sk-value' });
        assert.equal(secret.statusCode, 200, secret.body);
      }
      const badSecret = await call('PUT', `${base}/secrets/${encodeURIComponent('no spaces')}`, ctx.adminB, {
        value: 'x',
      });
      assert.equal(badSecret.statusCode, 400);
      const listed = await call('GET', `${base}/secrets`, ctx.adminB);
      assert.deepEqual(
        listed.json().secrets.map((s: { key: string; set: boolean }) => [s.key, s.set]),
        [
          ['ALGA_API_KEY', true],
          ['api_key', true],
        ],
      );
      assert.ok(!listed.body.includes('sk-value'));
      // 404 across tenants: tenant A has no install of it.
      assert.equal((await call('PUT', `${base}/secrets/ALGA_API_KEY`, ctx.adminA, { value: 'x' })).statusCode, 404);
    });

    test('egress grants: validated like allowedHosts, audited, never "allow all"', async () => {
      const manifest = { ...reporting, name: 'com.alga.sample.service-proxy', capabilities: ['cap:http.fetch'] };
      const published = await publishWith(manifest);
      assert.ok(
        (published.json().warnings as string[]).some((w) =>
          /no outbound HTTP until a tenant admin grants hosts/.test(w),
        ),
      );
      const installed = await call('POST', '/api/v1/installs', ctx.adminA, { extensionId: manifest.name });
      assert.equal(installed.statusCode, 201, installed.body);
      assert.deepEqual(installed.json().install.egressGrants, []);
      const url = `/api/v1/installs/${manifest.name}/egress`;
      const refused = await call('PUT', url, ctx.adminA, { hosts: ['*', '*.com', 'ok.example.com'] });
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(
        refused.json().error.details.map((d: { field: string }) => d.field),
        ['hosts[0]', 'hosts[1]'],
      );
      assert.equal((await call('PUT', url, ctx.viewerA, { hosts: ['ok.example.com'] })).statusCode, 403);
      const ok = await call('PUT', url, ctx.adminA, { hosts: ['ok.example.com', '*.api.example.net'] });
      assert.equal(ok.statusCode, 200, ok.body);
      const view = await call('GET', `/api/v1/installs/${manifest.name}`, ctx.adminA);
      assert.deepEqual(view.json().install.egressGrants, ['*.api.example.net', 'ok.example.com']);
      const { rows } = await ctx.db.query<{ action: string; key_names: string[] }>(
        "SELECT action, key_names FROM audit_log WHERE action = 'install.egress' AND tenant_id = $1",
        [ctx.tenantA],
      );
      assert.deepEqual(
        rows.map((row) => row.key_names),
        [['*.api.example.net', 'ok.example.com']],
      );
    });

    test('the reference CLI flow: upload-proxy + finalize (x-api-key), then install, update and uninstall', async () => {
      const manifest = {
        name: 'com.alga.sample.client-portal-test',
        version: '1.3.0',
        runtime: 'wasm-js@1',
        capabilities: ['cap:context.read', 'cap:log.emit', 'cap:ui.proxy', 'cap:http.fetch', 'cap:user.read'],
        ui: { type: 'iframe', entry: 'ui/index.html', hooks: { clientPortalMenu: { label: 'Portal test' } } },
      };
      const archive = referenceBundle(manifest, await componentWithImports(WORLD), [
        { path: 'ui/index.html', body: '<p>portal</p>' },
      ]);
      const hex = contentHashOf(archive).slice('sha256:'.length);
      const apiKey = ctx.adminA.replace(/^Bearer /, '');
      const headers = { 'x-api-key': apiKey, 'x-alga-admin': 'true', 'x-tenant-id': ctx.tenantA };
      const upload = await ctx.server.app.inject({
        method: 'POST',
        url: `/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${archive.length}&declaredHash=${hex}`,
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        payload: archive,
      });
      assert.equal(upload.statusCode, 200, upload.body);
      assert.deepEqual(upload.json(), {
        upload: { key: `sha256/_staging/${hex}/bundle.tar.zst`, strategy: 'staging' },
        filename: 'bundle.tar.zst',
        size: archive.length,
        declaredHash: hex,
      });
      const noKey = await ctx.server.app.inject({
        method: 'POST',
        url: `/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${archive.length}`,
        headers: { 'content-type': 'application/octet-stream', 'x-alga-admin': 'true' },
        payload: archive,
      });
      assert.equal(noKey.statusCode, 401, 'x-alga-admin alone is no credential here');

      const finalize = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/ext-bundles/finalize',
        headers,
        payload: { key: upload.json().upload.key, declaredHash: hex, size: archive.length },
      });
      assert.equal(finalize.statusCode, 200, finalize.body);
      const done = finalize.json();
      assert.deepEqual(done.extension, {
        id: 'com.alga.sample.client-portal-test',
        name: 'com.alga.sample.client-portal-test',
        publisher: 'com.alga.sample.client-portal-test',
      });
      assert.equal(done.version.version, '1.3.0');
      assert.match(done.version.id, /^[0-9a-f-]{36}$/);
      assert.equal(done.contentHash, `sha256:${hex}`);
      assert.ok((done.warnings as string[]).some((w) => /names no publisher/.test(w)));

      const badKey = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/ext-bundles/finalize',
        headers,
        payload: { key: 'tenants/x/../../etc/bundle.tar.zst' },
      });
      assert.equal(badKey.statusCode, 400);

      const wildcard = await call('POST', '/api/v1/extensions/install', ctx.adminA, {
        registryId: 'com.alga.sample.client-portal-test',
        version: '1.3.*',
      });
      assert.equal(wildcard.statusCode, 404, 'the version must be exact, as on the reference');
      const installed = await call('POST', '/api/v1/extensions/install', ctx.adminA, {
        registryId: 'com.alga.sample.client-portal-test',
        version: '1.3.0',
      });
      assert.equal(installed.statusCode, 202, installed.body);
      const data = installed.json().data;
      assert.equal(data.registryId, 'com.alga.sample.client-portal-test');
      assert.equal(data.version, '1.3.0');
      assert.equal(data.success, true);
      assert.equal(data.message, 'Extension installation enqueued');
      assert.match(data.installId, /^[0-9a-f-]{36}$/);

      // The same bundle through this platform's own publish route, as application/zstd: idempotent.
      const direct = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/publish',
        headers: { authorization: ctx.adminA, 'content-type': 'application/zstd' },
        payload: archive,
      });
      assert.equal(direct.statusCode, 200, direct.body);
      assert.deepEqual(direct.json().uiFiles, ['index.html']);

      const update = await call('POST', '/api/v1/extensions/update', ctx.adminB, {
        registryId: 'com.alga.sample.client-portal-test',
        version: '1.3.0',
      });
      assert.equal(update.statusCode, 404, 'tenant B has no install to update');
      const updated = await call('POST', '/api/v1/extensions/update', ctx.adminA, {
        registryId: 'com.alga.sample.client-portal-test',
        version: '1.3.0',
      });
      assert.deepEqual(updated.json(), {
        data: {
          registryId: 'com.alga.sample.client-portal-test',
          version: '1.3.0',
          success: true,
          message: 'Extension updated',
        },
      });
      const uninstalled = await call('POST', '/api/v1/extensions/uninstall', ctx.adminA, {
        registryId: 'com.alga.sample.client-portal-test',
      });
      assert.deepEqual(uninstalled.json(), {
        data: { registryId: 'com.alga.sample.client-portal-test', success: true, message: 'Extension uninstalled' },
      });
      const again = await call('POST', '/api/v1/extensions/uninstall', ctx.adminA, {
        registryId: 'com.alga.sample.client-portal-test',
      });
      assert.equal(again.statusCode, 404);
    });

    test('an interface of neither WIT is still refused, naming it', async () => {
      const response = await publishWith({ ...reporting, name: 'com.acme.teleporter' }, [
        ...WORLD,
        'alga:extension/teleport',
      ]);
      assert.equal(response.statusCode, 422);
      assert.equal(response.json().error.code, 'ALGA_IMPORT_NOT_ALLOWED');
      assert.match(response.json().error.message, /alga:extension\/teleport/);
    });

    test("upload-proxy and finalize answer errors in the reference body; install keeps this platform's", async () => {
      const apiKey = ctx.adminA.replace(/^Bearer /, '');
      const headers = { 'x-api-key': apiKey, 'x-alga-admin': 'true' };
      const post = (url: string, payload: unknown, extra: Record<string, string> = {}) =>
        ctx.server.app.inject({ method: 'POST', url, headers: { ...headers, ...extra }, payload: payload as string });

      const plain = { name: 'com.alga.errors', version: '4.0.0', runtime: 'wasm-js@1', capabilities: [] };
      const archive = referenceBundle(plain, await componentWithImports(WORLD));
      const octets = { 'content-type': 'application/octet-stream' };
      const wrongHash = await post(
        `/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${archive.length}&declaredHash=${'0'.repeat(64)}`,
        archive,
        octets,
      );
      assert.equal(wrongHash.statusCode, 400, wrongHash.body);
      assert.equal(wrongHash.json().code, 'HASH_MISMATCH');
      assert.equal(typeof wrongHash.json().error, 'string');
      const noSize = await post('/api/ext-bundles/upload-proxy?filename=bundle.tar.zst', archive, octets);
      assert.equal(noSize.statusCode, 400);
      assert.equal(noSize.json().code, 'BAD_REQUEST');
      const noKey = await ctx.server.app.inject({
        method: 'POST',
        url: `/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${archive.length}`,
        headers: { ...octets, 'x-alga-admin': 'true' },
        payload: archive,
      });
      assert.equal(noKey.statusCode, 401);
      assert.equal(noKey.json().code, 'UNAUTHENTICATED');

      const badKey = await post('/api/ext-bundles/finalize', { key: 'sha256/_staging/x/bundle.tar.zst' });
      assert.deepEqual(Object.keys(badKey.json()).sort(), ['code', 'error']);
      assert.equal(badKey.json().code, 'BAD_REQUEST');

      // A manifest the reference refuses: 400 INVALID_MANIFEST with its issues.
      const badManifest = referenceBundle({ ...plain, entry: 'x' }, await componentWithImports(WORLD));
      const badHex = contentHashOf(badManifest).slice('sha256:'.length);
      const staged = await post(
        `/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${badManifest.length}`,
        badManifest,
        octets,
      );
      assert.equal(staged.statusCode, 200, staged.body);
      const invalid = await post('/api/ext-bundles/finalize', { key: `sha256/_staging/${badHex}/bundle.tar.zst` });
      assert.equal(invalid.statusCode, 400, invalid.body);
      const invalidBody = invalid.json();
      assert.equal(invalidBody.error, 'Invalid manifest');
      assert.equal(invalidBody.code, 'INVALID_MANIFEST');
      assert.ok(invalidBody.details.issues.length > 0);
      assert.ok(
        invalidBody.details.issues.every((i: { path: unknown; message: unknown }) => typeof i.message === 'string'),
      );

      // The same version again with other content: the reference's 409 body.
      const one = archive;
      const two = referenceBundle(plain, await componentWithImports([...WORLD].reverse()));
      for (const [i, bundle] of [one, two].entries()) {
        const h = contentHashOf(bundle).slice('sha256:'.length);
        await post(`/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${bundle.length}`, bundle, octets);
        const done = await post('/api/ext-bundles/finalize', { key: `sha256/_staging/${h}/bundle.tar.zst` });
        if (i === 0) {
          assert.equal(done.statusCode, 200, done.body);
        } else {
          assert.equal(done.statusCode, 409, done.body);
          assert.equal(done.json().success, false);
          assert.equal(done.json().error.code, 'EXTENSION_VERSION_ALREADY_EXISTS');
          assert.equal(typeof done.json().error.message, 'string');
        }
      }

      // install keeps {error:{code,message}}.
      const missing = await call('POST', '/api/v1/extensions/install', ctx.adminA, {
        registryId: 'com.none',
        version: '1.0.0',
      });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().error.code, 'ALGA_NOT_FOUND');
    });

    test("x-tenant-id (the reference CLI's --tenant) must name the key's own tenant, by id in any case or by name", async () => {
      const { rows } = await ctx.db.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [ctx.tenantA]);
      for (const given of [ctx.tenantA, ctx.tenantA.toUpperCase(), rows[0]!.name]) {
        const mine = await ctx.server.app.inject({
          method: 'GET',
          url: '/api/v1/installs',
          headers: { authorization: ctx.adminA, 'x-tenant-id': given },
        });
        assert.equal(mine.statusCode, 200, `${given}: ${mine.body}`);
      }
      const other = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/v1/installs',
        headers: { authorization: ctx.adminA, 'x-tenant-id': ctx.tenantB },
      });
      assert.equal(other.statusCode, 403);
      assert.match(other.json().error.message, /x-tenant-id names tenant .* another tenant/);
      const upload = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=1',
        headers: { authorization: ctx.adminA, 'x-tenant-id': ctx.tenantB, 'content-type': 'application/octet-stream' },
        payload: Buffer.from('x'),
      });
      assert.equal(upload.statusCode, 403);
      assert.equal(upload.json().code, 'RBAC_FORBIDDEN');
    });
  });

  describe(`reference upload-proxy rate limit (${engine.name})`, () => {
    let ctx: TestContext;
    before(async () => {
      ctx = await startTestServer(await engine.open(), { uploadRateLimit: { perMinute: 2 } });
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    test('past the per-address limit: 429 RATE_LIMIT with Retry-After, before the body is stored', async () => {
      const upload = () =>
        ctx.server.app.inject({
          method: 'POST',
          url: '/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=3',
          headers: { authorization: ctx.adminA, 'content-type': 'application/octet-stream' },
          payload: Buffer.from('abc'),
        });
      assert.equal((await upload()).statusCode, 200);
      assert.equal((await upload()).statusCode, 200);
      const limited = await upload();
      assert.equal(limited.statusCode, 429, limited.body);
      assert.equal(limited.json().code, 'RATE_LIMIT');
      const retryAfter = Number(limited.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, String(limited.headers['retry-after']));
      // Other routes are not limited by it.
      const finalize = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/ext-bundles/finalize',
        headers: { authorization: ctx.adminA },
        payload: { key: 'nope' },
      });
      assert.equal(finalize.statusCode, 400);
    });
  });
}
