import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import { after, before, describe, it } from 'node:test';
import type { ExecuteRequest, GuestLogLine, UiLogEntry } from '@alga-psa/protocol';
// The real server plugin, so the shipped batch is proven against the route that stores it.
import { createUser } from '../../../../server/src/auth/session.ts';
import { openPglite } from '../../../../server/src/db/index.ts';
import { startRunnerApiServer, type RunnerApiTestContext } from '../../../../server/src/runner-api/testing.ts';
import { REDACTED, secretForms } from '../../redact.ts';
import { createServerApi, type ServerApi } from '../../server-api/client.ts';
import { testScope } from '../../testing/scope.ts';
import { NO_DEADLINE_MS } from '../../testing/wait.ts';
import { loggingImpl, MAX_SHIPPED_LINES, type LoggingOptions } from './index.ts';

/** The provider shipping to `serverUrl` (none: no server configured). */
const shippingTo = (
  serverUrl: string | undefined,
  options: Omit<LoggingOptions, 'serverApi'> & { dispatcher?: Dispatcher } = {},
) => {
  const { dispatcher, ...rest } = options;
  return loggingImpl({
    serverApi: serverUrl ? createServerApi({ serverUrl, dispatcher }) : undefined,
    // A shipment a test expects stored has no time cap a slow machine could reach.
    shipTimeoutMs: NO_DEADLINE_MS,
    ...rest,
  });
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

  /**
   * The whole path of a guest line, for docs/security.md ("What secret
   * masking covers"): the runner masks it, ships it, the server stores it as
   * shipped, and the tenant API and the browser's logs API answer exactly
   * those lines. Masked forms never arrive; other transforms arrive in full.
   */
  it("shows in the browser's logs API exactly the masked lines the runner shipped, and nothing else masks them", async () => {
    const secret = 'Tr0ub4dor&3 x>?~y';
    const reversed = [...secret].reverse().join('');
    const tag = `path-${randomUUID().slice(0, 8)}`;
    const posted: GuestLogLine[] = [];
    const api = createServerApi({ serverUrl });
    const recording: ServerApi = {
      call(call) {
        posted.push(...(call.body as { lines: GuestLogLine[] }).lines);
        return api.call(call);
      },
    };
    const provider = loggingImpl({ serverApi: recording, shipTimeoutMs: NO_DEADLINE_MS });
    const t = await scopeFor(ctx.installA);
    // A value the guest carries in from elsewhere (its storage, an upstream) and logs before it reads it here.
    provider.functions.logInfo(t.scope, `${tag} before the read: ${secret}`);
    t.scope.masked.add(secret); // what secrets.get does when it hands the value over
    for (const form of secretForms(secret)) provider.functions.logInfo(t.scope, `${tag} form: ${form}`);
    const transforms = [
      reversed,
      `${secret.slice(0, 8)} ${secret.slice(8)}`,
      secret.toUpperCase(),
      [...secret].map((c) => c.charCodeAt(0)).join(','),
      Buffer.from(`x${secret}`).toString('base64'),
    ];
    for (const text of transforms) provider.functions.logWarn(t.scope, `${tag} transform: ${text}`);
    // As the SDK logs an unhandled error: message and stack.
    provider.functions.logError(
      t.scope,
      `${tag} Unhandled error: Error: failed with ${secret}\n    at h (${reversed})`,
    );
    t.close();
    await provider.shipIdle();

    const runnerLog = t.logs.filter((line) => line.source === 'guest').map((line) => String(line.msg));
    const shipped = posted.filter((line) => line.message.startsWith(tag));
    assert.equal(shipped.length, runnerLog.length);
    // The runner log masks what the execution had read when the line was written; the shipment masks again at the end.
    assert.equal(runnerLog[0], `${tag} before the read: ${secret}`);
    assert.equal(shipped[0]?.message, `${tag} before the read: ${REDACTED}`);
    assert.deepEqual(
      shipped.slice(1).map((line) => line.message),
      runnerLog.slice(1),
    );
    for (const line of shipped.slice(1, 1 + secretForms(secret).length)) {
      assert.equal(line.message, `${tag} form: ${REDACTED}`);
    }

    // The tenant API: the stored lines, as shipped, in order.
    const stored = (await (
      await fetch(`${serverUrl}/api/v1/installs/store-ext/logs?limit=1000`, {
        headers: { authorization: ctx.adminA },
      })
    ).json()) as { lines: Array<{ level: string; message: string }> };
    const fromApi = stored.lines.filter((line) => line.message.startsWith(tag));
    assert.deepEqual(
      fromApi.map((line) => [line.level, line.message]),
      shipped.map((line) => [line.level, line.message]),
    );

    // The browser's logs API, with a signed-in admin's session.
    const email = `${tag}@a.test`;
    await createUser(ctx.db, { tenantId: ctx.tenantA, email, role: 'admin', password: 'admin-pass-1' });
    const host = new URL(serverUrl).host;
    const jar = new Map<string, string>();
    const keep = (response: Response) => {
      for (const set of response.headers.getSetCookie()) {
        const [pair = ''] = set.split(';');
        jar.set(pair.slice(0, pair.indexOf('=')), pair);
      }
      return response;
    };
    const cookie = () => [...jar.values()].join('; ');
    const session = keep(await fetch(`${serverUrl}/ui/api/session`));
    const { csrfToken } = (await session.json()) as { csrfToken: string };
    const signedIn = keep(
      await fetch(`${serverUrl}/ui/api/session`, {
        method: 'POST',
        headers: {
          cookie: cookie(),
          origin: `http://${host}`,
          'x-csrf-token': csrfToken,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ email, password: 'admin-pass-1' }),
      }),
    );
    assert.equal(signedIn.status, 200, await signedIn.clone().text());
    const view = await fetch(`${serverUrl}/ui/api/installs/${ctx.installA}/logs`, { headers: { cookie: cookie() } });
    assert.equal(view.status, 200);
    const entries = ((await view.json()) as { entries: UiLogEntry[] }).entries.filter((entry) =>
      entry.message.startsWith(tag),
    );
    // Newest first, by time: lines of the same millisecond may come in any order.
    const sorted = (lines: Array<{ level: string | null; message: string }>) =>
      lines.map((line) => `${line.level} ${line.message}`).sort();
    assert.deepEqual(sorted(entries), sorted(shipped));
    const shown = entries.map((entry) => entry.message).join('\n');
    for (const form of secretForms(secret)) assert.ok(!shown.includes(form), `the browser got form ${form}`);
    for (const text of transforms) assert.ok(shown.includes(text), `the browser got the transform ${text} in full`);
  });

  it('ships a line holding a NUL with U+FFFD in its place, so the server stores it and the rest of its batch', async () => {
    const provider = shippingTo(serverUrl);
    const t = await scopeFor(ctx.installB);
    provider.functions.logInfo(t.scope, 'before');
    provider.functions.logInfo(t.scope, 'bytes a\u0000b');
    provider.functions.logInfo(t.scope, 'after');
    t.close();
    await provider.shipIdle();
    const messages = (await stored(ctx.adminB)).map((line) => line.message);
    assert.deepEqual(messages.slice(-3), ['before', 'bytes a\uFFFDb', 'after']);
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
