/**
 * `GET /metrics` after real gateway traffic: the series an operator alerts
 * on move, their labels stay bounded (no tenant, install or request id), and
 * health probes and scrapes stay out of an info-level log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from './testing/databases.ts';
import { startEchoRunner } from './testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from './testing/fixtures.ts';

/** The value of one series (`name{labels}`), 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

for (const engine of testEngines()) {
  describe(`server metrics (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    const logs: Array<{ level: number; msg?: string; req?: { url?: string } }> = [];
    const scrape = async () => {
      const response = await ctx.server.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/plain/);
      return response.body;
    };

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), {
        runnerUrl: runner.url,
        logger: 'debug',
        logStream: { write: (line) => void logs.push(JSON.parse(line) as (typeof logs)[number]) },
        // Two requests per 200 s window: the third is refused, whatever the machine's speed.
        gatewayRateLimit: { perSecond: 0.01, burst: 2 },
      });
      await publish(ctx, sampleManifest());
      assert.equal((await install(ctx, 'hello-ext')).statusCode, 201);
    });
    after(() => closeAll(ctx, runner));

    test('a scrape after traffic shows requests by outcome and status class, latency, rate limits, cache and database', async () => {
      const get = (url: string, auth = ctx.adminA) =>
        ctx.server.app.inject({ method: 'GET', url, headers: { authorization: auth } });
      assert.equal((await get('/api/ext/hello-ext/hello')).statusCode, 200);
      assert.equal((await get('/api/ext/hello-ext/hello')).statusCode, 200);
      assert.equal((await get('/api/ext/hello-ext/hello')).statusCode, 429);
      assert.equal((await get('/api/ext/hello-ext/hello', 'Bearer alga_sk_wrong_wrong')).statusCode, 401);
      assert.equal((await get('/api/ext-proxy/hello-ext/hello')).statusCode, 404);

      const text = await scrape();
      assert.equal(sample(text, 'alga_gateway_requests_total{entry="api",outcome="ok",status_class="2xx"}'), 2);
      assert.equal(
        sample(text, 'alga_gateway_requests_total{entry="api",outcome="ALGA_RATE_LIMITED",status_class="4xx"}'),
        1,
      );
      assert.equal(
        sample(text, 'alga_gateway_requests_total{entry="api",outcome="ALGA_UNAUTHENTICATED",status_class="4xx"}'),
        1,
      );
      assert.equal(
        sample(text, 'alga_gateway_requests_total{entry="ui-proxy",outcome="ALGA_ROUTE_NOT_FOUND",status_class="4xx"}'),
        1,
      );
      assert.equal(sample(text, 'alga_gateway_request_duration_seconds_count{entry="api",status_class="2xx"}'), 2);
      assert.equal(sample(text, 'alga_gateway_rate_limited_total{entry="api"}'), 1);
      // The first lookup loads the install; the next ones are served from the cache.
      assert.ok(sample(text, 'alga_gateway_install_cache_lookups_total{result="miss"}') >= 1);
      assert.ok(sample(text, 'alga_gateway_install_cache_lookups_total{result="hit"}') >= 2);
      assert.ok(sample(text, 'alga_db_query_duration_seconds_count{op="query",result="ok"}') > 0);
      assert.equal(sample(text, 'alga_gateway_runners_up'), 1);
      assert.equal(sample(text, 'alga_secrets_expiring{window="7d"}'), 0);

      // Bounded labels: no tenant, install or request id anywhere in the output.
      const installId = (
        await ctx.server.app.inject({ method: 'GET', url: '/api/v1/installs', headers: { authorization: ctx.adminA } })
      ).json().installs[0].id as string;
      for (const id of [ctx.tenantA, installId, 'hello-ext']) assert.ok(!text.includes(id), `metrics name ${id}`);
    });

    test('a runner that refuses connections counts as a runner failure', async () => {
      const down = await startTestServer(ctx.db, {
        runnerUrl: 'http://127.0.0.1:9',
        migrate: false,
        gatewayRateLimit: false,
        // No health probe marks the runner down first (then the gateway would not try it at all).
        runnerHealthIntervalMs: 2 ** 30,
      });
      try {
        await publish(down, { ...sampleManifest(), name: 'other-ext' });
        await install(down, 'other-ext');
        const response = await down.server.app.inject({
          method: 'GET',
          url: '/api/ext/other-ext/hello',
          headers: { authorization: down.adminA },
        });
        assert.equal(response.statusCode, 503);
        const text = (await down.server.app.inject({ method: 'GET', url: '/metrics' })).body;
        assert.equal(sample(text, 'alga_gateway_runner_failures_total{reason="connect"}'), 1);
        assert.equal(
          sample(text, 'alga_gateway_requests_total{entry="api",outcome="ALGA_RUNNER_UNAVAILABLE",status_class="5xx"}'),
          1,
        );
      } finally {
        await down.close();
      }
    });

    test('health probes and scrapes are logged at debug only; other requests still at info', async () => {
      const before = logs.length;
      await ctx.server.app.inject({ method: 'GET', url: '/healthz' });
      await scrape();
      assert.deepEqual(
        logs.slice(before).filter((line) => line.level >= 30),
        [],
      );
      const probes = logs.slice(before).filter((line) => line.level === 20 && line.msg === 'request completed');
      assert.equal(probes.length, 2, 'each probe is still logged, at debug');
      await ctx.server.app.inject({ method: 'GET', url: '/api/v1/installs', headers: { authorization: ctx.adminA } });
      assert.ok(logs.slice(before).some((line) => line.level === 30 && line.req?.url === '/api/v1/installs'));
    });
  });
}
