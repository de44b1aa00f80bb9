import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testEngines } from '../testing/databases.ts';
import { startRunnerApiServer, type RunnerApiTestContext } from './testing.ts';

const line = (message: string, level = 'info') => ({
  level,
  message,
  at: new Date().toISOString(),
  request_id: 'req-1',
});

for (const engine of testEngines()) {
  describe(`install logs (${engine.name})`, () => {
    let ctx: RunnerApiTestContext;
    before(async () => {
      ctx = await startRunnerApiServer(await engine.open(), { installLogRetention: 5 });
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const ship = async (installId: string, lines: unknown[], auth?: string) =>
      ctx.server.app.inject({
        method: 'POST',
        url: '/api/internal/ext-runner/logs',
        headers: { authorization: auth ?? (await ctx.token(installId)) },
        payload: { lines },
      });
    const read = (auth: string, query = '', extensionId = 'store-ext') =>
      ctx.server.app.inject({
        method: 'GET',
        url: `/api/v1/installs/${extensionId}/logs${query}`,
        headers: { authorization: auth },
      });

    test('shipping needs the logs scope; the install comes from the token', async () => {
      assert.equal((await ship(ctx.installA, [line('x')], 'Bearer nope')).statusCode, 401);
      const storageOnly = await ctx.token(ctx.installA, { scope: ['storage'] });
      assert.equal((await ship(ctx.installA, [line('x')], storageOnly)).statusCode, 403);
    });

    test('the token is checked before the body: a malformed body without a valid token is a 401, not a schema error', async () => {
      const malformed = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/internal/ext-runner/logs',
        headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
        payload: '{"lines": "not an array"',
      });
      assert.equal(malformed.statusCode, 401);
      const invalid = await ship(ctx.installA, ['not a line'], 'Bearer nope');
      assert.equal(invalid.statusCode, 401);
      assert.doesNotMatch(invalid.body, /lines/);
      const storage = await ctx.server.app.inject({
        method: 'PUT',
        url: '/api/internal/ext-runner/storage/ns/key',
        headers: { 'content-type': 'application/json' },
        payload: '{"value_b64": 42}',
      });
      assert.equal(storage.statusCode, 401);
    });

    test('lines are kept per install, newest N only, and read back oldest first by admins', async () => {
      const accepted = await ship(
        ctx.installA,
        Array.from({ length: 4 }, (_, i) => line(`a${i}`)),
      );
      assert.equal(accepted.statusCode, 202);
      assert.deepEqual(accepted.json(), { accepted: 4 });
      await ship(ctx.installA, [line('a4', 'warn'), line('a5', 'error'), line('a6')]);
      await ship(ctx.installB, [line('b0')]);
      const stored = await ctx.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM install_logs WHERE install_id = $1',
        [ctx.installA],
      );
      assert.equal(stored.rows[0]!.n, 5, 'pruned to the retention on insert');
      const response = await read(ctx.adminA);
      assert.equal(response.statusCode, 200);
      const body = response.json() as {
        lines: Array<{ id: string; message: string; level: string; requestId: string }>;
        nextAfter: string;
      };
      assert.deepEqual(
        body.lines.map((l) => l.message),
        ['a2', 'a3', 'a4', 'a5', 'a6'],
      );
      assert.equal(body.lines[3]!.level, 'error');
      assert.equal(body.lines[0]!.requestId, 'req-1');
      assert.equal(body.nextAfter, body.lines[4]!.id);

      const page = (await read(ctx.adminA, `?limit=2&after=${body.lines[1]!.id}`)).json();
      assert.deepEqual(
        page.lines.map((l: { message: string }) => l.message),
        ['a4', 'a5'],
      );
      const newest = (await read(ctx.adminA, '?limit=2')).json();
      assert.deepEqual(
        newest.lines.map((l: { message: string }) => l.message),
        ['a5', 'a6'],
      );
      const polled = (await read(ctx.adminA, `?after=${body.nextAfter}`)).json();
      assert.deepEqual(polled, { lines: [], nextAfter: body.nextAfter });
    });

    test("another tenant's install is 404, viewers are 403, no credential is 401", async () => {
      const other = await read(ctx.adminB);
      assert.equal(other.statusCode, 200);
      assert.deepEqual(
        other.json().lines.map((l: { message: string }) => l.message),
        ['b0'],
        "tenant B sees its own install's lines only",
      );
      assert.equal((await read(ctx.adminB, '', 'plain-ext')).statusCode, 404);
      assert.equal((await read(ctx.adminA, '', 'no-such-ext')).statusCode, 404);
      assert.equal((await read(ctx.viewerA)).statusCode, 403);
      assert.equal(
        (await ctx.server.app.inject({ method: 'GET', url: '/api/v1/installs/store-ext/logs' })).statusCode,
        401,
      );
    });

    test('batch size and line length are capped', async () => {
      const tooMany = await ship(
        ctx.installA,
        Array.from({ length: 501 }, () => line('x')),
      );
      assert.equal(tooMany.statusCode, 400);
      const tooLong = await ship(ctx.installA, [line('x'.repeat(8 * 1024 + 1))]);
      assert.equal(tooLong.statusCode, 400);
      const badLevel = await ship(ctx.installA, [line('x', 'debug')]);
      assert.equal(badLevel.statusCode, 400);
    });

    test('concurrent batches stay within the retention', async () => {
      await Promise.all(
        Array.from({ length: 6 }, (_, i) => ship(ctx.installA, [line(`c${i}-0`), line(`c${i}-1`), line(`c${i}-2`)])),
      );
      const stored = await ctx.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM install_logs WHERE install_id = $1',
        [ctx.installA],
      );
      assert.equal(stored.rows[0]!.n, 5);
    });
  });
}
