/**
 * Secrets set with an expiry: the API takes and shows it, the envelope sent
 * to the runner carries it per key, a time in the past or not a time is a
 * clear 400 that stores nothing, and /metrics counts what is about to expire.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';

for (const engine of testEngines()) {
  describe(`secret expiry (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    const put = (key: string, payload: Record<string, unknown>) =>
      ctx.server.app.inject({
        method: 'PUT',
        url: `/api/v1/installs/hello-ext/secrets/${key}`,
        headers: { authorization: ctx.adminA },
        payload,
      });
    const secrets = async () =>
      (
        await ctx.server.app.inject({
          method: 'GET',
          url: '/api/v1/installs/hello-ext/secrets',
          headers: { authorization: ctx.adminA },
        })
      ).json().secrets as { key: string; version: number | null; expiresAt: string | null }[];

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), { runnerUrl: runner.url });
      await publish(ctx, sampleManifest());
      await install(ctx, 'hello-ext');
    });
    after(() => closeAll(ctx, runner));

    test('a secret set with an expiry shows it, and the envelope carries it for that key only', async () => {
      const expiresAt = new Date(Date.now() + 10 * 86_400_000).toISOString();
      const response = await put('api_token', { value: 'tok-1', expiresAt });
      assert.equal(response.statusCode, 200);
      assert.equal(response.json().expiresAt, expiresAt);
      assert.equal(await put('webhook_secret', { value: 'hook-1' }).then((r) => r.statusCode), 200);
      const listed = await secrets();
      assert.equal(listed.find((s) => s.key === 'api_token')?.expiresAt, expiresAt);
      assert.equal(listed.find((s) => s.key === 'webhook_secret')?.expiresAt, null);

      runner.received.length = 0;
      await ctx.server.app.inject({
        method: 'GET',
        url: '/api/ext/hello-ext/hello',
        headers: { authorization: ctx.adminA },
      });
      assert.deepEqual(runner.received[0]!.body.secret_envelope?.key_expires_at, { api_token: expiresAt });

      const metrics = (await ctx.server.app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /^alga_secrets_expiring\{window="30d"\} 1$/m);
      assert.match(metrics, /^alga_secrets_expiring\{window="7d"\} 0$/m);
    });

    test('an expiry with an offset is answered as stored, in UTC', async () => {
      const response = await put('api_token', { value: 'tok-2', expiresAt: '2099-06-01T02:00:00+02:00' });
      assert.equal(response.json().expiresAt, '2099-06-01T00:00:00.000Z');
      assert.equal((await secrets()).find((s) => s.key === 'api_token')?.expiresAt, '2099-06-01T00:00:00.000Z');
    });

    test('setting a value again without an expiry clears it', async () => {
      await put('api_token', { value: 'tok-2' });
      assert.equal((await secrets()).find((s) => s.key === 'api_token')?.expiresAt, null);
    });

    test('an expiry in the past, not a time or on a day the calendar lacks is a 400 naming the problem, and nothing is stored', async () => {
      const version = (await secrets()).find((s) => s.key === 'api_token')?.version;
      for (const [expiresAt, problem] of [
        [new Date(Date.now() - 1000).toISOString(), /must be in the future/],
        ['next tuesday', /ISO 8601/],
        // Date.parse would roll these over to March 2 and 1 of 2100.
        ['2099-02-30T00:00:00Z', /calendar does not have \(2099-02-30\)/],
        ['2100-02-29T12:00:00Z', /calendar does not have/],
        ['2099-13-01T00:00:00Z', /ISO 8601|calendar/],
      ] as const) {
        const response = await put('api_token', { value: 'tok-3', expiresAt });
        assert.equal(response.statusCode, 400, expiresAt);
        assert.equal(response.json().error.code, 'ALGA_VALIDATION_FAILED');
        assert.match(response.json().error.message, problem);
      }
      assert.equal((await secrets()).find((s) => s.key === 'api_token')?.version, version);
    });
  });
}
