/**
 * Whole-runner tests with a REAL component (built by componentize-js, run
 * through jco in worker threads), driven in-process with `app.inject()`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AlgaError, type ExecuteResponse } from '@alga-psa/protocol';
import {
  bodyOf,
  envelopeFor,
  executeRequest,
  fixtureHarness,
  type Harness,
  instanceEvents,
  metric,
} from '../testing/harness.ts';
import { until } from '../testing/wait.ts';
import { callerError, ExecutionFailure } from './index.ts';

/** What the guest logged for one request, in order. */
const guestLines = (h: Harness, requestId: string) =>
  h.logs.filter((line) => line.source === 'guest' && line.request_id === requestId).map((line) => line.msg);

/** Reset mode runs quick requests on the runner's thread by default (inline.ts); the worker path is tested on its own too. */
const VARIANTS = [
  { mode: 'reset', settings: {}, label: 'reset instances, quick requests inline' },
  { mode: 'reset', settings: { inlineFuel: 0 }, label: 'reset instances, workers only' },
  { mode: 'fresh', settings: {}, label: 'fresh instances' },
] as const;

for (const { mode, settings, label } of VARIANTS) {
  describe(`runner executing a real component (${label})`, () => {
    let h: Harness;
    let hash: string;

    before(async () => {
      ({ h, hash } = await fixtureHarness({ workers: 1, instanceMode: mode, ...settings }));
    });
    after(async () => {
      await h?.close();
    });

    async function execute(overrides: Parameters<typeof executeRequest>[1] = {}) {
      return h.execute(executeRequest(hash, overrides));
    }

    it('passes the request context, method, url, headers and body to the guest and returns its response', async () => {
      const res = await execute({
        http: {
          method: 'POST',
          path: '/echo',
          query: 'a=1',
          headers: { 'x-test': 'yes' },
          body_b64: Buffer.from('hi').toString('base64'),
        },
      });
      assert.equal(res.statusCode, 200);
      const response = res.json<ExecuteResponse>();
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/json');
      assert.equal(response.headers['x-multi'], 'a, b', 'repeated headers fold into one');
      assert.deepEqual(bodyOf(response), {
        counter: 1,
        context: {
          requestId: 'req-1',
          tenantId: 'tenant-1',
          extensionId: 'ext-1',
          installId: 'install-1',
          versionId: 'ver-1',
        },
        method: 'POST',
        url: '/echo?a=1',
        headers: [{ name: 'x-test', value: 'yes' }],
        body: 'hi',
      });
    });

    it('gives every request a fresh instance: module state never survives', async () => {
      for (let i = 0; i < 3; i++) {
        const res = await execute();
        assert.equal((bodyOf(res.json()) as { counter: number }).counter, 1);
      }
    });

    it(
      mode === 'reset'
        ? 'warms each new instance up before its snapshot, with a host that holds no request data'
        : 'never warms up an instance it uses once',
      async () => {
        const body = bodyOf((await execute({ path: '/warmed-up' })).json<ExecuteResponse>());
        assert.equal(body.counter, 1, 'the warm-up did not count as a request');
        assert.equal(await instanceEvents(h, 'warm-up-refused'), 0);
        if (mode === 'fresh') {
          assert.equal(body.warmedUp, null);
          assert.equal(await instanceEvents(h, 'warmed-up'), 0);
          return;
        }
        assert.deepEqual(body.warmedUp, {
          request: { requestId: 'warm-up', tenantId: '', extensionId: '' },
          context: { requestId: 'warm-up', tenantId: '', extensionId: '' },
          config: '{}',
          secret: { err: 'missing' },
          keys: [],
        });
        assert.ok((await instanceEvents(h, 'warmed-up')) >= 1);
      },
    );

    it('kills an infinite loop at the deadline with 504 and keeps serving', async () => {
      const kills = await metric(h, 'alga_runner_limit_kills_total{kind="timeout"}');
      // The guest never ends by itself, and a request without limits.timeout_ms here has no deadline
      // a test could wait for: an answer at all is its own 500 ms deadline stopping it.
      const res = await execute({ path: '/loop', limits: { timeout_ms: 500 } });
      assert.equal(res.statusCode, 504);
      assert.equal(res.json().error.code, 'ALGA_TIMEOUT');
      assert.equal(res.json().error.requestId, 'req-1');
      assert.equal(
        await metric(h, 'alga_runner_limit_kills_total{kind="timeout"}'),
        kills + 1,
        'stopped by its deadline',
      );
      const next = await execute();
      assert.equal(next.statusCode, 200);
      assert.equal((bodyOf(next.json()) as { counter: number }).counter, 1);
    });

    it('writes the lines a guest logged before it hung, in order, though the guest never waited for them', async (t) => {
      // The deadline passes when the test moves the clock: once the lines are written, on any machine.
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const answered = execute({
        path: '/log-then-loop',
        limits: { timeout_ms: 60_000 },
        providers: ['cap:log.emit'],
        context: { ...executeRequest(hash).context, request_id: 'req-hung' },
      });
      await until(() => guestLines(h, 'req-hung').length === 3);
      t.mock.timers.tick(60_000);
      assert.equal((await answered).statusCode, 504);
      assert.deepEqual(guestLines(h, 'req-hung'), ['step-1', 'step-2', 'step-3']);
    });

    it('answers a guest throw with a generic 502 and logs the detail only', async () => {
      const res = await execute({ path: '/throw' });
      assert.equal(res.statusCode, 502);
      assert.equal(res.json().error.code, 'ALGA_EXECUTION_FAILED');
      assert.doesNotMatch(res.body, /exploded/);
      assert.ok(h.logs.some((line) => line.msg === 'extension execution failed' && line.request_id === 'req-1'));
      const next = await execute();
      assert.equal(next.statusCode, 200);
    });

    it('rejects a guest status outside 200-599, an interim 1xx included, as an execution failure', async () => {
      for (const code of ['42', '101', '199', '600']) {
        const res = await execute({ path: '/bad-status', query: `code=${code}` });
        assert.equal(res.statusCode, 502, code);
        assert.equal(res.json().error.code, 'ALGA_EXECUTION_FAILED', code);
      }
    });

    it('drops guest response headers the HTTP layer could not send, and keeps the rest', async () => {
      const res = await execute({ path: '/bad-headers' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().headers, { 'x-ext-latin1': 'caf\u00e9', 'x-ext-ok': 'kept' });
    });

    it('returns a secret when cap:secrets.get is granted and the key is set', async () => {
      const res = await execute({
        path: '/secret',
        query: 'key=api_key',
        providers: ['cap:secrets.get'],
        secret_envelope: await envelopeFor(h.keyring, { api_key: 's3cr3t' }),
      });
      assert.deepEqual(bodyOf(res.json()), { ok: 's3cr3t' });
    });

    it('answers denied when cap:secrets.get is not granted, even if the key is set', async () => {
      const res = await execute({
        path: '/secret',
        query: 'key=api_key',
        providers: ['cap:context.read'],
        secret_envelope: await envelopeFor(h.keyring, { api_key: 's3cr3t' }),
      });
      assert.deepEqual(bodyOf(res.json()), { err: 'denied' });
    });

    it('answers missing for a key that is not in the envelope', async () => {
      const res = await execute({
        path: '/secret',
        query: 'key=nope',
        providers: ['cap:secrets.get'],
        secret_envelope: await envelopeFor(h.keyring, { api_key: 's3cr3t' }),
      });
      assert.deepEqual(bodyOf(res.json()), { err: 'missing' });
    });

    it('masks a secret the guest logs, in plain, base64, base64url and URL-encoded form', async () => {
      const secret = 'p@ss w/rd?+>>';
      const res = await execute({
        path: '/log-secret',
        query: 'key=api_key',
        providers: ['cap:secrets.get', 'cap:log.emit'],
        secret_envelope: await envelopeFor(h.keyring, { api_key: secret }, { version: 'mask-test' }),
        context: { ...executeRequest(hash).context, request_id: 'req-mask' },
      });
      assert.equal(res.statusCode, 200);
      const line = h.logs.find((entry) => entry.source === 'guest' && entry.request_id === 'req-mask');
      assert.ok(line, 'the guest line was written');
      assert.equal(line.msg, 'plain=[REDACTED] b64=[REDACTED] b64url=[REDACTED] url=[REDACTED]');
      assert.equal(line.tenant_id, 'tenant-1');
      assert.equal(line.extension_id, 'ext-1');
      assert.equal(line.install_id, 'install-1');
      const everything = JSON.stringify(h.logs);
      assert.ok(!everything.includes(secret), 'no log line holds the secret');
      assert.ok(!everything.includes(Buffer.from(secret).toString('base64')));
    });

    it('drops guest log lines when cap:log.emit is not granted', async () => {
      const res = await execute({
        path: '/log',
        query: 'message=dropped-line',
        providers: ['cap:context.read'],
        context: { ...executeRequest(hash).context, request_id: 'req-nolog' },
      });
      assert.equal(res.statusCode, 200);
      assert.ok(!h.logs.some((line) => line.msg === 'dropped-line'));
      assert.ok(h.logs.some((line) => line.request_id === 'req-nolog' && line.dropped === 1));
    });

    it('hands config values to the guest JSON-encoded, and denied without cap:context.read', async () => {
      const granted = await execute({ path: '/config', query: 'key=limit', config: { limit: 5, name: 'x' } });
      assert.deepEqual(bodyOf(granted.json()), { one: { ok: '5' }, all: { ok: '{"limit":5,"name":"x"}' } });
      const denied = await execute({ path: '/config', query: 'key=limit', config: { limit: 5 }, providers: [] });
      assert.deepEqual(bodyOf(denied.json()), { one: { err: 'denied' }, all: { err: 'denied' } });
    });

    it('traps get-context without cap:context.read (no error variant to answer)', async () => {
      const res = await execute({ path: '/echo', providers: ['cap:log.emit'] });
      assert.equal(res.statusCode, 502);
    });

    it('answers ui-proxy and user with their denial variants when not granted', async () => {
      const ungranted = await execute({ path: '/stubs', providers: [] });
      const body = bodyOf(ungranted.json()) as Record<string, unknown>;
      assert.deepEqual(body.uiProxy, { err: 'denied' });
      assert.deepEqual(body.user, { err: 'not-allowed' });
    });

    it('hands the gateway-supplied user to the guest, and not-available without one', async () => {
      const user = {
        user_id: 'u-9',
        user_email: 'u@example.com',
        user_name: 'U',
        user_type: 'client',
        client_name: 'C',
      };
      const withUser = await execute({ path: '/user', providers: ['cap:user.read'], user });
      assert.deepEqual(bodyOf(withUser.json()), {
        ok: {
          tenantId: 'tenant-1',
          clientName: 'C',
          userId: 'u-9',
          userEmail: 'u@example.com',
          userName: 'U',
          userType: 'client',
        },
      });
      const without = await execute({ path: '/user', providers: ['cap:user.read'] });
      assert.deepEqual(bodyOf(without.json()), { err: 'not-available' });
    });

    it('answers a ui-proxy route the operator did not configure with route-not-found', async () => {
      const res = await execute({ path: '/ui-proxy', query: 'route=nowhere', providers: ['cap:ui.proxy'] });
      assert.deepEqual(bodyOf(res.json()), { err: 'route-not-found' });
    });

    it('runs concurrent requests for the same bundle', async () => {
      const results = await Promise.all(Array.from({ length: 4 }, () => execute()));
      for (const res of results) assert.equal(res.statusCode, 200);
    });
  });

  describe(`runner under load (${label})`, () => {
    let h: Harness;
    let hash: string;

    before(async () => {
      ({ h, hash } = await fixtureHarness({ workers: 1, queueLimit: 1, instanceMode: mode, ...settings }));
    });
    after(async () => {
      await h?.close();
    });

    const execute = (overrides: Parameters<typeof executeRequest>[1] = {}) =>
      h.execute(executeRequest(hash, overrides));

    /**
     * Occupies the only worker with a guest that spins until its deadline, which passes only when the
     * test moves the clock (`t.mock.timers.tick(BUSY_MS)`); resolves once it is running in the
     * worker (its lines are written), with its answer to come.
     */
    const occupyWorker = async (requestId: string) => {
      const answered = execute({
        path: '/log-then-loop',
        limits: { timeout_ms: BUSY_MS },
        providers: ['cap:log.emit'],
        context: { ...executeRequest(hash).context, request_id: requestId },
      });
      await until(() => guestLines(h, requestId).length === 3);
      return { answered };
    };
    const BUSY_MS = 60_000;
    const queueDepth = () => metric(h, 'alga_runner_queue_depth');

    it('queues when every worker is busy, answers 503 ALGA_RUNNER_UNAVAILABLE once the queue is full, then recovers', async (t) => {
      await execute(); // compile and warm the worker first
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const busy = (await occupyWorker('req-busy')).answered;
      const queued = execute();
      await until(async () => (await queueDepth()) === 1);
      const rejected = await execute();
      assert.equal(rejected.statusCode, 503);
      assert.equal(rejected.json().error.code, 'ALGA_RUNNER_UNAVAILABLE');
      t.mock.timers.tick(BUSY_MS);
      assert.equal((await busy).statusCode, 504);
      assert.equal((await queued).statusCode, 200, 'the queued request runs on the replacement worker');
    });

    it('times out a request that waited in the queue past its deadline', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const busy = (await occupyWorker('req-busy-2')).answered;
      const queued = execute({ limits: { timeout_ms: 200 } });
      await until(async () => (await queueDepth()) === 1);
      // Its deadline passes while the worker is still busy: it never reached one.
      t.mock.timers.tick(200);
      assert.equal((await queued).statusCode, 504);
      assert.equal(await queueDepth(), 0);
      t.mock.timers.tick(BUSY_MS);
      assert.equal((await busy).statusCode, 504);
      t.mock.timers.reset();
      assert.equal((await execute()).statusCode, 200);
    });
  });
}

describe('the error a caller gets', () => {
  it('carries no guest failure as its cause (the error handler logs causes unmasked) and masks its message', () => {
    const secret = 's3cret-in-a-trap';
    const failure = new ExecutionFailure('handler', `RuntimeError: unreachable\n    at leak (${secret})`);
    const error = callerError(new AlgaError('ALGA_MEMORY_LIMIT', undefined, { cause: failure }), new Set([secret]));
    assert.ok(error instanceof AlgaError);
    assert.equal(error.code, 'ALGA_MEMORY_LIMIT');
    assert.equal(error.cause, undefined);
    const named = callerError(new AlgaError('ALGA_BAD_REQUEST', `no ${secret} here`), new Set([secret]));
    assert.equal((named as AlgaError).message, 'no [REDACTED] here');
    // A runner-side cause (not the guest's) stays for the operator's log.
    const internal = new Error('bundle store down');
    assert.equal(
      (callerError(new AlgaError('ALGA_INTERNAL', undefined, { cause: internal }), new Set()) as AlgaError).cause,
      internal,
    );
  });
});
