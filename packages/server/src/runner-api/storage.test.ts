import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing/databases.ts';
import type { RemoteParent, Span, StartOptions, Tracing } from '@alga-psa/protocol/tracing';
import { startRunnerApiServer, type RunnerApiTestContext } from './testing.ts';

/** Records the spans the server starts; a header's `traceparent` is the remote parent, as is. */
function recordingTracing() {
  const spans: {
    name: string;
    options: StartOptions | undefined;
    attributes: Record<string, unknown>;
    ended: boolean;
  }[] = [];
  const tracing: Tracing = {
    start(name, options) {
      const record = { name, options, attributes: { ...options?.attributes }, ended: false };
      spans.push(record);
      return {
        setAttribute: (key: string, value: unknown) => ((record.attributes[key] = value), undefined),
        setStatus: () => undefined,
        end: () => void (record.ended = true),
      } as unknown as Span;
    },
    traceparent: () => undefined,
    extract: (headers) =>
      typeof headers['traceparent'] === 'string'
        ? ({ remote: headers['traceparent'] } as unknown as RemoteParent)
        : undefined,
    shutdown: async () => undefined,
  };
  return { tracing, spans };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const path = (namespace: string, key: string) =>
  `/api/internal/ext-runner/storage/${encodeURIComponent(namespace)}/${encodeURIComponent(key)}`;

for (const engine of testEngines()) {
  describe(`runner storage API (${engine.name})`, () => {
    let ctx: RunnerApiTestContext;
    let small: RunnerApiTestContext;
    before(async () => {
      const db = await engine.open();
      ctx = await startRunnerApiServer(db);
      // A second server on its own database with tiny quotas.
      small = await startRunnerApiServer(await engine.open(), {
        storageQuotas: { maxNamespaces: 2, maxKeysPerNamespace: 3, maxValueBytes: 100, maxTotalBytes: 250 },
      });
    });
    after(async () => {
      for (const c of [ctx, small]) {
        await c.close();
        await c.db.close();
      }
    });

    async function put(
      c: RunnerApiTestContext,
      installId: string,
      namespace: string,
      key: string,
      value: string,
      extra: Record<string, unknown> = {},
    ) {
      return c.server.app.inject({
        method: 'PUT',
        url: path(namespace, key),
        headers: { authorization: await c.token(installId) },
        payload: { value_b64: b64(value), ...extra },
      });
    }
    async function get(c: RunnerApiTestContext, installId: string, namespace: string, key: string) {
      return c.server.app.inject({
        method: 'GET',
        url: path(namespace, key),
        headers: { authorization: await c.token(installId) },
      });
    }

    test("a call carrying the runner's traceparent gets a server span under it, once its token checks out", async () => {
      const { tracing, spans } = recordingTracing();
      const traced = await startRunnerApiServer(await engine.open(), { tracing });
      try {
        const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
        const url = path('notes', 'traced');
        const headers = { authorization: await traced.token(traced.installA), traceparent };
        const put = await traced.server.app.inject({ method: 'PUT', url, headers, payload: { value_b64: b64('x') } });
        assert.equal(put.statusCode, 201, put.body);
        assert.equal(spans.length, 1);
        const [span] = spans;
        assert.equal(span!.name, 'PUT /api/internal/ext-runner/storage/:namespace/*');
        assert.deepEqual(span!.options?.parent, { remote: traceparent });
        assert.equal(span!.options?.kind, 'server');
        assert.deepEqual(span!.attributes, {
          'http.request.method': 'PUT',
          'http.route': '/api/internal/ext-runner/storage/:namespace/*',
          'alga.install_id': traced.installA,
          'http.response.status_code': 201,
        });
        assert.ok(span!.ended);
        assert.ok(!JSON.stringify(spans).includes('notes'), 'no namespace or key in a span');

        // No header (a log shipment), or a token that does not check out: no span.
        await traced.server.app.inject({ method: 'GET', url, headers: { authorization: headers.authorization } });
        const refused = await traced.server.app.inject({
          method: 'GET',
          url,
          headers: { authorization: 'Bearer x', traceparent },
        });
        assert.equal(refused.statusCode, 401);
        assert.equal(spans.length, 1);
      } finally {
        await traced.close();
        await traced.db.close();
      }
    });

    test('every route needs an alga-server token with the storage scope for an install holding cap:storage.kv', async () => {
      const url = path('ns', 'k');
      const none = await ctx.server.app.inject({ method: 'GET', url });
      assert.equal(none.statusCode, 401);
      assert.equal(none.json().error.code, 'ALGA_UNAUTHENTICATED');
      const apiKey = await ctx.server.app.inject({ method: 'GET', url, headers: { authorization: ctx.adminA } });
      assert.equal(apiKey.statusCode, 401, 'a tenant API key is not a runner credential');
      const runnerAudience = await ctx.token(ctx.installA, { audience: 'alga-runner' });
      assert.equal(
        (await ctx.server.app.inject({ method: 'GET', url, headers: { authorization: runnerAudience } })).statusCode,
        401,
      );
      const logsOnly = await ctx.token(ctx.installA, { scope: ['logs'] });
      const scoped = await ctx.server.app.inject({ method: 'GET', url, headers: { authorization: logsOnly } });
      assert.equal(scoped.statusCode, 403);
      assert.match(scoped.json().error.message, /storage/);
      const plain = await get(ctx, ctx.installPlain, 'ns', 'k');
      assert.equal(plain.statusCode, 403);
      assert.match(plain.json().error.message, /cap:storage\.kv/);
      // A token naming an install of another tenant than its own is refused outright.
      const mismatched = await ctx.token(ctx.installB, { tenantId: ctx.tenantA });
      assert.equal(
        (await ctx.server.app.inject({ method: 'GET', url, headers: { authorization: mismatched } })).statusCode,
        403,
      );
    });

    test('put, get and revisions: created 201 at a decimal-string revision, updates increase it', async () => {
      const created = await put(ctx, ctx.installA, 'settings', 'theme', 'dark', { expected_revision: null });
      assert.equal(created.statusCode, 201);
      const first = created.json().revision as string;
      assert.match(first, /^[1-9][0-9]*$/);
      const read = await get(ctx, ctx.installA, 'settings', 'theme');
      assert.equal(read.statusCode, 200);
      assert.deepEqual(read.json(), {
        namespace: 'settings',
        key: 'theme',
        value_b64: b64('dark'),
        revision: first,
        expires_at: null,
      });
      const updated = await put(ctx, ctx.installA, 'settings', 'theme', 'light');
      assert.equal(updated.statusCode, 200);
      assert.ok(BigInt(updated.json().revision) > BigInt(first));
      assert.equal((await get(ctx, ctx.installA, 'settings', 'nope')).statusCode, 404);
    });

    test('an install sees only its own keys, whatever names it guesses', async () => {
      assert.equal((await put(ctx, ctx.installB, 'shared', 'secret-plan', 'B only')).statusCode, 201);
      const guess = await get(ctx, ctx.installA, 'shared', 'secret-plan');
      assert.equal(guess.statusCode, 404);
      assert.equal((await put(ctx, ctx.installA, 'shared', 'secret-plan', 'A value')).statusCode, 201);
      assert.equal((await get(ctx, ctx.installB, 'shared', 'secret-plan')).json().value_b64, b64('B only'));
      const listA = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/internal/ext-runner/storage/shared',
        headers: { authorization: await ctx.token(ctx.installA) },
      });
      assert.deepEqual(
        listA.json().entries.map((e: { value_b64: string }) => e.value_b64),
        [b64('A value')],
      );
      // The URL has no place for an install id; extra query parameters are refused, not honoured.
      const sneaky = await ctx.server.app.inject({
        method: 'GET',
        url: `/api/internal/ext-runner/storage/shared?install_id=${ctx.installB}`,
        headers: { authorization: await ctx.token(ctx.installA) },
      });
      assert.equal(sneaky.statusCode, 400);
      const del = await ctx.server.app.inject({
        method: 'DELETE',
        url: path('shared', 'secret-plan'),
        headers: { authorization: await ctx.token(ctx.installA) },
      });
      assert.equal(del.statusCode, 204);
      assert.equal((await get(ctx, ctx.installB, 'shared', 'secret-plan')).statusCode, 200);
    });

    test('expected revisions: null means must not exist, a stale one is 409, delete checks it too', async () => {
      const one = (await put(ctx, ctx.installA, 'occ', 'k', 'v1', { expected_revision: null })).json().revision;
      const again = await put(ctx, ctx.installA, 'occ', 'k', 'v1', { expected_revision: null });
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().error.code, 'ALGA_STORAGE_CONFLICT');
      assert.equal(again.json().error.details.currentRevision, one);
      const two = await put(ctx, ctx.installA, 'occ', 'k', 'v2', { expected_revision: one });
      assert.equal(two.statusCode, 200);
      const stale = await put(ctx, ctx.installA, 'occ', 'k', 'v3', { expected_revision: one });
      assert.equal(stale.statusCode, 409);
      assert.match(stale.json().error.message, /read it again/);
      const auth = { authorization: await ctx.token(ctx.installA) };
      const staleDelete = await ctx.server.app.inject({
        method: 'DELETE',
        url: `${path('occ', 'k')}?expected_revision=${one}`,
        headers: auth,
      });
      assert.equal(staleDelete.statusCode, 409);
      const deleted = await ctx.server.app.inject({
        method: 'DELETE',
        url: `${path('occ', 'k')}?expected_revision=${two.json().revision}`,
        headers: auth,
      });
      assert.equal(deleted.statusCode, 204);
      assert.equal(
        (await ctx.server.app.inject({ method: 'DELETE', url: path('occ', 'k'), headers: auth })).statusCode,
        404,
      );
      // Re-created, the key gets a revision above every earlier one, so an old expected revision can never match.
      const recreated = await put(ctx, ctx.installA, 'occ', 'k', 'v4', { expected_revision: null });
      assert.ok(BigInt(recreated.json().revision) > BigInt(two.json().revision));
      assert.equal((await put(ctx, ctx.installA, 'occ', 'k', 'v5', { expected_revision: one })).statusCode, 409);
    });

    test('concurrent puts with the same expected revision: exactly one wins', async () => {
      const base = (await put(ctx, ctx.installA, 'race', 'counter', '0')).json().revision;
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          put(ctx, ctx.installA, 'race', 'counter', `w${i}`, { expected_revision: base }),
        ),
      );
      const codes = results.map((r) => r.statusCode).sort();
      assert.deepEqual(codes, [200, ...Array(11).fill(409)]);
      const winner = results.find((r) => r.statusCode === 200)!.json();
      const stored = (await get(ctx, ctx.installA, 'race', 'counter')).json();
      assert.equal(stored.revision, winner.revision);
      // Creating a missing key concurrently: exactly one creator too.
      const creators = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          put(ctx, ctx.installA, 'race', 'fresh', `c${i}`, { expected_revision: null }),
        ),
      );
      assert.equal(creators.filter((r) => r.statusCode === 201).length, 1);
      assert.equal(creators.filter((r) => r.statusCode === 409).length, 7);
    });

    test('namespace and key syntax is validated; keys may hold "/" and unicode and be long', async () => {
      for (const bad of [' ', 'a'.repeat(129), 'tab\tns'])
        assert.equal((await put(ctx, ctx.installA, bad, 'k', 'v')).statusCode, 400, JSON.stringify(bad));
      // A dot segment never names a namespace (the URL layer or the check refuses it).
      assert.ok((await put(ctx, ctx.installA, '..', 'k', 'v')).statusCode >= 400);
      // Namespaces as the reference host takes them.
      for (const ns of ['app:settings', 'my/ns', 'has space', 'n'.repeat(128)]) {
        assert.equal((await put(ctx, ctx.installA, ns, 'k', 'v')).statusCode, 201, ns);
        assert.equal((await get(ctx, ctx.installA, ns, 'k')).json().key, 'k', ns);
      }
      assert.equal((await put(ctx, ctx.installA, 'ns', 'line\nbreak', 'v')).statusCode, 400);
      assert.equal((await put(ctx, ctx.installA, 'ns', 'x'.repeat(513), 'v')).statusCode, 400);
      const odd = 'users/42/prefs ünïcødé ' + 'x'.repeat(300);
      assert.equal((await put(ctx, ctx.installA, 'ns', odd, 'v')).statusCode, 201);
      assert.equal((await get(ctx, ctx.installA, 'ns', odd)).json().key, odd);
      const notBase64 = await ctx.server.app.inject({
        method: 'PUT',
        url: path('ns', 'k'),
        headers: { authorization: await ctx.token(ctx.installA) },
        payload: { value_b64: 'not base64!' },
      });
      assert.equal(notBase64.statusCode, 400);
    });

    test('listing pages through many keys in key order with opaque cursors', async () => {
      const keys = Array.from({ length: 230 }, (_, i) => `item-${String(i).padStart(4, '0')}`);
      for (const key of keys) assert.equal((await put(ctx, ctx.installA, 'many', key, key)).statusCode, 201);
      const auth = { authorization: await ctx.token(ctx.installA) };
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
        const page = await ctx.server.app.inject({
          method: 'GET',
          url: `/api/internal/ext-runner/storage/many${query}`,
          headers: auth,
        });
        assert.equal(page.statusCode, 200, page.body);
        const body = page.json() as {
          entries: Array<{ key: string; value_b64: string; revision: string }>;
          next_cursor: string | null;
        };
        for (const entry of body.entries) {
          assert.equal(entry.value_b64, b64(entry.key));
          seen.push(entry.key);
        }
        cursor = body.next_cursor;
        pages += 1;
      } while (cursor);
      assert.equal(pages, 3);
      assert.deepEqual(seen, keys);

      const first = (
        await ctx.server.app.inject({
          method: 'GET',
          url: '/api/internal/ext-runner/storage/many?limit=1',
          headers: auth,
        })
      ).json();
      const elsewhere = await ctx.server.app.inject({
        method: 'GET',
        url: `/api/internal/ext-runner/storage/ns?cursor=${first.next_cursor}`,
        headers: auth,
      });
      assert.equal(elsewhere.statusCode, 400, 'a cursor is bound to its namespace');
      const garbage = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/internal/ext-runner/storage/many?cursor=zzz',
        headers: auth,
      });
      assert.equal(garbage.statusCode, 400);
      const empty = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/internal/ext-runner/storage/empty',
        headers: auth,
      });
      assert.deepEqual(empty.json(), { entries: [], next_cursor: null });
      const tooMany = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/internal/ext-runner/storage/many?limit=1001',
        headers: auth,
      });
      assert.equal(tooMany.statusCode, 400);
    });

    test('an entry past its ttl is gone for reads, lists and expected-revision checks', async () => {
      const created = await put(ctx, ctx.installA, 'ttl', 'session', 'abc', { ttl_seconds: 3600 });
      assert.ok(created.json().expires_at);
      assert.ok(Date.parse(created.json().expires_at) > Date.now());
      await put(ctx, ctx.installA, 'ttl', 'forever', 'x');
      // Expire it by moving its deadline into the past: no sleeping in tests.
      await ctx.db.query(
        "UPDATE storage_records SET expires_at = now() - interval '1 second' WHERE install_id = $1 AND key = 'session'",
        [ctx.installA],
      );
      assert.equal((await get(ctx, ctx.installA, 'ttl', 'session')).statusCode, 404);
      const list = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/internal/ext-runner/storage/ttl',
        headers: { authorization: await ctx.token(ctx.installA) },
      });
      assert.deepEqual(
        list.json().entries.map((e: { key: string }) => e.key),
        ['forever'],
      );
      const again = await put(ctx, ctx.installA, 'ttl', 'session', 'new', { expected_revision: null });
      assert.equal(again.statusCode, 201);
      assert.equal(again.json().expires_at, null);
    });

    test('quotas: value size, namespaces, keys per namespace and total bytes, each named in the error', async () => {
      const id = small.installA;
      const tooBig = await put(small, id, 'a', 'k', 'x'.repeat(101));
      assert.equal(tooBig.statusCode, 413);
      assert.equal(tooBig.json().error.code, 'ALGA_STORAGE_QUOTA_EXCEEDED');
      assert.equal(tooBig.json().error.details.limit, 'maxValueBytes');
      assert.match(tooBig.json().error.message, /at most 100 bytes/);

      for (const key of ['k1', 'k2', 'k3']) assert.equal((await put(small, id, 'a', key, 'v')).statusCode, 201);
      const fourth = await put(small, id, 'a', 'k4', 'v');
      assert.equal(fourth.statusCode, 413);
      assert.equal(fourth.json().error.details.limit, 'maxKeysPerNamespace');
      assert.match(fourth.json().error.message, /"a".*3 keys/);
      assert.equal((await put(small, id, 'a', 'k1', 'overwrite')).statusCode, 200, 'overwriting adds no key');

      assert.equal((await put(small, id, 'b', 'k', 'v')).statusCode, 201);
      const third = await put(small, id, 'c', 'k', 'v');
      assert.equal(third.statusCode, 413);
      assert.equal(third.json().error.details.limit, 'maxNamespaces');
      assert.match(third.json().error.message, /2 storage namespaces/);

      // Used so far: a/k1 (2+9) + a/k2, a/k3 (3 each) + b/k (2) = 19 bytes; fill up to the 250-byte total.
      assert.equal((await put(small, id, 'b', 'big1', 'x'.repeat(100))).statusCode, 201);
      assert.equal((await put(small, id, 'b', 'big2', 'x'.repeat(100))).statusCode, 201);
      const over = await put(small, id, 'a', 'k2', 'x'.repeat(60));
      assert.equal(over.statusCode, 413);
      assert.equal(over.json().error.details.limit, 'maxTotalBytes');
      assert.match(over.json().error.message, /250 bytes/);
      assert.equal((await put(small, id, 'a', 'k2', '')).statusCode, 200, 'shrinking a value always fits');
      const del = await small.server.app.inject({
        method: 'DELETE',
        url: path('b', 'big1'),
        headers: { authorization: await small.token(id) },
      });
      assert.equal(del.statusCode, 204);
      assert.equal((await put(small, id, 'a', 'k2', 'x'.repeat(60))).statusCode, 200, 'deleting frees bytes');

      // Another install of the same server has its own quota.
      assert.equal((await put(small, small.installB, 'c', 'k', 'v')).statusCode, 201);
      const usage = await small.db.query<{ namespaces: number; bytes: string }>(
        'SELECT namespaces, bytes::text AS bytes FROM storage_usage WHERE install_id = $1',
        [id],
      );
      const actual = await small.db.query<{ bytes: string }>(
        'SELECT coalesce(sum(octet_length(key) + octet_length(value)), 0)::text AS bytes FROM storage_records WHERE install_id = $1',
        [id],
      );
      assert.equal(usage.rows[0]!.bytes, actual.rows[0]!.bytes, 'counters match the records');
      assert.equal(usage.rows[0]!.namespaces, 2);
    });

    test('uninstalling removes storage and refuses the install’s tokens', async () => {
      const auth = await ctx.token(ctx.installB);
      const removed = await ctx.server.app.inject({
        method: 'DELETE',
        url: '/api/v1/installs/store-ext',
        headers: { authorization: ctx.adminB },
      });
      assert.equal(removed.statusCode, 204);
      const after = await ctx.server.app.inject({
        method: 'GET',
        url: path('shared', 'secret-plan'),
        headers: { authorization: auth },
      });
      assert.equal(after.statusCode, 403);
      const rows = await ctx.db.query('SELECT 1 FROM storage_records WHERE install_id = $1', [ctx.installB]);
      assert.equal(rows.rows.length, 0);
    });
  });
}
