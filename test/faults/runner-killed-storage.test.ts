/**
 * Complements test/e2e/runners-failover.test.ts with storage: a runner is
 * SIGKILLed while requests that each write one unique key (create-only,
 * expected revision 0) are in flight. Every request ends (200, 502 or 503,
 * never a hang); every acknowledged write is stored; no write is applied
 * twice (a second application would be a conflict, or a revision above 1).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { gatewayCall, repo, startSystem, until, type System } from '../adversarial/lib/system.ts';

/**
 * Far above any honest answer, on any machine: the gateway ends every call within the execution
 * deadline plus 5 s, so a request still open then has hung.
 */
const HANG_MS = 60_000;

describe('a runner killed mid-load with storage writes in flight', () => {
  let sys: System;
  /** The status, and the revision the write was acknowledged with. */
  const write = async (key: string): Promise<{ status: number; revision?: string }> => {
    try {
      const answer = await gatewayCall(sys.server.url, sys.tenants[0].apiKey, `hostile/write?key=${key}`, {
        method: 'POST',
        timeoutMs: HANG_MS,
      });
      return answer.status === 200
        ? { status: 200, revision: answer.json().revision as string }
        : { status: answer.status };
    } catch {
      return { status: 0 }; // abandoned as hung
    }
  };

  before(async () => {
    sys = await startSystem({
      name: 'runner-killed',
      runners: 2,
      runnerEnv: { RUNNER_QUEUE_LIMIT: '64' },
      // The default execution deadline (EXECUTION_TIMEOUT_MS): writes queued on the surviving runner
      // must not reach it, however slow the machine.
      serverEnv: { ALGA_GATEWAY_RATE_LIMIT: '0' },
    });
    await deployExtension(sys.tenants[0].client, path.join(repo, 'test/fixtures/hostile'));
    // Warm both runners so the burst measures failover, not compilation. On a busy machine a first
    // compile can outlast the gateway's wait (504): warm until a whole round answers, each with new keys.
    let round = 0;
    let warm: number[] = [];
    await until(async () => {
      round++;
      warm = (await Promise.all(Array.from({ length: 4 }, (_, i) => write(`warm-${round}-${i}`)))).map((w) => w.status);
      return !warm.includes(504);
    });
    assert.deepEqual(warm, [200, 200, 200, 200]);
  });
  after(async () => {
    await sys?.stop();
  });

  test('acknowledged writes are all stored, none twice, and every request ends', async () => {
    const pending = new Map<string, Promise<{ status: number; revision?: string }>>();
    for (let wave = 0; wave < 12; wave++) {
      for (let i = 0; i < 4; i++) {
        const key = `k-${wave}-${i}`;
        pending.set(key, write(key));
      }
      if (wave === 5) sys.runners[0]!.child.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const outcome = new Map<string, { status: number; revision?: string }>();
    for (const [key, result] of pending) outcome.set(key, await result);

    const all = [...outcome.values()].map((o) => o.status);
    assert.ok(!all.includes(0), `a request hung: ${all.join(',')}`);
    for (const status of all) assert.ok([200, 502, 503].includes(status), `unexpected ${status} (409 = applied twice)`);
    assert.ok(all.filter((s) => s === 200).length > all.length / 2, `too few succeeded: ${all.join(',')}`);

    const listed = await gatewayCall(sys.server.url, sys.tenants[0].apiKey, 'hostile/keys');
    assert.equal(listed.status, 200, listed.text);
    const stored = listed.json().keys as Record<string, string>;
    for (const [key, { status, revision }] of outcome) {
      if (status === 200) assert.equal(stored[key], revision, `acknowledged write ${key} stored at its revision`);
    }
    // Revisions are per install and strictly increasing: one per applied write, so no duplicates.
    const revisions = Object.values(stored);
    assert.equal(new Set(revisions).size, revisions.length);
  });
});
