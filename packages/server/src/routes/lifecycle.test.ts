import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { install, publish, sampleManifest, startTestServer, type TestContext, apiCaller } from '../testing/fixtures.ts';

const SECRET = 'sk-lifecycle-plaintext-42';

for (const engine of testEngines()) {
  describe(`install lifecycle, isolation and audit (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), { runnerUrl: runner.url });
      await publish(
        ctx,
        sampleManifest({ name: 'life-ext', api: { endpoints: [{ method: 'GET', path: '/hello', proxy: true }] } }),
      );
      assert.equal((await install(ctx, 'life-ext')).statusCode, 201);
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
      await runner.close();
    });

    const inject = apiCaller(() => ctx);

    test('install lists requested and granted capabilities and missing secrets', async () => {
      const body = (await inject('GET', '/api/v1/installs/life-ext', ctx.viewerA)).json();
      assert.deepEqual(body.requestedCapabilities, ['cap:secrets.get', 'cap:http.fetch']);
      assert.ok(body.install.grantedCapabilities.includes('cap:secrets.get'));
      assert.deepEqual(body.missingSecrets, ['api_token']);
    });

    test('disable hides the install from the gateway; enable brings it back; both are audited once', async () => {
      const disabled = await inject('POST', '/api/v1/installs/life-ext/disable', ctx.adminA);
      assert.equal(disabled.statusCode, 200);
      assert.equal(disabled.json().install.enabled, false);
      assert.equal((await inject('POST', '/api/v1/installs/life-ext/disable', ctx.adminA)).statusCode, 200);
      assert.equal((await inject('GET', '/api/ext/life-ext/hello', ctx.adminA)).statusCode, 404);
      assert.equal((await inject('GET', '/api/ext-proxy/life-ext/hello', ctx.adminA)).statusCode, 404);
      const enabled = await inject('POST', '/api/v1/installs/life-ext/enable', ctx.adminA);
      assert.equal(enabled.json().install.enabled, true);
      assert.equal((await inject('GET', '/api/ext/life-ext/hello', ctx.adminA)).statusCode, 200);
      const { rows } = await ctx.db.query<{ action: string }>(
        "SELECT action FROM audit_log WHERE action IN ('install.enable', 'install.disable') ORDER BY id",
      );
      assert.deepEqual(
        rows.map((r) => r.action),
        ['install.disable', 'install.enable'],
      );
      assert.equal((await inject('POST', '/api/v1/installs/life-ext/disable', ctx.viewerA)).statusCode, 403);
    });

    test('reset restores manifest defaults, clears every secret, bumps versions, one audit row without values', async () => {
      await inject('PUT', '/api/v1/installs/life-ext/config', ctx.adminA, {
        config: { greeting: 'Changed', retries: 9, mode: 'safe' },
      });
      await inject('PUT', '/api/v1/installs/life-ext/secrets/api_token', ctx.adminA, { value: SECRET });
      await inject('PUT', '/api/v1/installs/life-ext/secrets/webhook_secret', ctx.adminA, { value: `${SECRET}-2` });
      const before = (await inject('GET', '/api/v1/installs/life-ext', ctx.adminA)).json();
      const reset = await inject('POST', '/api/v1/installs/life-ext/reset', ctx.adminA);
      assert.equal(reset.statusCode, 200);
      const body = reset.json();
      assert.deepEqual(body.config, { greeting: 'Hello', retries: 3, mode: 'fast' });
      assert.ok(body.configVersion > before.configVersion);
      assert.ok(body.secretsVersion > before.secretsVersion);
      assert.deepEqual(
        body.secrets.map((s: { set: boolean }) => s.set),
        [false, false],
      );
      assert.deepEqual(body.missingSecrets, ['api_token']);
      const { rows } = await ctx.db.query<{ key_names: string[]; version: number }>(
        "SELECT key_names, version FROM audit_log WHERE action = 'install.reset'",
      );
      assert.equal(rows.length, 1);
      assert.deepEqual(rows[0]!.key_names, ['api_token', 'greeting', 'mode', 'retries', 'webhook_secret']);
      assert.equal(rows[0]!.version, body.configVersion);
      const stored = await ctx.db.query('SELECT 1 FROM install_secrets');
      assert.equal(stored.rows.length, 0);
      assert.equal((await inject('POST', '/api/v1/installs/life-ext/reset', ctx.viewerA)).statusCode, 403);
    });

    test("tenant B cannot read, invoke, configure, reset, toggle, uninstall or even detect tenant A's install", async () => {
      const urls: ['GET' | 'PUT' | 'DELETE' | 'POST', string, unknown?][] = [
        ['GET', '/api/v1/installs/X'],
        ['GET', '/api/v1/installs/X/secrets'],
        ['PUT', '/api/v1/installs/X/config', { config: { greeting: 'pwned' } }],
        ['PUT', '/api/v1/installs/X/secrets/api_token', { value: 'pwned' }],
        ['DELETE', '/api/v1/installs/X/secrets/api_token'],
        ['POST', '/api/v1/installs/X/reset'],
        ['POST', '/api/v1/installs/X/enable'],
        ['POST', '/api/v1/installs/X/disable'],
        ['DELETE', '/api/v1/installs/X'],
        ['GET', '/api/ext/X/hello'],
        ['GET', '/api/ext-proxy/X/hello'],
      ];
      runner.received.length = 0;
      for (const [method, url, payload] of urls) {
        const theirs = await inject(method, url.replace('X', 'life-ext'), ctx.adminB, payload);
        const nobodys = await inject(method, url.replace('X', 'life-ext'.replace('life', 'gone')), ctx.adminB, payload);
        assert.equal(theirs.statusCode, 404, `${method} ${url}`);
        // Identical bodies apart from the extension id and request id: no existence leak.
        const normalize = (body: string, id: string) =>
          JSON.stringify({
            ...JSON.parse(body).error,
            requestId: 'R',
            message: JSON.parse(body).error.message.replace(id, 'X'),
          });
        assert.equal(normalize(theirs.body, 'life-ext'), normalize(nobodys.body, 'gone-ext'), `${method} ${url}`);
      }
      assert.equal(runner.received.length, 0);
      assert.deepEqual((await inject('GET', '/api/v1/installs', ctx.adminB)).json().installs, []);
      // A's install is untouched.
      const mine = (await inject('GET', '/api/v1/installs/life-ext', ctx.adminA)).json();
      assert.equal(mine.install.enabled, true);
      assert.notEqual(mine.config.greeting, 'pwned');
    });

    test('every change left an audit row, and no audit column holds a value or ciphertext', async () => {
      await inject('PUT', '/api/v1/installs/life-ext/secrets/api_token', ctx.adminA, { value: SECRET });
      await inject('DELETE', '/api/v1/installs/life-ext/secrets/api_token', ctx.adminA);
      await inject('PUT', '/api/v1/installs/life-ext/config', ctx.adminA, {
        config: { greeting: 'AuditMe', retries: 1, mode: 'fast' },
      });
      assert.equal((await inject('DELETE', '/api/v1/installs/life-ext', ctx.adminA)).statusCode, 204);
      const { rows } = await ctx.db.query<Record<string, unknown>>('SELECT * FROM audit_log ORDER BY id');
      const actions = new Set(rows.map((r) => r['action']));
      for (const action of [
        'install.create',
        'install.enable',
        'install.disable',
        'install.reset',
        'install.delete',
        'config.update',
        'secret.set',
        'secret.delete',
      ]) {
        assert.ok(actions.has(action), `no audit row for ${action}`);
      }
      for (const row of rows) {
        for (const [column, value] of Object.entries(row)) {
          const text = value instanceof Date ? value.toISOString() : (JSON.stringify(value) ?? '');
          assert.ok(!text.includes(SECRET), `audit ${column} holds a secret value`);
          assert.ok(!/vault:v\d+:/.test(text), `audit ${column} holds a ciphertext`);
          assert.ok(!text.includes('AuditMe'), `audit ${column} holds a config value`);
        }
      }
    });
  });
}
