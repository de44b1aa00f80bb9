import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import Fastify from 'fastify';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';
import { DEFAULT_GATEWAY_RATE_LIMIT, installRateLimiter, rateLimitFromEnv } from './rate-limit.ts';
import { responseHeadersForClient } from './headers.ts';
import { gatewayMaxBodyFromEnv } from './index.ts';

test('rate limit: a burst per install, then nothing until its window of burst/perSecond seconds ends', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 0 });
  const app = Fastify();
  const limit = await installRateLimiter(app, { perSecond: 2, burst: 3 });
  app.get<{ Params: { install: string } }>('/:install', async (request) => ({
    wait: await limit(request, request.params.install),
  }));
  const take = async (installId: string) => (await app.inject(`/${installId}`)).json<{ wait: number }>().wait;
  try {
    assert.deepEqual([await take('a'), await take('a'), await take('a')], [0, 0, 0]);
    // The window is 3 / 2 = 1.5 s long: Retry-After rounds its remaining time up.
    assert.equal(await take('a'), 2);
    assert.equal(await take('b'), 0, 'another install has its own window');
    t.mock.timers.tick(1_000);
    assert.equal(await take('a'), 1);
    t.mock.timers.tick(500);
    assert.equal(await take('a'), 0, 'a new window, a new burst');
  } finally {
    await app.close();
  }
  assert.equal(rateLimitFromEnv({}), undefined);
  assert.equal(rateLimitFromEnv({ ALGA_GATEWAY_RATE_LIMIT: '0' }), false);
  assert.deepEqual(rateLimitFromEnv({ ALGA_GATEWAY_RATE_LIMIT: '5', ALGA_GATEWAY_RATE_BURST: '7' }), {
    perSecond: 5,
    burst: 7,
  });
  assert.throws(() => rateLimitFromEnv({ ALGA_GATEWAY_RATE_LIMIT: 'lots' }), /ALGA_GATEWAY_RATE_LIMIT/);
  assert.deepEqual(rateLimitFromEnv({ ALGA_GATEWAY_RATE_BURST: '7' }), {
    perSecond: DEFAULT_GATEWAY_RATE_LIMIT.perSecond,
    burst: 7,
  });
});

test('rate limit: the default lets a load test of one install through (a thousand requests at once), not only a trickle', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 0 });
  const app = Fastify();
  const limit = await installRateLimiter(app, DEFAULT_GATEWAY_RATE_LIMIT);
  app.get('/', async (request) => ({ wait: await limit(request, 'busy-install') }));
  try {
    const waits = await Promise.all(
      Array.from({ length: 1000 }, async () => (await app.inject('/')).json<{ wait: number }>().wait),
    );
    assert.equal(waits.filter((wait) => wait > 0).length, 0);
  } finally {
    await app.close();
  }
});

test('ALGA_GATEWAY_MAX_BODY_BYTES: unset is the default, up to 10 MiB is taken, anything else stops the start', () => {
  assert.equal(gatewayMaxBodyFromEnv({}), undefined);
  assert.equal(gatewayMaxBodyFromEnv({ ALGA_GATEWAY_MAX_BODY_BYTES: String(10 * 1024 * 1024) }), 10 * 1024 * 1024);
  for (const bad of ['0', '1023', String(10 * 1024 * 1024 + 1), '2048.5', 'lots'])
    assert.throws(() => gatewayMaxBodyFromEnv({ ALGA_GATEWAY_MAX_BODY_BYTES: bad }), /1024 to 10485760/, bad);
});

test('response headers: allowlist plus x-ext-*, no CR/LF injection, nothing Node could not send', () => {
  assert.deepEqual(
    responseHeadersForClient({
      'Content-Type': 'text/plain',
      'set-cookie': 'a=b',
      'x-ext-trace': '1',
      'x-ext-config-version': '9',
      server: 'guest',
      'cache-control': 'no-store\r\nset-cookie: a=b',
      'content-security-policy': 'script-src *',
      'x-ext-nul': 'a\0b',
      'x-ext-emoji': '\u{1F680}',
      'x-ext-a b': 'spaced name',
      'x-ext-\u00e4': 'non-token name',
      'x-ext-latin1': 'caf\u00e9',
    }),
    { 'content-type': 'text/plain', 'x-ext-trace': '1', 'x-ext-config-version': '9', 'x-ext-latin1': 'caf\u00e9' },
  );
});

for (const engine of testEngines()) {
  describe(`gateway hardening and UI proxy (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), {
        runnerUrl: runner.url,
        gatewayRateLimit: { perSecond: 0.001, burst: 8 },
      });
      const manifest = sampleManifest({
        name: 'gw-ext',
        api: {
          endpoints: [
            { method: 'GET', path: '/hello' },
            { method: 'GET', path: '/ui-data', proxy: true },
            { method: 'POST', path: '/ui-save', proxy: true },
          ],
        },
      });
      await publish(ctx, manifest);
      await install(ctx, 'gw-ext');
      await publish(ctx, sampleManifest({ name: 'limit-ext' }));
      await install(ctx, 'limit-ext');
      await ctx.server.app.inject({
        method: 'PUT',
        url: '/api/v1/installs/gw-ext/secrets/api_token',
        headers: { authorization: ctx.adminA },
        payload: { value: 'proxy-secret-value' },
      });
    });
    after(() => closeAll(ctx, runner));
    beforeEach(() => {
      runner.received.length = 0;
    });

    const call = (
      method: 'GET' | 'POST' | 'HEAD' | 'PUT',
      url: string,
      auth?: string,
      headers = {},
      payload?: string,
    ) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { ...(auth ? { authorization: auth } : {}), ...headers },
        ...(payload === undefined ? {} : { payload }),
      });

    test('a Content-Length over the cap is a 413 before authentication, with a request id', async () => {
      const response = await call('POST', '/api/ext/gw-ext/ui-save', undefined, {
        'content-length': String(2 * 1024 * 1024),
        'x-request-id': 'big-1',
      });
      assert.equal(response.statusCode, 413);
      assert.equal(response.json().error.code, 'ALGA_PAYLOAD_TOO_LARGE');
      assert.equal(response.json().error.requestId, 'big-1');
      assert.equal(runner.received.length, 0);
    });

    test('UI proxy: only "proxy": true endpoints, marked x-alga-entry: ui-proxy, secrets only as ciphertext', async () => {
      const ok = await call('GET', '/api/ext-proxy/gw-ext/ui-data?x=1', ctx.adminA, { cookie: 'sid=1' });
      assert.equal(ok.statusCode, 200, ok.body);
      const sent = runner.received[0]!.body;
      assert.equal(sent.http.headers['x-alga-entry'], 'ui-proxy');
      assert.equal(sent.http.path, '/ui-data');
      assert.equal(sent.http.query, 'x=1');
      assert.equal(sent.http.headers['cookie'], undefined);
      assert.ok(!JSON.stringify(sent).includes('proxy-secret-value'));
      assert.ok(!ok.body.includes('proxy-secret-value') && !ok.body.includes('vault:v'));
      const notProxied = await call('GET', '/api/ext-proxy/gw-ext/hello', ctx.adminA);
      assert.equal(notProxied.statusCode, 404);
      assert.equal(notProxied.json().error.code, 'ALGA_ROUTE_NOT_FOUND');
      assert.match(notProxied.json().error.message, /"proxy": true/);
      const direct = await call('GET', '/api/ext/gw-ext/hello', ctx.adminA);
      assert.equal(direct.statusCode, 200);
      assert.equal(runner.received.at(-1)!.body.http.headers['x-alga-entry'], undefined);
    });

    test('viewers may only GET, through both doors; an unauthenticated proxy call is 401', async () => {
      assert.equal((await call('GET', '/api/ext-proxy/gw-ext/ui-data', ctx.viewerA)).statusCode, 200);
      const write = await call('POST', '/api/ext-proxy/gw-ext/ui-save', ctx.viewerA, {}, 'x');
      assert.equal(write.statusCode, 403);
      assert.equal(write.json().error.code, 'ALGA_FORBIDDEN');
      assert.equal((await call('GET', '/api/ext-proxy/gw-ext/ui-data')).statusCode, 401);
      assert.equal((await call('POST', '/api/ext-proxy/gw-ext/ui-save', ctx.adminA, {}, 'x')).statusCode, 200);
    });

    test('per-install rate limit: 429 with Retry-After and the request id; other installs unaffected', async () => {
      const statuses: number[] = [];
      let limited;
      for (let i = 0; i < 10; i++) {
        const response = await call('GET', '/api/ext/limit-ext/hello', ctx.adminA, { 'x-request-id': `rl-${i}` });
        statuses.push(response.statusCode);
        if (response.statusCode === 429) limited = response;
      }
      assert.deepEqual(statuses, [...Array(8).fill(200), 429, 429]);
      assert.equal(limited!.json().error.code, 'ALGA_RATE_LIMITED');
      assert.equal(limited!.json().error.requestId, 'rl-9');
      assert.ok(Number(limited!.headers['retry-after']) >= 1);
      assert.equal(limited!.headers['x-request-id'], 'rl-9');
    });
  });
}
