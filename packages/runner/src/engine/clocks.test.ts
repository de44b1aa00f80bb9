/**
 * Guest time (wasi/index.ts) with a real component, in every way the runner
 * runs one: inline on its thread, in a worker with reset-in-place, and in a
 * worker with a fresh instance per request. The clocks are the host's, timers
 * work within a request and its deadline, and a timer a request leaves
 * pending never fires into a later one.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { ExecuteResponse } from '@alga-psa/protocol';
import type { RunnerSettings } from '../settings.ts';
import { bodyOf, executeRequest, fixtureHarness, instanceEvents, type Harness } from '../testing/harness.ts';

const WAYS: Array<{ name: string; settings: Partial<RunnerSettings> }> = [
  { name: 'inline on the runner thread (reset)', settings: { instanceMode: 'reset' } },
  { name: 'in a worker, reset in place', settings: { instanceMode: 'reset', inlineFuel: 0 } },
  { name: 'in a worker, a fresh instance per request', settings: { instanceMode: 'fresh' } },
];

for (const way of WAYS) {
  describe(`guest clocks and timers, ${way.name}`, () => {
    let h: Harness;
    let hash: string;
    before(async () => {
      ({ h, hash } = await fixtureHarness({ workers: 1, ...way.settings }));
    });
    after(() => h?.close());

    const call = async (path: string, query = '') =>
      (await h.execute(executeRequest(hash, { path, query }))).json<ExecuteResponse>();
    const clock = async () => {
      const before = Date.now();
      const answer = await call('/clock');
      const after = Date.now();
      assert.equal(answer.status, 200);
      const read = bodyOf(answer) as { wall: number; date: number; mono: number };
      // The host's wall clock at the time of the request, not the instant the component was built.
      assert.ok(read.wall >= before - 1 && read.wall <= after + 1, `${before} ≤ ${read.wall} ≤ ${after}`);
      assert.ok(read.date >= read.wall && read.date <= after + 1);
      return read;
    };

    it('reads the host wall clock and a monotonic clock: two requests a second apart see a second pass', async () => {
      const first = await clock();
      await sleep(1000);
      const second = await clock();
      assert.ok(second.wall - first.wall >= 990, `wall advanced ${second.wall - first.wall} ms`);
      // performance.now() counts from the instance's time origin, as on the web: an instance
      // kept across requests sees it advance; a fresh instance starts a new origin.
      assert.ok(first.mono >= 0 && second.mono >= 0);
      if (way.settings.instanceMode === 'reset') {
        assert.ok(second.mono - first.mono >= 990, `monotonic advanced ${second.mono - first.mono} ms`);
      }
    });

    it('runs a setTimeout the guest awaits, and its callback gets the time it asked for', async () => {
      const answer = await call('/timer', 'ms=10');
      assert.equal(answer.status, 200);
      const { fired, waited } = bodyOf(answer) as { fired: boolean; waited: number };
      assert.equal(fired, true);
      assert.ok(waited >= 9, `waited ${waited} ms`);
    });

    it('runs setInterval until cleared, and never runs a cleared timeout', async () => {
      const answer = await call('/interval');
      assert.equal(answer.status, 200);
      assert.deepEqual(bodyOf(answer), { ticks: 3, cancelledFired: false });
    });

    it('discards timers still pending when the response is returned: they never fire into a later request', async () => {
      const leftBefore = await instanceEvents(h, 'resources-left');
      assert.equal((await call('/leave-timers')).status, 200);
      const later = await call('/left-timers');
      assert.equal(later.status, 200);
      assert.deepEqual(bodyOf(later), { leftTimersFired: 0 });
      assert.equal((await call('/timer', 'ms=20')).status, 200);
      const fired = h.logs.filter((line) => /a left (timer|interval) fired/.test(String(line.msg)));
      assert.deepEqual(fired, []);
      // In reset mode the instance that held them is replaced, not restored (fresh mode never reuses one).
      if (way.settings.instanceMode === 'reset') assert.ok((await instanceEvents(h, 'resources-left')) > leftBefore);
    });

    it("stops a timer longer than the request's deadline at the deadline, and keeps serving", async () => {
      const answer = await h.execute(
        executeRequest(hash, { path: '/timer', query: 'ms=600000', limits: { timeout_ms: 300 } }),
      );
      assert.equal(answer.statusCode, 504, answer.body);
      assert.equal(answer.json<{ error: { code: string } }>().error.code, 'ALGA_TIMEOUT');
      await clock();
    });
  });
}
