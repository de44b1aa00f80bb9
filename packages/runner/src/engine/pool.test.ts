/**
 * The worker pool with hand-written stand-ins for jco glue (no componentize
 * build needed): the host-call bridge, crash replacement, deadlines.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { AlgaError } from '@alga-psa/protocol';
import { hostPlan, type HostOutcome } from '../host-calls/index.ts';
import { testProviders } from '../testing/providers.ts';
import { NO_DEADLINE_MS, until } from '../testing/wait.ts';
import type { WitExecuteRequest } from './convert.ts';
import { ExecutionFailure, WorkerPool, type PoolJob, type WorkerPoolOptions } from './pool.ts';
import type { LoadedComponent } from './loader.ts';
import type { HostCall } from './messages.ts';

/** The runner's own plan: which interfaces a worker answers itself, which are one-way. */
const plan = hostPlan(testProviders());

/** A job for a request granted nothing (so no call is answered without the host). */
const job = (fields: Omit<PoolJob, 'local'>): PoolJob => ({
  ...fields,
  local: { request: { context: fields.request as never, config: {} }, granted: [] },
});

const poolOf = (options: Omit<WorkerPoolOptions, 'plan'>) => new WorkerPool({ plan, ...options });

let nextHash = 0;
/** A fake component whose `handler` runs `body` with `imports` in scope. */
function fakeComponent(body: string, instantiatePrelude = ''): LoadedComponent {
  const contentHash = `fake-${++nextHash}`;
  return {
    contentHash,
    key: `${contentHash}#128m`,
    memoryMb: 128,
    glue: `export function instantiate(getCoreModule, imports) { ${instantiatePrelude}
      return { handler(request) { ${body} } }; }`,
    modules: {},
    resettable: false,
    tablesWritable: true,
    metered: false,
  };
}

const request: WitExecuteRequest = {
  context: { requestId: 'r', tenantId: 't', extensionId: 'e', installId: 'i', versionId: 'v' },
  http: { method: 'GET', url: '/', headers: [], body: undefined },
};

const textResponse = (expr: string) =>
  `return { status: 200, headers: [], body: new TextEncoder().encode(String(${expr})) };`;

// Every behaviour holds whether results are awaited as events or busy-polled (a benchmark option).
for (const [instanceMode, busyPollMicros] of [
  ['reset', 0],
  ['fresh', 0],
  ['reset', 1_000_000],
] as const)
  describe(`worker pool (${instanceMode} mode, busy poll ${busyPollMicros} µs)`, () => {
    const pool = poolOf({
      size: 1,
      queueLimit: 4,
      logger: pino({ level: 'silent' }),
      instanceMode,
      busyPollMicros,
    });
    after(() => pool.close());

    const noHost = async (): Promise<HostOutcome> => ({ kind: 'trap', message: 'no host' });
    const text = (body?: Uint8Array) => Buffer.from(body ?? []).toString('utf8');

    it('answers a synchronous guest import from an async main-thread provider through the Atomics bridge', async () => {
      const calls: HostCall[] = [];
      const component = fakeComponent(
        textResponse(
          `imports['alga:extension/secrets'].get('k') + ':' + imports['alga:extension/secrets'].listKeys().join(',')`,
        ),
      );
      const response = await pool.run(
        job({
          component,
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: async (call) => {
            calls.push(call);
            await new Promise((resolve) => setTimeout(resolve, 20));
            return { kind: 'ok', value: call.fn === 'get' ? `value-of-${String(call.args[0])}` : ['a', 'b'] };
          },
        }),
      );
      assert.equal(text(response.body), 'value-of-k:a,b');
      assert.deepEqual(
        calls.map((call) => [call.iface, call.fn]),
        [
          ['secrets', 'get'],
          ['secrets', 'listKeys'],
        ],
      );
    });

    it('raises an err outcome in the worker as an error carrying `payload`, the way jco lowers result errors', async () => {
      const component = fakeComponent(
        `try { imports['alga:extension/secrets'].get('k'); } catch (e) { ${textResponse('e.payload')} }`,
      );
      const response = await pool.run(
        job({
          component,
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: async () => ({ kind: 'err', payload: 'denied' }),
        }),
      );
      assert.equal(text(response.body), 'denied');
    });

    it('turns a trap outcome into a failed execution', async () => {
      const component = fakeComponent(`imports['alga:extension/secrets'].get('k'); ${textResponse('1')}`);
      await assert.rejects(
        pool.run(job({ component, request, timeoutMs: NO_DEADLINE_MS, onHostCall: noHost })),
        (error: unknown) => {
          assert.ok(error instanceof ExecutionFailure);
          assert.equal(error.phase, 'handler');
          assert.match(error.detail, /no host/);
          return true;
        },
      );
    });

    it('replaces a worker that dies and keeps serving', async () => {
      const crash = fakeComponent(textResponse('1'), 'process.exit(3);');
      await assert.rejects(
        pool.run(job({ component: crash, request, timeoutMs: NO_DEADLINE_MS, onHostCall: noHost })),
        ExecutionFailure,
      );
      const ok = await pool.run(
        job({
          component: fakeComponent(textResponse('"alive"')),
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: noHost,
        }),
      );
      assert.equal(text(ok.body), 'alive');
      assert.equal(pool.stats.workers, 1);
    });

    it('terminates a worker blocked in a host call at the deadline and keeps serving', async (t) => {
      const component = fakeComponent(`imports['alga:extension/secrets'].get('k'); ${textResponse('1')}`);
      let blocked!: () => void;
      const inHostCall = new Promise<void>((resolve) => (blocked = resolve));
      const never = () => {
        blocked();
        return new Promise<HostOutcome>(() => {});
      };
      // The deadline passes when the test moves the clock: only once the worker is blocked in its call.
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const stopped = assert.rejects(
        pool.run(job({ component, request, timeoutMs: 200, onHostCall: never })),
        (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_TIMEOUT',
      );
      await inHostCall;
      t.mock.timers.tick(200);
      await stopped;
      t.mock.timers.reset();
      const ok = await pool.run(
        job({
          component: fakeComponent(textResponse('"after"')),
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: noHost,
        }),
      );
      assert.equal(text(ok.body), 'after');
    });

    /** A host that records the first argument of every call (the guest's log lines); `first` resolves on the first. */
    const recorder = () => {
      const logged: unknown[] = [];
      let seen!: () => void;
      const first = new Promise<void>((resolve) => (seen = resolve));
      const onHostCall = async (call: HostCall): Promise<HostOutcome> => {
        logged.push(call.args[0]);
        seen();
        return { kind: 'ok', value: undefined };
      };
      return { logged, first, onHostCall };
    };

    it("hands a guest's one-way log calls to the host before its result, in the order made", async () => {
      const { logged, onHostCall } = recorder();
      const component = fakeComponent(
        `const log = imports['alga:extension/logging'];
         for (let i = 0; i < 5; i++) log.logInfo('line ' + i);
         ${textResponse('"done"')}`,
      );
      const response = await pool.run(job({ component, request, timeoutMs: NO_DEADLINE_MS, onHostCall }));
      assert.equal(text(response.body), 'done');
      assert.deepEqual(logged, ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    });

    it('hands over what a guest logged before it was stopped at its deadline', async (t) => {
      const { logged, first, onHostCall } = recorder();
      const component = fakeComponent(`imports['alga:extension/logging'].logWarn('about to spin'); for (;;) {}`);
      // The deadline passes when the test moves the clock: once the guest has logged and is spinning.
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const stopped = assert.rejects(
        pool.run(job({ component, request, timeoutMs: 200, onHostCall })),
        (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_TIMEOUT',
      );
      await first;
      t.mock.timers.tick(200);
      await stopped;
      assert.deepEqual(logged, ['about to spin']);
    });

    it('serves jobs queued behind a busy worker in order', async () => {
      const jobs = [1, 2, 3].map((n) =>
        pool.run(
          job({
            component: fakeComponent(textResponse(String(n))),
            request,
            timeoutMs: NO_DEADLINE_MS,
            onHostCall: noHost,
          }),
        ),
      );
      assert.deepEqual(
        (await Promise.all(jobs)).map((response) => text(response.body)),
        ['1', '2', '3'],
      );
      assert.equal(pool.stats.queued, 0);
    });

    it('sends a component to a worker once and reuses it', async () => {
      const component = fakeComponent(textResponse('(globalThis.__seen = (globalThis.__seen ?? 0) + 1)'));
      await pool.run(job({ component, request, timeoutMs: NO_DEADLINE_MS, onHostCall: noHost }));
      const second = await pool.run(
        job({
          component: { ...component, glue: 'syntax error: not sent again' },
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: noHost,
        }),
      );
      assert.equal(text(second.body), '2');
    });

    it('rejects new work with 503 once closed', async () => {
      const closing = poolOf({ size: 1, queueLimit: 0, logger: pino({ level: 'silent' }) });
      await closing.close();
      await assert.rejects(
        closing.run(job({ component: fakeComponent(textResponse('1')), request, timeoutMs: 1000, onHostCall: noHost })),
        (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_RUNNER_UNAVAILABLE',
      );
    });
  });

describe('worker pool busy polling', () => {
  it('stops polling once a job outlives its budget, and still delivers that job by its message', async () => {
    const pool = poolOf({ size: 1, queueLimit: 1, logger: pino({ level: 'silent' }), busyPollMicros: 1000 });
    try {
      // The guest holds its worker until the test releases it, far beyond the 1 ms budget.
      const gate = new Int32Array(new SharedArrayBuffer(4));
      const component = fakeComponent(
        `Atomics.wait(new Int32Array(request.http.body.buffer), 0, 0); ${textResponse('"released"')}`,
      );
      const running = pool.run(
        job({
          component,
          request: { ...request, http: { ...request.http, body: new Uint8Array(gate.buffer) } },
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: async () => ({ kind: 'trap', message: 'no host' }),
        }),
      );
      assert.equal(pool.stats.polling, true, 'polls right after the dispatch');
      // Stops polling once the budget is spent, while the job still runs: the guest waits for the gate.
      await until(() => !pool.stats.polling);
      assert.equal(pool.stats.busy, 1);
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      assert.equal(Buffer.from((await running).body ?? []).toString('utf8'), 'released');
    } finally {
      await pool.close();
    }
  });

  it('never polls when the budget is 0', async () => {
    const pool = poolOf({ size: 1, queueLimit: 1, logger: pino({ level: 'silent' }), busyPollMicros: 0 });
    try {
      const running = pool.run(
        job({
          component: fakeComponent(textResponse('1')),
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: async () => ({ kind: 'trap', message: 'no host' }),
        }),
      );
      assert.equal(pool.stats.polling, false);
      await running;
    } finally {
      await pool.close();
    }
  });

  it('refuses a budget that is not a whole number of microseconds', () => {
    for (const busyPollMicros of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () => poolOf({ size: 1, queueLimit: 1, logger: pino({ level: 'silent' }), busyPollMicros }),
        RangeError,
      );
    }
  });
});

describe('worker pool: replacing a killed worker', () => {
  const noHostCall = async (): Promise<HostOutcome> => ({ kind: 'trap', message: 'no host' });
  const spinning = () => {
    let spun!: () => void;
    const started = new Promise<void>((resolve) => (spun = resolve));
    const component = fakeComponent(`imports['alga:extension/logging'].logWarn('spinning'); for (;;) {}`);
    const onHostCall = async (): Promise<HostOutcome> => {
      spun();
      return { kind: 'ok', value: undefined };
    };
    return { component, started, onHostCall };
  };

  it('swaps in a spare booted beforehand, then boots the next spare', async (t) => {
    const pool = poolOf({ size: 1, queueLimit: 4, logger: pino({ level: 'silent' }) });
    try {
      await until(() => pool.stats.spare === 'ready' && pool.stats.ready === 1);
      const { component, started, onHostCall } = spinning();
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const stopped = assert.rejects(
        pool.run(job({ component, request, timeoutMs: 200, onHostCall })),
        (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_TIMEOUT',
      );
      await started;
      t.mock.timers.tick(200);
      await stopped;
      t.mock.timers.reset();
      // Right after the kill: the worker in its place has loaded its modules already...
      assert.deepEqual([pool.stats.workers, pool.stats.ready], [1, 1]);
      // ...and the next spare is on its way.
      assert.notEqual(pool.stats.spare, 'none');
      const alive = fakeComponent(textResponse('"alive"'));
      const ok = await pool.run(job({ component: alive, request, timeoutMs: NO_DEADLINE_MS, onHostCall: noHostCall }));
      assert.equal(Buffer.from(ok.body ?? []).toString('utf8'), 'alive');
      await until(() => pool.stats.spare === 'ready');
    } finally {
      await pool.close();
    }
    assert.equal(pool.stats.spare, 'none', 'close retires the spare too');
  });

  it('sends a request to an idle worker that already holds its component, not to the first idle one', async () => {
    const pool = poolOf({ size: 2, queueLimit: 4, logger: pino({ level: 'silent' }) });
    try {
      // Answers with an id drawn once per worker (the glue's globals live as long as the worker).
      const component = fakeComponent(textResponse('(globalThis.workerId ??= Math.random())'));
      const idOf = async () =>
        Buffer.from(
          (await pool.run(job({ component, request, timeoutMs: NO_DEADLINE_MS, onHostCall: noHostCall }))).body ?? [],
        ).toString('utf8');
      // The first worker is busy in a host call, so the component loads on the second one only.
      let release!: (outcome: HostOutcome) => void;
      let blocked!: () => void;
      const inCall = new Promise<void>((resolve) => (blocked = resolve));
      const busy = pool.run(
        job({
          component: fakeComponent(`imports['alga:extension/secrets'].get('k'); ${textResponse('1')}`),
          request,
          timeoutMs: NO_DEADLINE_MS,
          onHostCall: () => {
            blocked();
            return new Promise<HostOutcome>((resolve) => (release = resolve));
          },
        }),
      );
      await inCall;
      const second = await idOf();
      release({ kind: 'ok', value: { tag: 'ok', val: 'v' } });
      await busy;
      // Both idle now: the one holding the component serves it, every time.
      for (let i = 0; i < 3; i++) assert.equal(await idOf(), second);
    } finally {
      await pool.close();
    }
  });
});
