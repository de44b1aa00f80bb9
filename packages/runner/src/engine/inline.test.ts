/**
 * Inline execution (inline.ts) with a real component: quick requests are
 * answered on the runner's thread with what a worker would answer; anything
 * the thread cannot answer at once, or that outruns its fuel, goes to a
 * worker, and the guest never appears to have run twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ExecuteResponse } from '@alga-psa/protocol';
import type { RunnerSettings } from '../settings.ts';
import { bodyOf, envelopeFor, executeRequest, fixtureHarness, metric, type Harness } from '../testing/harness.ts';
import { until } from '../testing/wait.ts';

/** `alga_runner_inline_executions_total{result}` from the runner's /metrics. */
async function inlineRuns(h: Harness, result: string): Promise<number> {
  const metrics = (await h.runner.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = new RegExp(`^alga_runner_inline_executions_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(metrics);
  return Number(line?.[1] ?? 0);
}

/** What the guest logged for one request, in order. */
const guestLines = (h: Harness, requestId: string) =>
  h.logs.filter((line) => line.source === 'guest' && line.request_id === requestId).map((line) => line.msg);

async function demotions(h: Harness): Promise<number> {
  const metrics = (await h.runner.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Number(/^alga_runner_inline_demotions_total (\d+)$/m.exec(metrics)?.[1] ?? NaN);
}

describe('inline execution on the runner thread', () => {
  /** A runner of its own per test: demotion is per compiled component, and tests must not share it. */
  const runner = (settings: Partial<RunnerSettings> = {}): Promise<{ h: Harness; hash: string }> =>
    fixtureHarness({ workers: 1, instanceMode: 'reset', ...settings });

  describe('a quick request', () => {
    let inline: { h: Harness; hash: string };
    let workers: { h: Harness; hash: string };
    before(async () => {
      inline = await runner();
      workers = await runner({ inlineFuel: 0 });
    });
    after(async () => {
      await inline?.h.close();
      await workers?.h.close();
    });

    it('is answered on the runner thread with exactly what a worker answers, on a fresh instance each time', async () => {
      const request = {
        path: '/echo',
        query: 'a=1',
        http: { method: 'POST', path: '/echo', query: 'a=1', headers: { 'x-test': 'yes' }, body_b64: 'aGk=' },
      };
      for (let i = 0; i < 3; i++) {
        const here = (await inline.h.execute(executeRequest(inline.hash, request))).json<ExecuteResponse>();
        const there = (await workers.h.execute(executeRequest(workers.hash, request))).json<ExecuteResponse>();
        // The content hash differs between the two runners' contexts only if the bundles differ; they do not.
        assert.deepEqual(here, there);
        assert.equal((bodyOf(here) as { counter: number }).counter, 1);
      }
      assert.equal(await inlineRuns(inline.h, 'ok'), 3);
      assert.equal(await inlineRuns(workers.h, 'ok'), 0, 'RUNNER_INLINE_FUEL=0 turns the path off');
    });

    it('handles its log lines as a worker would: masked, in order, once', async () => {
      const envelope = await envelopeFor(inline.h.keyring, { api_key: 'inline-s3cr3t' });
      const providers = ['cap:context.read', 'cap:log.emit', 'cap:secrets.get'] as const;
      const context = { ...executeRequest(inline.hash).context, request_id: 'req-log' };
      // First read decrypts in a worker (not cached yet); the second is served inline from the cache.
      const before = await inlineRuns(inline.h, 'ok');
      for (const request_id of ['req-log-1', 'req-log-2']) {
        const res = await inline.h.execute(
          executeRequest(inline.hash, {
            path: '/log-secret',
            query: 'key=api_key',
            providers: [...providers],
            secret_envelope: envelope,
            context: { ...context, request_id },
          }),
        );
        assert.equal(res.statusCode, 200);
      }
      assert.equal(await inlineRuns(inline.h, 'ok'), before + 1);
      assert.deepEqual(guestLines(inline.h, 'req-log-2'), guestLines(inline.h, 'req-log-1'));
      assert.ok(guestLines(inline.h, 'req-log-2').length > 0);
      assert.ok(!JSON.stringify(inline.h.logs).includes('inline-s3cr3t'));
    });
  });

  it('runs back-to-back requests inline, and a request that overlaps another in a worker', async (t) => {
    const { h, hash } = await runner();
    try {
      // More in a row than one event-loop turn's inline budget: the later ones wait a turn, still inline.
      for (let i = 0; i < 8; i++)
        assert.equal((await h.execute(executeRequest(hash, { path: '/echo' }))).statusCode, 200);
      assert.equal(await inlineRuns(h, 'ok'), 8);
      // A spinning request that may not run inline holds the worker until its deadline, which
      // passes when the test moves the clock...
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const spinning = h.execute(
        executeRequest(hash, {
          path: '/log-then-loop',
          providers: ['cap:context.read', 'cap:log.emit', 'cap:http.fetch'],
          limits: { timeout_ms: 1000 },
          context: { ...executeRequest(hash).context, request_id: 'req-spinning' },
        }),
      );
      await until(() => guestLines(h, 'req-spinning').includes('step-3'));
      // ...and one that arrives meanwhile is not alone: it waits for a worker rather than running here.
      const overlapping = h.execute(executeRequest(hash, { path: '/echo' }));
      await until(async () => (await metric(h, 'alga_runner_queue_depth')) === 1);
      t.mock.timers.tick(1000);
      assert.equal((await spinning).statusCode, 504);
      assert.equal((await overlapping).statusCode, 200);
      t.mock.timers.reset();
      assert.equal(await inlineRuns(h, 'ok'), 8);
      assert.equal((await h.execute(executeRequest(hash, { path: '/echo' }))).statusCode, 200);
      assert.equal(await inlineRuns(h, 'ok'), 9, 'alone again: inline');
    } finally {
      await h.close();
    }
  });

  it('reads a cached secret inline; an uncached one is first decrypted by a worker', async () => {
    const { h, hash } = await runner();
    try {
      const request = executeRequest(hash, {
        path: '/secret',
        query: 'key=api_key',
        providers: ['cap:secrets.get'],
        secret_envelope: await envelopeFor(h.keyring, { api_key: 's3cr3t' }),
      });
      assert.deepEqual(bodyOf((await h.execute(request)).json()), { ok: 's3cr3t' });
      assert.equal(await inlineRuns(h, 'ok'), 0, 'the first read is not in the cache');
      assert.deepEqual(bodyOf((await h.execute(request)).json()), { ok: 's3cr3t' });
      assert.equal(await inlineRuns(h, 'ok'), 1);
    } finally {
      await h.close();
    }
  });

  it('never tries a request granted outbound HTTP or storage inline', async () => {
    const { h, hash } = await runner();
    try {
      const res = await h.execute(
        executeRequest(hash, { path: '/echo', providers: ['cap:context.read', 'cap:http.fetch'] }),
      );
      assert.equal(res.statusCode, 200);
      const tried = ['ok', 'host-call', 'fuel', 'failed'].map((result) => inlineRuns(h, result));
      assert.deepEqual(await Promise.all(tried), [0, 0, 0, 0]);
    } finally {
      await h.close();
    }
  });

  it('sends a guest that calls a host function the thread cannot answer to a worker, which answers it', async () => {
    const { h, hash } = await runner();
    try {
      // Not granted: the worker's host answers each with its denial.
      const res = await h.execute(executeRequest(hash, { path: '/stubs' }));
      assert.equal(res.statusCode, 200);
      assert.deepEqual(bodyOf(res.json()), {
        http: { err: 'not-allowed' },
        storage: { err: 'denied' },
        uiProxy: { err: 'denied' },
        user: { err: 'not-allowed' },
      });
      assert.equal(await inlineRuns(h, 'host-call'), 1);
      // Still tried inline afterwards: one decline is not a pattern.
      assert.equal((await h.execute(executeRequest(hash))).statusCode, 200);
      assert.equal(await inlineRuns(h, 'ok'), 1);
    } finally {
      await h.close();
    }
  });

  it('stops a spinning guest when its fuel runs out; the worker enforces the deadline and the lines appear once', async (t) => {
    const { h, hash } = await runner();
    try {
      // The deadline passes when the test moves the clock: once the worker is seen running the guest
      // (its lines are written), however long the fuel run and the worker's start took.
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const answered = h.execute(
        executeRequest(hash, {
          path: '/log-then-loop',
          limits: { timeout_ms: 60_000 },
          providers: ['cap:log.emit'],
          context: { ...executeRequest(hash).context, request_id: 'req-spin' },
        }),
      );
      await until(() => guestLines(h, 'req-spin').includes('step-3'));
      t.mock.timers.tick(60_000);
      const res = await answered;
      t.mock.timers.reset();
      assert.equal(res.statusCode, 504);
      assert.equal(res.json().error.code, 'ALGA_TIMEOUT');
      assert.equal(await inlineRuns(h, 'fuel'), 1);
      assert.deepEqual(
        guestLines(h, 'req-spin'),
        ['step-1', 'step-2', 'step-3'],
        'the abandoned inline run logged nothing',
      );
      // Not quick: its requests go to a worker from now on, and are still answered.
      assert.equal(await demotions(h), 1);
      assert.equal((await h.execute(executeRequest(hash))).statusCode, 200);
      assert.equal(await inlineRuns(h, 'ok'), 0);
    } finally {
      await h.close();
    }
  });
});
