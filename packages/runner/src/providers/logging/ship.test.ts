import assert from 'node:assert/strict';
import { Agent, type Dispatcher } from 'undici';
import { after, before, describe, it } from 'node:test';
import type { ExecuteRequest } from '@alga-psa/protocol';
// The real server plugin, so the shipped batch is proven against the route that stores it.
import { openPglite } from '../../../../server/src/db/index.ts';
import { startRunnerApiServer, type RunnerApiTestContext } from '../../../../server/src/runner-api/testing.ts';
import { createServerApi } from '../../server-api/client.ts';
import { testScope } from '../../testing/scope.ts';
import { loggingImpl, MAX_SHIPPED_LINES, type LoggingOptions } from './index.ts';

/** The provider shipping to `serverUrl` (none: no server configured). */
const shippingTo = (
  serverUrl: string | undefined,
  options: Omit<LoggingOptions, 'serverApi'> & { dispatcher?: Dispatcher } = {},
) => {
  const { dispatcher, ...rest } = options;
  return loggingImpl({ serverApi: serverUrl ? createServerApi({ serverUrl, dispatcher }) : undefined, ...rest });
};

describe('guest log shipping', () => {
  let ctx: RunnerApiTestContext;
  let serverUrl: string;
  before(async () => {
    ctx = await startRunnerApiServer(await openPglite());
    serverUrl = await ctx.server.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await ctx.close();
    await ctx.db.close();
  });

  const scopeFor = async (installId: string) =>
    testScope({
      providers: ['cap:log.emit'],
      server_token: (await ctx.token(installId)).slice('Bearer '.length),
    } as Partial<ExecuteRequest>);
  const stored = async (auth: string) =>
    (
      await ctx.server.app.inject({
        method: 'GET',
        url: '/api/v1/installs/store-ext/logs?limit=1000',
        headers: { authorization: auth },
      })
    ).json().lines as Array<{ level: string; message: string; requestId: string }>;

  it('ships the masked lines after the execution ends, to the install in the token', async () => {
    const provider = shippingTo(serverUrl);
    const t = await scopeFor(ctx.installA);
    t.scope.masked.add('s3cret-value');
    provider.functions.logInfo(t.scope, 'hello s3cret-value');
    provider.functions.logError(t.scope, 'it broke');
    // A secret read after a line was written is masked at shipping time too.
    provider.functions.logWarn(t.scope, 'late other-secret');
    t.scope.masked.add('other-secret');
    assert.deepEqual(await stored(ctx.adminA), [], 'nothing is shipped before the execution ends');
    t.close();
    await provider.shipIdle();
    const lines = await stored(ctx.adminA);
    assert.deepEqual(
      lines.map((line) => [line.level, line.message, line.requestId]),
      [
        ['info', 'hello [REDACTED]', 'req-1'],
        ['error', 'it broke', 'req-1'],
        ['warn', 'late [REDACTED]', 'req-1'],
      ],
    );
    assert.deepEqual(await stored(ctx.adminB), []);
    assert.deepEqual(provider.shipStats(), { shipped: 3, failed: 0, dropped: 0 });
  });

  it("gathers an install's executions within the window into one shipment", async () => {
    let posts = 0;
    const counting = new Agent().compose((dispatch) => (options, handler) => {
      if (options.method === 'POST') posts += 1;
      return dispatch(options, handler);
    });
    const provider = shippingTo(serverUrl, { shipBatchWindowMs: 60_000, dispatcher: counting });
    const before = (await stored(ctx.adminB)).length;
    for (const n of [1, 2, 3]) {
      const t = await scopeFor(ctx.installB);
      provider.functions.logInfo(t.scope, `batched ${n}`);
      t.close();
    }
    assert.equal(posts, 0, 'held for the window');
    await provider.shipIdle();
    assert.equal(posts, 1);
    const lines = await stored(ctx.adminB);
    assert.deepEqual(
      lines.slice(before).map((line) => line.message),
      ['batched 1', 'batched 2', 'batched 3'],
    );
  });

  it('keeps at most the per-execution cap and says how many were not kept', async () => {
    const provider = shippingTo(serverUrl);
    const before = (await stored(ctx.adminB)).length;
    const t = await scopeFor(ctx.installB);
    for (let i = 0; i < MAX_SHIPPED_LINES + 7; i++) provider.functions.logInfo(t.scope, `line ${i}`);
    t.close();
    await provider.shipIdle();
    const lines = await stored(ctx.adminB);
    assert.equal(lines.length - before, MAX_SHIPPED_LINES + 1);
    assert.match(lines.at(-1)!.message, /7 more log line\(s\)/);
    assert.equal(provider.shipStats().dropped, 7);
  });

  it('a failing server never fails the execution: counted, warned once per outage', async () => {
    const provider = shippingTo('http://127.0.0.1:1', { shipTimeoutMs: 500 });
    const warnings: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const t = await scopeFor(ctx.installA);
      provider.functions.logInfo(t.scope, 'x');
      t.close();
      await provider.shipIdle();
      warnings.push(...t.logs.filter((line) => line.level === 40 && line.provider === 'logging'));
    }
    assert.equal(provider.shipStats().failed, 3);
    assert.equal(warnings.length, 1);
  });

  it('without a server URL or token, lines go to the runner log only', async () => {
    const noServer = shippingTo(undefined);
    const t = await scopeFor(ctx.installA);
    noServer.functions.logInfo(t.scope, 'local only');
    t.close();
    await noServer.shipIdle();
    assert.deepEqual(noServer.shipStats(), { shipped: 0, failed: 0, dropped: 0 });
    assert.ok(t.logs.some((line) => line.msg === 'local only'));
    const noToken = shippingTo(serverUrl);
    const u = testScope({ providers: ['cap:log.emit'] });
    noToken.functions.logInfo(u.scope, 'no token');
    u.close();
    await noToken.shipIdle();
    assert.deepEqual(noToken.shipStats(), { shipped: 0, failed: 0, dropped: 0 });
  });
});
