import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHandler, json, HttpError } from './index.ts';
import type { StorageError, ProxyError, UserError, SecretError } from './index.ts';
import { createMockHost } from './testing.ts';

const manifest = {
  capabilities: ['cap:http.fetch', 'cap:storage.kv', 'cap:ui.proxy', 'cap:user.read', 'cap:secrets.get'],
  allowedHosts: ['api.example.com'],
  settings: [{ key: 'greeting', default: 'Hello' }],
};

test('http.fetch sends method, headers and a JSON body, and reads the response', async () => {
  const host = createMockHost({
    manifest,
    http: { 'POST https://api.example.com/items': (req) => ({ status: 201, json: { got: req.json() } }) },
  });
  const response = await host.invoke(
    createHandler(async (_r, ctx) => {
      const res = await ctx.http.fetch('https://api.example.com/items?x=1', {
        headers: { authorization: 'Bearer t' },
        json: { a: 1 },
      });
      return json({ status: res.status, ok: res.ok, body: res.json(), type: res.headers['content-type'] });
    }),
  );
  assert.deepEqual(response.json(), { status: 201, ok: true, body: { got: { a: 1 } }, type: 'application/json' });
  assert.equal(host.requests[0]?.method, 'POST');
  assert.equal(host.requests[0]?.headers['authorization'], 'Bearer t');
  assert.equal(host.requests[0]?.headers['content-type'], 'application/json');
});

test('a host outside allowedHosts rejects with not-allowed and names the entry to add', async () => {
  const host = createMockHost({ manifest });
  let caught: unknown;
  await host.invoke(
    createHandler(async (_r, ctx) => {
      await ctx.http.fetch('https://evil.example.org:8443/x?token=abc').catch((e: unknown) => (caught = e));
      return json({});
    }),
  );
  assert.ok(caught instanceof HttpError);
  assert.equal(caught.code, 'not-allowed');
  assert.equal(caught.allowedHostsEntry, 'evil.example.org:8443');
  assert.match(caught.message, /add "evil\.example\.org:8443" to "allowedHosts"/);
  assert.doesNotMatch(caught.message, /token=abc/);
});

test('http errors tell invalid-url, transport and an undeclared capability apart', async () => {
  const codes: string[] = [];
  const handler = createHandler(async (_r, ctx) => {
    for (const url of ['ftp://api.example.com/', 'https://api.example.com/']) {
      await ctx.http.fetch(url).catch((e: HttpError) => codes.push(e.code));
    }
    return json({});
  });
  await createMockHost({ manifest, httpError: 'transport' }).invoke(handler);
  await createMockHost({ manifest: { capabilities: [] } }).invoke(handler);
  assert.deepEqual(codes, ['invalid-url', 'transport', 'not-declared', 'not-declared']);
});

test('storage: put returns a bigint revision, a stale expectedRevision conflicts, list pages', async () => {
  const host = createMockHost({ manifest, storagePageSize: 2 });
  const response = await host.invoke(
    createHandler(async (_r, ctx) => {
      const r1 = await ctx.storage.put('a', { n: 1 });
      const r2 = await ctx.storage.put('a', { n: 2 }, { expectedRevision: r1 });
      const conflict = await ctx.storage
        .put('a', { n: 3 }, { expectedRevision: r1 })
        .catch((e: StorageError) => e.code);
      const createOnly = await ctx.storage.put('a', 'x', { expectedRevision: 0n }).catch((e: StorageError) => e.code);
      await ctx.storage.put('b', 'text');
      await ctx.storage.put('c', new Uint8Array([1, 2]));
      const page1 = await ctx.storage.list();
      const page2 = await ctx.storage.list({ cursor: page1.nextCursor });
      const entry = await ctx.storage.get('a');
      return json({
        types: [typeof r1, typeof r2],
        increasing: r2 > r1,
        conflict,
        createOnly,
        value: entry?.json(),
        b: (await ctx.storage.get('b'))?.text(),
        missing: (await ctx.storage.get('nope')) ?? null,
        pages: [page1.entries.map((e) => e.key), page1.nextCursor, page2.entries.map((e) => e.key), page2.nextCursor],
        deleted: [await ctx.storage.delete('b'), await ctx.storage.delete('b')],
        other: (await ctx.storage.namespace('other').get('a')) ?? null,
      });
    }),
  );
  assert.deepEqual(response.json(), {
    types: ['bigint', 'bigint'],
    increasing: true,
    conflict: 'conflict',
    createOnly: 'conflict',
    value: { n: 2 },
    b: 'text',
    missing: null,
    pages: [['a', 'b'], 'b', ['c'], null],
    deleted: [true, false],
    other: null,
  });
  assert.equal(host.storage.get('a')?.value, '{"n":2}');
});

test('storage without the capability granted rejects with denied', async () => {
  const host = createMockHost({ manifest, deny: ['cap:storage.kv'] });
  const response = await host.invoke(
    createHandler(async (_r, ctx) => json({ code: await ctx.storage.get('a').catch((e: StorageError) => e.code) })),
  );
  assert.deepEqual(response.json(), { code: 'denied' });
});

test('uiProxy.call and user() answer from the mock; errors are typed', async () => {
  const user = {
    tenantId: 't',
    clientName: 'c',
    userId: 'u-1',
    userEmail: 'u@example.com',
    userName: 'U',
    userType: 'internal',
  };
  const host = createMockHost({
    manifest,
    user,
    uiProxy: { echo: (payload) => ({ echoed: JSON.parse(new TextDecoder().decode(payload)) as unknown }) },
  });
  const response = await host.invoke(
    createHandler(async (_r, ctx) =>
      json({
        echo: (await ctx.uiProxy.call('echo', { a: 1 })).json(),
        missing: await ctx.uiProxy.call('nope').catch((e: ProxyError) => e.code),
        user: (await ctx.user())?.userId,
      }),
    ),
  );
  assert.deepEqual(response.json(), { echo: { echoed: { a: 1 } }, missing: 'route-not-found', user: 'u-1' });

  const anonymous = await createMockHost({ manifest }).invoke(
    createHandler(async (_r, ctx) => json({ user: (await ctx.user()) ?? null })),
  );
  assert.deepEqual(anonymous.json(), { user: null });
  const denied = await createMockHost({ manifest, deny: ['cap:user.read'] }).invoke(
    createHandler(async (_r, ctx) => json({ code: await ctx.user().catch((e: UserError) => e.code) })),
  );
  assert.deepEqual(denied.json(), { code: 'not-allowed' });
});

test('secret errors tell not-declared, missing, denied apart', async () => {
  const read = createHandler(async (_r, ctx) =>
    json({ code: await ctx.secrets.get('api_token').catch((e: SecretError) => e.code) }),
  );
  assert.deepEqual((await createMockHost({ manifest: { capabilities: [] } }).invoke(read)).json(), {
    code: 'not-declared',
  });
  assert.deepEqual((await createMockHost({ manifest }).invoke(read)).json(), { code: 'missing' });
  assert.deepEqual((await createMockHost({ manifest, deny: ['cap:secrets.get'] }).invoke(read)).json(), {
    code: 'denied',
  });
});

test('manifest setting defaults seed the mock config; explicit config overrides them', async () => {
  const handler = createHandler(async (_r, ctx) => json({ greeting: ctx.config.get('greeting') }));
  assert.deepEqual((await createMockHost({ manifest }).invoke(handler)).json(), { greeting: 'Hello' });
  assert.deepEqual((await createMockHost({ manifest, config: { greeting: 'Hi' } }).invoke(handler)).json(), {
    greeting: 'Hi',
  });
});
