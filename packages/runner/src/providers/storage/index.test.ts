import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ExecuteRequest } from '@alga-psa/protocol';
// The real server plugin, so these tests prove the HTTP contract end to end.
import { openPglite } from '../../../../server/src/db/index.ts';
import { startRunnerApiServer, type RunnerApiTestContext } from '../../../../server/src/runner-api/testing.ts';
import type { StorageEntry } from '../../../generated/interfaces/alga-extension-types.js';
import { WitErr } from '../../host-calls/index.ts';
import { createServerApi } from '../../server-api/client.ts';
import { testScope, type TestScope } from '../../testing/scope.ts';
import { NO_DEADLINE_MS } from '../../testing/wait.ts';
import { storageImpl, type StorageOptions } from './index.ts';

/**
 * The provider against the server at `serverUrl` (none: no server configured). A call a test expects
 * answered has no time cap a slow machine could reach; the tests of the cap set one.
 */
const storageAt = (serverUrl?: string, options: Omit<StorageOptions, 'serverApi'> = {}) =>
  storageImpl({
    serverApi: serverUrl ? createServerApi({ serverUrl }) : undefined,
    timeoutMs: NO_DEADLINE_MS,
    ...options,
  });

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (value: Uint8Array) => Buffer.from(value).toString('utf8');

describe('storage provider against the real runner API', () => {
  let ctx: RunnerApiTestContext;
  let serverUrl: string;
  before(async () => {
    ctx = await startRunnerApiServer(await openPglite(), {
      storageQuotas: { maxValueBytes: 64 },
    });
    serverUrl = await ctx.server.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await ctx.close();
    await ctx.db.close();
  });

  async function scopeFor(installId: string, overrides: Partial<ExecuteRequest> = {}): Promise<TestScope> {
    const token = (await ctx.token(installId)).slice('Bearer '.length);
    return testScope({
      providers: ['cap:storage.kv'],
      server_token: token,
      ...overrides,
    } as Partial<ExecuteRequest>);
  }
  const call = (provider: ReturnType<typeof storageAt>, fn: string, scope: TestScope, ...args: unknown[]) =>
    (provider.functions as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[fn]!(scope.scope, ...args);

  it('get, put with revisions, delete and paging, for the install in the token', async () => {
    const provider = storageAt(serverUrl);
    const t = await scopeFor(ctx.installA);
    assert.deepEqual(await call(provider, 'get', t, 'prefs', 'theme'), new WitErr('missing'));
    const created = (await call(provider, 'put', t, {
      namespace: 'prefs',
      key: 'theme',
      value: bytes('dark'),
      revision: 0n,
    })) as StorageEntry;
    assert.equal(typeof created.revision, 'bigint');
    assert.deepEqual(
      await call(provider, 'put', t, { namespace: 'prefs', key: 'theme', value: bytes('x'), revision: 0n }),
      new WitErr('conflict'),
      'revision 0 means "must not exist yet"',
    );
    const read = (await call(provider, 'get', t, 'prefs', 'theme')) as StorageEntry;
    assert.equal(text(read.value), 'dark');
    assert.equal(read.revision, created.revision);
    const updated = (await call(provider, 'put', t, { ...read, value: bytes('light') })) as StorageEntry;
    assert.ok(updated.revision! > created.revision!);
    assert.deepEqual(
      await call(provider, 'put', t, { ...read, value: bytes('stale') }),
      new WitErr('conflict'),
      'a stale revision conflicts',
    );
    assert.ok(await call(provider, 'put', t, { namespace: 'prefs', key: 'theme', value: bytes('any') }));

    for (let i = 0; i < 150; i++) {
      await call(provider, 'put', t, {
        namespace: 'many',
        key: `k${String(i).padStart(3, '0')}`,
        value: bytes(String(i)),
      });
    }
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await call(provider, 'listPage', t, 'many', cursor)) as {
        entries: StorageEntry[];
        nextCursor?: string;
      };
      keys.push(...page.entries.map((entry) => entry.key));
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(keys.length, 150);
    assert.deepEqual(keys, [...keys].sort());
    const first = (await call(provider, 'listEntries', t, 'many', undefined)) as StorageEntry[];
    assert.equal(first.length, 100, 'list-entries returns the first page');

    assert.equal(await call(provider, 'delete', t, 'prefs', 'theme'), undefined);
    assert.deepEqual(await call(provider, 'delete', t, 'prefs', 'theme'), new WitErr('missing'));
    const keyWithSlash = 'a/b?c#d %';
    await call(provider, 'put', t, { namespace: 'prefs', key: keyWithSlash, value: bytes('ok') });
    assert.equal(text(((await call(provider, 'get', t, 'prefs', keyWithSlash)) as StorageEntry).value), 'ok');
    t.close();
  });

  it("cannot reach another install's keys: the server picks the install from the token", async () => {
    const provider = storageAt(serverUrl);
    const b = await scopeFor(ctx.installB);
    await call(provider, 'put', b, { namespace: 'private', key: 'plan', value: bytes('B') });
    // Even a scope whose request body claims install B reads through A's token.
    const a = await scopeFor(ctx.installA, {
      context: { ...testScope().scope.request.context, install_id: ctx.installB, tenant_id: ctx.tenantB },
    });
    assert.deepEqual(await call(provider, 'get', a, 'private', 'plan'), new WitErr('missing'));
    assert.deepEqual(await call(provider, 'listEntries', a, 'private', undefined), []);
    assert.deepEqual(
      await call(provider, 'get', a, '..', 'logs'),
      new WitErr('internal'),
      'dot segments are refused before any call',
    );
  });

  it('maps quota and validation failures to internal and logs the server message', async () => {
    const provider = storageAt(serverUrl);
    const t = await scopeFor(ctx.installA);
    assert.deepEqual(
      await call(provider, 'put', t, { namespace: 'q', key: 'big', value: new Uint8Array(65) }),
      new WitErr('internal'),
    );
    assert.ok(t.logs.some((line) => /at most 64 bytes/.test(String(line.msg))));
    assert.deepEqual(await call(provider, 'get', t, 'tab\tns', 'k'), new WitErr('internal'));
    assert.ok(t.logs.some((line) => /namespace is 1-128 characters/.test(String(line.msg))));
  });

  it('answers denied when the server refuses the token or the install', async () => {
    const provider = storageAt(serverUrl);
    const plain = await scopeFor(ctx.installPlain);
    assert.deepEqual(await call(provider, 'get', plain, 'ns', 'k'), new WitErr('denied'));
    assert.ok(plain.logs.some((line) => /cap:storage\.kv/.test(String(line.msg))));
    const forged = testScope({ providers: ['cap:storage.kv'], server_token: 'not-a-jwt' } as Partial<ExecuteRequest>);
    assert.deepEqual(await call(provider, 'get', forged, 'ns', 'k'), new WitErr('denied'));
  });

  it('without a server URL or token: internal, with one clear log line per execution', async () => {
    const provider = storageAt();
    const t = await scopeFor(ctx.installA);
    assert.deepEqual(await call(provider, 'get', t, 'ns', 'k'), new WitErr('internal'));
    assert.deepEqual(await call(provider, 'get', t, 'ns', 'k'), new WitErr('internal'));
    const lines = t.logs.filter((line) => /ALGA_SERVER_URL/.test(String(line.msg)));
    assert.equal(lines.length, 1);
    const noToken = testScope({ providers: ['cap:storage.kv'] });
    assert.deepEqual(await call(storageAt(serverUrl), 'get', noToken, 'ns', 'k'), new WitErr('internal'));
    assert.ok(noToken.logs.some((line) => /server_token/.test(String(line.msg))));
  });
});

describe('storage provider with a failing backend', () => {
  let fake: Server;
  let url: string;
  let mode: 'hang' | 'error' | 'garbage' | 'huge' = 'hang';
  let hits = 0;
  before(async () => {
    fake = createHttpServer((req, res) => {
      hits += 1;
      if (mode === 'hang') return; // never answers
      if (mode === 'error')
        return void res
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"error":{"code":"ALGA_INTERNAL","message":"boom"}}');
      if (mode === 'garbage') return void res.writeHead(200).end('<html>');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ entries: [], padding: 'x'.repeat(2048) }));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
  });
  after(async () => {
    fake.closeAllConnections();
    await new Promise((resolve) => fake.close(resolve));
  });
  const scope = () =>
    testScope({
      providers: ['cap:storage.kv'],
      server_token: 'tok',
      limits: { timeout_ms: 150 },
    } as Partial<ExecuteRequest>);

  it('a hanging server answers internal within the execution deadline', async () => {
    mode = 'hang';
    const t = scope();
    const result = await storageAt(url, { timeoutMs: 10_000 }).functions.get(t.scope, 'ns', 'k');
    assert.deepEqual(result, new WitErr('internal'));
    assert.ok(t.logs.some((line) => /timed out after 150 ms/.test(String(line.msg))));
  });

  it('the end of the execution aborts calls in flight', async () => {
    mode = 'hang';
    const t = testScope({ providers: ['cap:storage.kv'], server_token: 'tok' } as Partial<ExecuteRequest>);
    const pending = storageAt(url).functions.get(t.scope, 'ns', 'k');
    setImmediate(() => t.close());
    assert.deepEqual(await pending, new WitErr('internal'));
  });

  it('5xx, non-JSON and oversized answers are internal; refused connections too', async () => {
    for (const [m, pattern] of [
      ['error', /boom/],
      ['garbage', /not JSON/],
      ['huge', /exceeded 1024 bytes/],
    ] as const) {
      mode = m;
      const t = scope();
      const provider = storageAt(url, { maxResponseBytes: 1024 });
      assert.deepEqual(await provider.functions.listPage(t.scope, 'ns', undefined), new WitErr('internal'), m);
      assert.ok(
        t.logs.some((line) => pattern.test(String(line.msg))),
        m,
      );
    }
    const closed = scope();
    const refused = await storageAt('http://127.0.0.1:1').functions.get(closed.scope, 'ns', 'k');
    assert.deepEqual(refused, new WitErr('internal'));
  });

  it('answers denied with no network call when not granted', () => {
    const before = hits;
    const provider = storageAt(url);
    for (const fn of Object.keys(provider.functions))
      assert.deepEqual(provider.denied(fn, testScope().scope), new WitErr('denied'));
    assert.equal(hits, before);
  });
});
