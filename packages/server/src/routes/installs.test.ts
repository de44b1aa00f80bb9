import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { secretAad } from '@alga-psa/protocol';
import { testEngines } from '../testing/databases.ts';
import { install, publish, sampleManifest, startTestServer, type TestContext, apiCaller } from '../testing/fixtures.ts';

for (const engine of testEngines()) {
  describe(`installs, config and secrets (${engine.name})`, () => {
    let ctx: TestContext;
    before(async () => {
      ctx = await startTestServer(await engine.open());
      await publish(ctx, sampleManifest());
      await publish(ctx, sampleManifest({ name: 'second-ext' }));
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const inject = apiCaller(() => ctx);

    test('install starts from manifest defaults, grants defaults, and lists missing secrets', async () => {
      const response = await install(ctx, 'hello-ext');
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.deepEqual(body.config, { greeting: 'Hello', retries: 3, mode: 'fast' });
      assert.equal(body.configVersion, 1);
      assert.deepEqual(body.install.grantedCapabilities, [
        'cap:context.read',
        'cap:http.fetch',
        'cap:log.emit',
        'cap:secrets.get',
      ]);
      assert.deepEqual(
        body.secrets.map((s: { key: string; set: boolean }) => [s.key, s.set]),
        [
          ['api_token', false],
          ['webhook_secret', false],
        ],
      );
      assert.deepEqual(body.missingSecrets, ['api_token']);
    });

    test('installing again upgrades in place with 200', async () => {
      await publish(ctx, sampleManifest({ version: '1.1.0' }));
      const response = await install(ctx, 'hello-ext');
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().install.version, '1.1.0');
      assert.equal(response.json().config.greeting, 'Hello');
    });

    test('a grant missing a required capability names it; unknown ids are refused', async () => {
      const missing = await install(ctx, 'second-ext', ctx.adminA, { grant: ['cap:http.fetch'] });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error.code, 'ALGA_VALIDATION_FAILED');
      assert.match(missing.json().error.message, /cap:secrets\.get/);
      const unknown = await install(ctx, 'second-ext', ctx.adminA, {
        grant: ['cap:secrets.get', 'cap:http.fetch', 'cap:teleport'],
      });
      assert.equal(unknown.statusCode, 400);
      assert.equal(unknown.json().error.code, 'ALGA_UNKNOWN_CAPABILITY');
      assert.equal((await install(ctx, 'nope-ext')).statusCode, 404);
      assert.equal((await install(ctx, 'second-ext', ctx.viewerA)).statusCode, 403);
    });

    test('config is validated field by field and bumps its version', async () => {
      const bad = await inject('PUT', '/api/v1/installs/hello-ext/config', ctx.adminA, {
        config: { greeting: '', retries: 99, mode: 'turbo', typo: 1, api_token: 'x' },
      });
      assert.equal(bad.statusCode, 400);
      const { error } = bad.json();
      assert.equal(error.code, 'ALGA_VALIDATION_FAILED');
      const fields = error.details.map((d: { field: string }) => d.field).sort();
      assert.deepEqual(fields, ['api_token', 'greeting', 'mode', 'retries', 'typo']);

      const good = await inject('PUT', '/api/v1/installs/hello-ext/config', ctx.adminA, {
        config: { greeting: 'Hi', retries: 5, mode: 'safe' },
      });
      assert.equal(good.statusCode, 200);
      assert.ok(good.json().configVersion >= 2);
      const read = await inject('GET', '/api/v1/installs/hello-ext', ctx.viewerA);
      assert.deepEqual(read.json().config, { greeting: 'Hi', retries: 5, mode: 'safe' });

      const viewer = await inject('PUT', '/api/v1/installs/hello-ext/config', ctx.viewerA, {
        config: { greeting: 'x' },
      });
      assert.equal(viewer.statusCode, 403);
    });

    test('secrets are stored encrypted and never returned; audit rows hold key names only', async () => {
      const value = 'sk-live-very-secret-value';
      const put = await inject('PUT', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminA, { value });
      assert.equal(put.statusCode, 200);
      assert.equal(put.json().set, true);
      assert.ok(!put.body.includes(value));

      const { rows } = await ctx.db.query<{ ciphertext: string; install_id: string }>(
        "SELECT ciphertext, install_id FROM install_secrets WHERE key = 'api_token'",
      );
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.ciphertext, /^vault:v1:/);
      // Bound to this tenant, install and key.
      const aad = secretAad(ctx.tenantA, rows[0]!.install_id, 'api_token');
      assert.equal(Buffer.from(await ctx.keyring.decrypt(rows[0]!.ciphertext, aad)).toString(), value);
      await assert.rejects(
        ctx.keyring.decrypt(rows[0]!.ciphertext, secretAad(ctx.tenantA, rows[0]!.install_id, 'webhook_secret')),
      );

      for (const url of ['/api/v1/installs/hello-ext', '/api/v1/installs/hello-ext/secrets']) {
        const read = await inject('GET', url, ctx.viewerA);
        assert.equal(read.statusCode, 200);
        assert.ok(!read.body.includes(value), `${url} leaks the value`);
        assert.ok(!read.body.includes('vault:v'), `${url} leaks the ciphertext`);
        const secret = read.json().secrets.find((s: { key: string }) => s.key === 'api_token');
        assert.equal(secret.set, true);
        assert.equal(secret.version, 1);
        assert.deepEqual(read.json().missingSecrets, []);
      }

      const del = await inject('DELETE', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminA);
      assert.equal(del.statusCode, 200);
      const after = await inject('GET', '/api/v1/installs/hello-ext/secrets', ctx.adminA);
      assert.equal(after.json().secrets.find((s: { key: string }) => s.key === 'api_token').set, false);
      assert.deepEqual(after.json().missingSecrets, ['api_token']);
      assert.equal(after.json().secretsVersion, 2);

      const audit = await ctx.db.query<Record<string, unknown>>(
        "SELECT * FROM audit_log WHERE action LIKE 'secret.%' ORDER BY id",
      );
      assert.deepEqual(
        audit.rows.map((row) => [row['action'], row['key_names']]),
        [
          ['secret.set', ['api_token']],
          ['secret.delete', ['api_token']],
        ],
      );
      const everything = JSON.stringify((await ctx.db.query('SELECT * FROM audit_log')).rows);
      assert.ok(!everything.includes(value) && !everything.includes('vault:v'));
    });

    test('undeclared secret keys, empty and oversized values are refused', async () => {
      const undeclared = await inject('PUT', '/api/v1/installs/hello-ext/secrets/greeting', ctx.adminA, { value: 'x' });
      assert.equal(undeclared.statusCode, 400);
      assert.match(undeclared.json().error.message, /api_token, webhook_secret/);
      assert.equal(
        (await inject('PUT', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminA, { value: '' })).statusCode,
        400,
      );
      const huge = await inject('PUT', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminA, {
        value: 'x'.repeat(65 * 1024),
      });
      assert.equal(huge.statusCode, 400);
      assert.equal(
        (await inject('PUT', '/api/v1/installs/hello-ext/secrets/api_token', ctx.viewerA, { value: 'x' })).statusCode,
        403,
      );
    });

    test('a failing encrypter fails the write with 503 and stores nothing', async () => {
      const failing = await startTestServer(ctx.db, {
        encrypter: { keyRef: 'local:broken', encrypt: () => Promise.reject(new Error('transit down')) },
      });
      try {
        await publish(failing, sampleManifest({ name: 'transit-ext' }));
        assert.equal((await install(failing, 'transit-ext')).statusCode, 201);
        const response = await failing.server.app.inject({
          method: 'PUT',
          url: '/api/v1/installs/transit-ext/secrets/api_token',
          headers: { authorization: failing.adminA },
          payload: { value: 'plaintext-must-not-land' },
        });
        assert.equal(response.statusCode, 503);
        assert.equal(response.json().error.code, 'ALGA_TRANSIT_UNAVAILABLE');
        const { rows } = await ctx.db.query(
          "SELECT 1 FROM install_secrets WHERE ciphertext LIKE '%plaintext-must-not-land%' OR key_ref = 'local:broken'",
        );
        assert.equal(rows.length, 0);
      } finally {
        await failing.close();
      }
    });

    test("another tenant cannot read, configure or set secrets on tenant A's install", async () => {
      const attempts = [
        await inject('GET', '/api/v1/installs/hello-ext', ctx.adminB),
        await inject('GET', '/api/v1/installs/hello-ext/secrets', ctx.adminB),
        await inject('PUT', '/api/v1/installs/hello-ext/config', ctx.adminB, { config: { greeting: 'pwned' } }),
        await inject('PUT', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminB, { value: 'pwned' }),
        await inject('DELETE', '/api/v1/installs/hello-ext/secrets/api_token', ctx.adminB),
      ];
      const neverInstalled = await inject('GET', '/api/v1/installs/never-installed', ctx.adminB);
      for (const response of attempts) {
        assert.equal(response.statusCode, 404);
        // Same answer as for an extension nobody installed: no existence leak.
        assert.equal(
          response.json().error.message.replace('hello-ext', 'X'),
          neverInstalled.json().error.message.replace('never-installed', 'X'),
        );
      }
      const list = await inject('GET', '/api/v1/installs', ctx.adminB);
      assert.deepEqual(list.json().installs, []);
    });

    test('an upgrade to a version that no longer declares a stored secret says it is kept, not delivered', async () => {
      await publish(ctx, sampleManifest({ name: 'third-ext' }));
      assert.equal((await install(ctx, 'third-ext')).statusCode, 201);
      const put = await inject('PUT', '/api/v1/installs/third-ext/secrets/api_token', ctx.adminA, { value: 'tok' });
      assert.equal(put.statusCode, 200);
      const base = sampleManifest({ name: 'third-ext', version: '1.1.0' });
      await publish(ctx, { ...base, settings: base.settings!.filter((s) => s.key !== 'api_token') });
      const upgraded = await install(ctx, 'third-ext');
      assert.equal(upgraded.statusCode, 200);
      assert.deepEqual(upgraded.json().undeliveredSecrets, ['api_token']);
      await publish(ctx, sampleManifest({ name: 'third-ext', version: '1.2.0' }));
      assert.deepEqual((await install(ctx, 'third-ext')).json().undeliveredSecrets, []);
    });

    test('a malformed or unknown API key is a 401', async () => {
      for (const auth of ['Bearer nope', 'Bearer alga_sk_0000000000000000_' + 'a'.repeat(43), 'Basic abc']) {
        const response = await inject('GET', '/api/v1/installs', auth);
        assert.equal(response.statusCode, 401, auth);
        assert.equal(response.json().error.code, 'ALGA_UNAUTHENTICATED');
      }
    });
  });
}
