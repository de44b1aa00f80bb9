import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { CSRF_HEADER, type ExecuteRequest } from '@alga-psa/protocol';
import { testEngines } from '../testing/databases.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';
import { NO_DEADLINE_MS } from '../testing/wait.ts';
import { createSession, createUser, tenantName } from '../auth/session.ts';
import { SESSION_COOKIE } from '../web/security.ts';

interface Captured {
  url: string;
  headers: IncomingHttpHeaders;
  body: ExecuteRequest;
}

/** A stand-in runner: records what it receives and answers what the test says. */
async function startFakeRunner() {
  const received: Captured[] = [];
  /** `delayMs: 'never'`: the runner takes the request and never answers. */
  let answer: (request: ExecuteRequest) => { status: number; body: unknown; delayMs?: number | 'never' } = () => ({
    status: 200,
    body: {
      status: 200,
      headers: {
        'content-type': 'text/plain',
        'set-cookie': 'a=b',
        connection: 'close',
        'x-ext-guest': 'yes',
        'x-powered-by': 'guest',
      },
      body_b64: Buffer.from('hi from guest').toString('base64'),
    },
  });
  const server: Server = createHttpServer((request, response) => {
    // The gateway's background health probe.
    if (request.url === '/readyz') return void response.end('{"status":"ready"}');
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExecuteRequest;
      received.push({ url: request.url ?? '', headers: request.headers, body });
      const reply = answer(body);
      if (reply.delayMs === 'never') return;
      setTimeout(() => {
        if (!response.destroyed)
          response.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    respond(fn: typeof answer) {
      answer = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function unusedPortUrl(): Promise<string> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

for (const engine of testEngines()) {
  describe(`gateway (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startFakeRunner>>;
    let contentHash: string;
    const secretValue = 'tok-plaintext-123';

    before(async () => {
      runner = await startFakeRunner();
      ctx = await startTestServer(await engine.open(), { runnerUrl: runner.url, executionTimeoutMs: 2_000 });
      contentHash = await publish(ctx, sampleManifest());
      await install(ctx, 'hello-ext');
      await ctx.server.app.inject({
        method: 'PUT',
        url: '/api/v1/installs/hello-ext/config',
        headers: { authorization: ctx.adminA },
        payload: { config: { greeting: 'Howdy', retries: 1, mode: 'safe' } },
      });
      await ctx.server.app.inject({
        method: 'PUT',
        url: '/api/v1/installs/hello-ext/secrets/api_token',
        headers: { authorization: ctx.adminA },
        payload: { value: secretValue },
      });
    });
    after(() => closeAll(ctx, runner));
    beforeEach(() => {
      runner.received.length = 0;
    });

    const call = (
      method: 'GET' | 'POST' | 'DELETE',
      url: string,
      auth: string | undefined,
      extra: { payload?: string; headers?: Record<string, string> } = {},
    ) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { ...(auth ? { authorization: auth } : {}), cookie: 'session=abc', ...extra.headers },
        ...(extra.payload === undefined ? {} : { payload: extra.payload }),
      });

    test('the runner receives config, providers and ciphertext envelope, never credentials', async () => {
      const response = await call('POST', '/api/ext/hello-ext/items/42?x=1&y=2', ctx.adminA, {
        payload: '{"a":1}',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-gw-1', 'x-other': 'dropped' },
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.body, 'hi from guest');
      assert.equal(response.headers['x-ext-guest'], 'yes');
      assert.equal(response.headers['x-powered-by'], undefined, 'response headers are allowlisted');
      // Never a document of the platform's origin: sandboxed, no sniffing.
      assert.equal(response.headers['content-security-policy'], "sandbox; default-src 'none'; frame-ancestors 'none'");
      assert.equal(response.headers['x-content-type-options'], 'nosniff');
      assert.equal(response.headers['set-cookie'], undefined);
      assert.equal(response.headers['x-request-id'], 'req-gw-1');

      assert.equal(runner.received.length, 1);
      const { headers, body } = runner.received[0]!;
      // Only the gateway's own service token, never the caller's API key.
      assert.match(String(headers['authorization']), /^Bearer eyJ/);
      assert.doesNotMatch(String(headers['authorization']), /alga_sk_/);
      assert.equal(headers['x-ext-config-version'], '2');
      assert.equal(headers['x-ext-secrets-version'], '1');
      assert.equal(body.context.tenant_id, ctx.tenantA);
      assert.equal(body.context.extension_id, 'hello-ext');
      assert.equal(body.context.content_hash, contentHash);
      assert.equal(body.context.request_id, 'req-gw-1');
      assert.deepEqual(body.config, { greeting: 'Howdy', retries: 1, mode: 'safe' });
      assert.deepEqual(body.providers, ['cap:context.read', 'cap:http.fetch', 'cap:log.emit', 'cap:secrets.get']);
      assert.equal(body.secret_envelope?.version, '1');
      assert.equal(body.secret_envelope?.algorithm, 'aes-256-gcm');
      assert.equal(body.secret_envelope?.key_ref, ctx.keyring.keyRef);
      assert.match(body.secret_envelope?.ciphertexts['api_token'] ?? '', /^vault:v1:/);
      assert.deepEqual(body.http, {
        method: 'POST',
        path: '/items/42',
        query: 'x=1&y=2',
        headers: { 'content-type': 'application/json', 'user-agent': 'lightMyRequest', 'x-request-id': 'req-gw-1' },
        body_b64: Buffer.from('{"a":1}').toString('base64'),
      });
      assert.equal(body.limits?.timeout_ms, 2_000);
      assert.deepEqual(body.egress, { allowed_hosts: ['api.example.com'] });
      const raw = JSON.stringify(runner.received[0]);
      assert.ok(!raw.includes(secretValue), 'plaintext secret reached the runner');
      assert.ok(!raw.includes('alga_sk_') && !raw.includes('session=abc'));
    });

    test("hosts an admin grants the install reach the runner beside the manifest's; another tenant cannot grant them", async () => {
      const grant = (hosts: string[], auth = ctx.adminA) =>
        ctx.server.app.inject({
          method: 'PUT',
          url: '/api/v1/installs/hello-ext/egress',
          headers: { authorization: auth },
          payload: { hosts },
        });
      assert.equal((await grant(['granted.example.org', 'api.example.com'], ctx.adminB)).statusCode, 404);
      const granted = await grant(['granted.example.org', 'api.example.com']);
      assert.equal(granted.statusCode, 200, granted.body);
      assert.deepEqual(granted.json(), { hosts: ['api.example.com', 'granted.example.org'] });
      assert.equal((await call('GET', '/api/ext/hello-ext/hello', ctx.adminA)).statusCode, 200);
      assert.deepEqual(runner.received.at(-1)?.body.egress, {
        allowed_hosts: ['api.example.com', 'granted.example.org'],
      });
      assert.equal((await grant([])).statusCode, 200);
      assert.equal((await call('GET', '/api/ext/hello-ext/hello', ctx.adminA)).statusCode, 200);
      assert.deepEqual(runner.received.at(-1)?.body.egress, { allowed_hosts: ['api.example.com'] });
    });

    test('config and secret writes are visible on the next call (cache invalidated)', async () => {
      await ctx.server.app.inject({
        method: 'PUT',
        url: '/api/v1/installs/hello-ext/config',
        headers: { authorization: ctx.adminA },
        payload: { config: { greeting: 'Changed', retries: 1, mode: 'safe' } },
      });
      await call('GET', '/api/ext/hello-ext/hello', ctx.adminA);
      assert.equal(runner.received[0]?.body.config['greeting'], 'Changed');
      assert.equal(runner.received[0]?.headers['x-ext-config-version'], '3');
    });

    test('a wrong API key is a 401 and reaches no runner', async () => {
      const response = await call(
        'GET',
        '/api/ext/hello-ext/hello',
        'Bearer alga_sk_0000000000000000_' + 'b'.repeat(43),
      );
      assert.equal(response.statusCode, 401);
      assert.equal((await call('GET', '/api/ext/hello-ext/hello', undefined)).statusCode, 401);
      assert.equal(runner.received.length, 0);
    });

    test("another tenant's install and an uninstalled extension are the same 404", async () => {
      const other = await call('GET', '/api/ext/hello-ext/hello', ctx.adminB);
      const missing = await call('GET', '/api/ext/not-here/hello', ctx.adminA);
      assert.equal(other.statusCode, 404);
      assert.equal(missing.statusCode, 404);
      assert.equal(other.json().error.code, 'ALGA_NOT_FOUND');
      assert.equal(
        other.json().error.message.replace('hello-ext', 'X'),
        missing.json().error.message.replace('not-here', 'X'),
      );
      assert.equal(runner.received.length, 0);
    });

    test('a route the manifest does not declare is ALGA_ROUTE_NOT_FOUND', async () => {
      const response = await call('GET', '/api/ext/hello-ext/admin', ctx.adminA);
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().error.code, 'ALGA_ROUTE_NOT_FOUND');
      assert.equal(
        (await call('DELETE', '/api/ext/hello-ext/items/1', ctx.adminA)).json().error.code,
        'ALGA_ROUTE_NOT_FOUND',
      );
    });

    test('a viewer may call GET endpoints but not writes', async () => {
      assert.equal((await call('GET', '/api/ext/hello-ext/hello', ctx.viewerA)).statusCode, 200);
      assert.equal((await call('POST', '/api/ext/hello-ext/items/1', ctx.viewerA)).statusCode, 403);
    });

    test('a runner timeout becomes 504 ALGA_TIMEOUT with the request id', async () => {
      runner.respond(() => ({
        status: 504,
        body: { error: { code: 'ALGA_TIMEOUT', message: 'Guest exceeded 2000 ms.' } },
      }));
      try {
        const response = await call('GET', '/api/ext/hello-ext/hello', ctx.adminA, {
          headers: { 'x-request-id': 'req-timeout' },
        });
        assert.equal(response.statusCode, 504);
        assert.deepEqual(response.json(), {
          error: { code: 'ALGA_TIMEOUT', message: 'Guest exceeded 2000 ms.', requestId: 'req-timeout' },
        });
      } finally {
        runner.respond(() => ({ status: 200, body: { status: 204, headers: {}, body_b64: null } }));
      }
    });

    test('other runner errors become 502 with their message kept', async () => {
      runner.respond(() => ({ status: 500, body: { error: { code: 'ALGA_INTERNAL', message: 'Worker crashed.' } } }));
      try {
        const response = await call('GET', '/api/ext/hello-ext/hello', ctx.adminA);
        assert.equal(response.statusCode, 502);
        assert.equal(response.json().error.code, 'ALGA_EXECUTION_FAILED');
        assert.equal(response.json().error.message, 'Worker crashed.');
        assert.equal(response.json().error.details.runnerCode, 'ALGA_INTERNAL');
      } finally {
        runner.respond(() => ({ status: 200, body: { status: 204, headers: {}, body_b64: null } }));
      }
    });

    test('a body over 1 MiB is a 413', async () => {
      const response = await call('POST', '/api/ext/hello-ext/items/1', ctx.adminA, {
        payload: 'x'.repeat(1024 * 1024 + 1),
        headers: { 'content-type': 'application/octet-stream' },
      });
      assert.equal(response.statusCode, 413);
      assert.equal(response.json().error.code, 'ALGA_PAYLOAD_TOO_LARGE');
    });

    test('a runner that is down is a 503 ALGA_RUNNER_UNAVAILABLE', async () => {
      const down = await startTestServer(ctx.db, { runnerUrl: await unusedPortUrl() });
      try {
        await publish(down, sampleManifest({ name: 'down-ext' }));
        await install(down, 'down-ext');
        const response = await down.server.app.inject({
          method: 'GET',
          url: '/api/ext/down-ext/hello',
          headers: { authorization: down.adminA },
        });
        assert.equal(response.statusCode, 503);
        assert.equal(response.json().error.code, 'ALGA_RUNNER_UNAVAILABLE');
      } finally {
        await down.close();
      }
    });

    test('the gateway waits longer than the execution deadline', async () => {
      // A slow runner that answers after the execution deadline, inside the gateway's margin, is relayed,
      // not cut off. The margin is one no machine could use up, so only the order of the two matters.
      runner.respond(() => ({ status: 200, body: { status: 200, headers: {}, body_b64: null }, delayMs: 300 }));
      const slow = await startTestServer(ctx.db, {
        runnerUrl: runner.url,
        executionTimeoutMs: 100,
        runnerTimeoutMs: NO_DEADLINE_MS,
      });
      // A runner that never answers is cut off at the gateway's own deadline (nothing else could end the call).
      const cutOff = await startTestServer(ctx.db, {
        runnerUrl: runner.url,
        executionTimeoutMs: 100,
        runnerTimeoutMs: 1_000,
      });
      const call = (server: TestContext, name: string) =>
        server.server.app.inject({
          method: 'GET',
          url: `/api/ext/${name}/hello`,
          headers: { authorization: server.adminA },
        });
      try {
        await publish(slow, sampleManifest({ name: 'slow-ext' }));
        await install(slow, 'slow-ext');
        await publish(cutOff, sampleManifest({ name: 'hung-ext' }));
        await install(cutOff, 'hung-ext');
        assert.equal((await call(slow, 'slow-ext')).statusCode, 200);
        runner.respond(() => ({ status: 200, body: {}, delayMs: 'never' }));
        const hung = await call(cutOff, 'hung-ext');
        assert.equal(hung.statusCode, 504);
        assert.equal(hung.json().error.code, 'ALGA_TIMEOUT');
        await assert.rejects(
          startTestServer(ctx.db, { executionTimeoutMs: 5_000, runnerTimeoutMs: 5_000 }),
          /must be longer/,
        );
      } finally {
        runner.respond(() => ({ status: 200, body: { status: 204, headers: {}, body_b64: null } }));
        await slow.close();
        await cutOff.close();
      }
    });

    test('installing or upgrading has the runners prepare the bundle, with a prepare-scoped token', async () => {
      const reinstall = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/installs',
        headers: { authorization: ctx.adminA },
        payload: { extensionId: 'hello-ext' },
      });
      assert.equal(reinstall.statusCode, 200);
      const prepared = runner.received.filter((r) => r.url === '/v1/prepare');
      assert.equal(prepared.length, 1);
      assert.deepEqual(prepared[0]!.body, { content_hash: contentHash });
      const token = /^Bearer (.+)$/.exec(String(prepared[0]!.headers.authorization))![1]!;
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      assert.equal(claims.scope, 'prepare');
      assert.equal(claims.tid, ctx.tenantA);
      assert.equal(runner.received.length, 1, 'preparing executes nothing');
    });

    describe('signed-in browser sessions', () => {
      const sessionFor = async (tenantId: string, role: 'admin' | 'viewer') => {
        const email = `${role}-${tenantId.slice(0, 8)}-${Math.random().toString(36).slice(2, 8)}@example.test`;
        const { userId } = await createUser(ctx.db, {
          tenantId,
          email,
          role,
          password: 'pw-long-enough-123',
          name: `A ${role}`,
        });
        const { token } = await createSession(ctx.db, userId);
        return { userId, email, cookie: `${SESSION_COOKIE}=${token}` };
      };
      const withSession = (method: 'GET' | 'POST', url: string, cookie: string, headers: Record<string, string> = {}) =>
        ctx.server.app.inject({
          method,
          url,
          headers: { cookie, ...headers },
          ...(method === 'POST' ? { payload: '{}' } : {}),
        });

      test('a session reads through the gateway, and the guest learns who the user is', async () => {
        const admin = await sessionFor(ctx.tenantA, 'admin');
        const response = await withSession('GET', '/api/ext/hello-ext/hello', admin.cookie);
        // Whatever the stand-in runner was last told to answer, the call got through to it.
        assert.ok(response.statusCode < 300, String(response.statusCode));
        assert.equal(runner.received.length, 1);
        const { headers, body } = runner.received[0]!;
        assert.deepEqual(body.user, {
          user_id: admin.userId,
          user_email: admin.email,
          user_name: 'A admin',
          // As on the reference host: staff are internal, and client-name is the tenant's company.
          user_type: 'internal',
          client_name: await tenantName(ctx.db, ctx.tenantA),
        });
        assert.equal(headers.cookie, undefined, 'the session cookie never reaches the runner');
        assert.equal(JSON.stringify(body.http.headers).includes('alga_session'), false);
      });

      test('a session write needs our own Origin and the x-alga-csrf header', async () => {
        const admin = await sessionFor(ctx.tenantA, 'admin');
        const noOrigin = await withSession('POST', '/api/ext/hello-ext/items/1', admin.cookie, { [CSRF_HEADER]: '1' });
        assert.equal(noOrigin.statusCode, 403);
        const foreign = await withSession('POST', '/api/ext/hello-ext/items/1', admin.cookie, {
          origin: 'https://evil.example',
          [CSRF_HEADER]: '1',
        });
        assert.equal(foreign.statusCode, 403);
        const noHeader = await withSession('POST', '/api/ext/hello-ext/items/1', admin.cookie, {
          origin: 'http://localhost',
        });
        assert.equal(noHeader.statusCode, 403);
        assert.equal(runner.received.length, 0, 'refused writes never reach the runner');
        const ok = await withSession('POST', '/api/ext/hello-ext/items/1', admin.cookie, {
          origin: 'http://localhost',
          [CSRF_HEADER]: '1',
          'content-type': 'application/json',
        });
        assert.ok(ok.statusCode < 300, String(ok.statusCode));
        assert.equal(runner.received.length, 1);
      });

      test("a viewer session only reads; another tenant's session cannot see the install; an unknown one is 401", async () => {
        const viewer = await sessionFor(ctx.tenantA, 'viewer');
        const write = await withSession('POST', '/api/ext/hello-ext/items/1', viewer.cookie, {
          origin: 'http://localhost',
          [CSRF_HEADER]: '1',
        });
        assert.equal(write.statusCode, 403);
        const other = await sessionFor(ctx.tenantB, 'admin');
        const hidden = await withSession('GET', '/api/ext/hello-ext/hello', other.cookie);
        assert.equal(hidden.statusCode, 404);
        const unknown = await withSession('GET', '/api/ext/hello-ext/hello', `${SESSION_COOKIE}=${'x'.repeat(43)}`);
        assert.equal(unknown.statusCode, 401);
        assert.equal(runner.received.length, 0);
      });
    });
  });
}
