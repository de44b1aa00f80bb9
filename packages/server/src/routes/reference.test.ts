// Reference-host extensions (issue 19): their manifests publish as they are,
// whole-world imports are accepted and shown on the consent, wildcard
// versions resolve at publish as the reference resolves them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { testEngines } from '../testing/databases.ts';
import { apiCaller, componentWithImports, startTestServer, type TestContext } from '../testing/fixtures.ts';

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

const reporting = {
  name: 'com.alga.ninemindsreporting',
  publisher: 'Nine Minds',
  version: '0.3.*',
  runtime: 'wasm-js@1',
  capabilities: ['cap:context.read', 'cap:log.emit', 'cap:ui.proxy'],
  ui: { type: 'iframe', entry: 'ui/index.html', hooks: { appMenu: { label: 'Reports' } } },
  precompiled: { 'x86_64-linux-gnu': 'precompiled/x86_64-linux-gnu.cwasm' },
};

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
      const bytes = await componentWithImports(imports);
      const contentHash = contentHashOf(bytes);
      const upload = await ctx.server.app.inject({
        method: 'PUT',
        url: `/api/v1/bundles/${contentHash}`,
        headers: { authorization: auth, 'content-type': 'application/wasm' },
        payload: bytes,
      });
      assert.equal(upload.statusCode, 201, upload.body);
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
        /alga:extension\/user-v2: imported, not requested \(needs cap:user\.read/,
        /alga:extension\/invoicing: imported, not provided by this platform/,
      ]) {
        assert.ok(
          warnings.some((w) => expected.test(w)),
          `${String(expected)} in ${JSON.stringify(warnings, null, 1)}`,
        );
      }
      assert.ok(!warnings.some((w) => /ui-proxy: imported/.test(w)), 'a requested interface is not listed');
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
        ['cap:context.read', 'cap:log.emit', 'cap:ui.proxy'],
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
          ['user', 'cap:user.read'],
          ['user-v2', 'cap:user.read'],
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
      ]);
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
  });
}
