import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ServiceTokenSigner } from '@alga-psa/service-auth';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';
import { verifierFromSigningKeyFile } from '../service-keys.ts';
import { InstallRateLimiter, rateLimitFromEnv } from './rate-limit.ts';
import { responseHeadersForClient } from './headers.ts';

test('token bucket: burst, then refill at the sustained rate, per install', () => {
  let now = 0;
  const limiter = new InstallRateLimiter({ perSecond: 2, burst: 3 }, () => now);
  assert.deepEqual(
    [1, 2, 3].map(() => limiter.take('a')),
    [0, 0, 0],
  );
  assert.equal(limiter.take('a'), 1);
  assert.equal(limiter.take('b'), 0, 'another install has its own bucket');
  now += 500;
  assert.equal(limiter.take('a'), 0);
  assert.equal(rateLimitFromEnv({}), undefined);
  assert.equal(rateLimitFromEnv({ ALGA_GATEWAY_RATE_LIMIT: '0' }), false);
  assert.deepEqual(rateLimitFromEnv({ ALGA_GATEWAY_RATE_LIMIT: '5', ALGA_GATEWAY_RATE_BURST: '7' }), {
    perSecond: 5,
    burst: 7,
  });
  assert.throws(() => rateLimitFromEnv({ ALGA_GATEWAY_RATE_LIMIT: 'lots' }), /ALGA_GATEWAY_RATE_LIMIT/);
});

test('response headers: allowlist plus x-ext-*, no CR/LF injection', () => {
  assert.deepEqual(
    responseHeadersForClient({
      'Content-Type': 'text/plain',
      'set-cookie': 'a=b',
      'x-ext-trace': '1',
      'x-ext-config-version': '9',
      server: 'guest',
      'cache-control': 'no-store\r\nset-cookie: a=b',
    }),
    { 'content-type': 'text/plain', 'x-ext-trace': '1', 'x-ext-config-version': '9' },
  );
});

for (const engine of testEngines()) {
  describe(`gateway hardening, UI proxy and runner install-config (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    let dir: string;
    let signer: ServiceTokenSigner;
    let installId: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'alga-gw-'));
      const { privateKey } = generateKeyPairSync('ed25519');
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      await writeFile(path.join(dir, 'signing.pem'), pem, { mode: 0o600 });
      signer = ServiceTokenSigner.fromPem(pem);
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), {
        runnerUrl: runner.url,
        gatewayRateLimit: { perSecond: 0.001, burst: 8 },
        serviceVerifier: await verifierFromSigningKeyFile(path.join(dir, 'signing.pem')),
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
      installId = (await install(ctx, 'gw-ext')).json().install.id;
      await publish(ctx, sampleManifest({ name: 'limit-ext' }));
      await install(ctx, 'limit-ext');
      await ctx.server.app.inject({
        method: 'PUT',
        url: '/api/v1/installs/gw-ext/secrets/api_token',
        headers: { authorization: ctx.adminA },
        payload: { value: 'proxy-secret-value' },
      });
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
      await runner.close();
      await rm(dir, { recursive: true, force: true });
    });
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

    const installConfig = (token?: string) =>
      ctx.server.app.inject({
        method: 'POST',
        url: '/api/internal/ext-runner/install-config',
        headers: token ? { authorization: `Bearer ${token}` } : {},
        payload: { installId: 'ignored' },
      });

    test("install-config returns the token's install only: config, providers, envelope, versions", async () => {
      const token = await signer.sign(
        { audience: 'alga-server', tenantId: ctx.tenantA, installId, scope: ['install-config'] },
        30,
      );
      const response = await installConfig(token);
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.deepEqual(body.config, { greeting: 'Hello', retries: 3, mode: 'fast' });
      assert.ok(body.providers.includes('cap:secrets.get'));
      assert.match(body.secret_envelope.ciphertexts.api_token, /^vault:v1:/);
      assert.equal(body.configVersion, 1);
      assert.equal(body.secretsVersion, 1);
      assert.ok(!response.body.includes('proxy-secret-value'));
    });

    test('install-config refuses missing, foreign, wrong-scope and wrong-audience tokens', async () => {
      assert.equal((await installConfig()).statusCode, 401);
      assert.equal((await installConfig('not-a-jwt')).statusCode, 401);
      const wrongScope = await signer.sign(
        { audience: 'alga-server', tenantId: ctx.tenantA, installId, scope: ['storage'] },
        30,
      );
      assert.equal((await installConfig(wrongScope)).statusCode, 403);
      const wrongAudience = await signer.sign(
        { audience: 'alga-runner', tenantId: ctx.tenantA, installId, scope: ['install-config'] },
        30,
      );
      assert.equal((await installConfig(wrongAudience)).statusCode, 401);
      // Tenant B's token naming tenant A's install finds nothing.
      const foreign = await signer.sign(
        { audience: 'alga-server', tenantId: ctx.tenantB, installId, scope: ['install-config'] },
        30,
      );
      const response = await installConfig(foreign);
      assert.equal(response.statusCode, 404);
      assert.ok(!response.body.includes('Hello'));
      const otherKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const forged = await ServiceTokenSigner.fromPem(otherKey).sign(
        { audience: 'alga-server', tenantId: ctx.tenantA, installId, scope: ['install-config'] },
        30,
      );
      assert.equal((await installConfig(forged)).statusCode, 401);
    });
  });
}
