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

/** A job for a request granted nothing (so no call is answered without the host), for the request's install. */
const job = (fields: Omit<PoolJob, 'local' | 'install'>): PoolJob => ({
  install: fields.request.context.installId ?? 'i',
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

describe('worker pool: sharing workers between installs', () => {
  /**
   * Jobs that report their start (a one-way log line with their name) and,
   * when held, wait in the guest for the test to release them: which job
   * runs when is decided by the test's events, never by the clock.
   */
  const installs = () => {
    const started: string[] = [];
    const gates = new Map<string, Int32Array>();
    const components = new Map<string, LoadedComponent>();
    const onHostCall = async (call: HostCall): Promise<HostOutcome> => {
      if (call.fn.startsWith('log')) started.push(String(call.args[0]));
      return { kind: 'ok', value: undefined };
    };
    /** A job of `install` named `name`; `held`: it runs until `release(name)`. */
    const submit = (
      pool: WorkerPool,
      install: string,
      name: string,
      options: { held?: boolean; timeoutMs?: number } = {},
    ) => {
      let component = components.get(install);
      if (!component) {
        component = fakeComponent(
          `imports['alga:extension/logging'].logInfo(request.http.url);
           if (request.http.body) Atomics.wait(new Int32Array(request.http.body.buffer), 0, 0);
           ${textResponse('request.http.url')}`,
        );
        components.set(install, component);
      }
      const gate = options.held ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
      if (gate) gates.set(name, gate);
      return pool.run(
        job({
          component,
          request: {
            context: { ...request.context, installId: install },
            http: { ...request.http, url: name, body: gate ? new Uint8Array(gate.buffer) : undefined },
          },
          timeoutMs: options.timeoutMs ?? NO_DEADLINE_MS,
          onHostCall,
        }),
      );
    };
    const release = (name: string) => {
      const gate = gates.get(name)!;
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
    };
    const startedCount = (count: number) => until(() => started.length >= count);
    return { started, submit, release, startedCount };
  };
  const answer = async (response: Promise<{ body?: Uint8Array | undefined }>) =>
    Buffer.from((await response).body ?? []).toString('utf8');
  const turnedAway = (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_RUNNER_UNAVAILABLE';

  it("gives a freed worker to another install's waiting request before the next of an install holding all workers, and keeps it from taking it back", async () => {
    const pool = poolOf({ size: 2, queueLimit: 16, logger: pino({ level: 'silent' }) });
    const { started, submit, release, startedCount } = installs();
    try {
      // Install a, alone, takes both workers (no one else waits), then floods the queue.
      const a = ['a1', 'a2', 'a3', 'a4', 'a5'].map((name) => submit(pool, 'a', name, { held: true }));
      await startedCount(2);
      // Install b's two requests arrive behind a's three.
      const b = ['b1', 'b2'].map((name) => submit(pool, 'b', name, { held: true }));
      assert.equal(pool.stats.queued, 5);
      release('a1');
      await startedCount(3);
      assert.equal(started[2], 'b1', "b's request takes the first worker a frees");
      // a holds one worker (a2), its share while b waits: b's next request gets the worker b1 frees.
      release('b1');
      await startedCount(4);
      assert.equal(started[3], 'b2');
      // Nobody else waits now: a gets its next worker back.
      release('b2');
      await startedCount(5);
      assert.equal(started[4], 'a3');
      for (const name of ['a2', 'a3', 'a4', 'a5']) release(name);
      assert.deepEqual(await Promise.all([...a, ...b].map(answer)), ['a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'b2']);
    } finally {
      await pool.close();
    }
  });

  it("serves waiting installs in turn, each install's requests in the order they came", async () => {
    const pool = poolOf({ size: 1, queueLimit: 16, logger: pino({ level: 'silent' }) });
    const { started, submit, release, startedCount } = installs();
    try {
      const first = submit(pool, 'a', 'a1', { held: true });
      await startedCount(1);
      // A flood of a, then b's and c's requests, while the one worker is busy.
      const waiting = [
        submit(pool, 'a', 'a2'),
        submit(pool, 'a', 'a3'),
        submit(pool, 'a', 'a4'),
        submit(pool, 'b', 'b1'),
        submit(pool, 'b', 'b2'),
        submit(pool, 'c', 'c1'),
      ];
      release('a1');
      await Promise.all([first, ...waiting]);
      assert.deepEqual(started, ['a1', 'a2', 'b1', 'c1', 'a3', 'b2', 'a4']);
      assert.equal(pool.stats.queued, 0);
    } finally {
      await pool.close();
    }
  });

  it("turns away the newest request of the install filling the queue, with 503, to admit another install's", async () => {
    const pool = poolOf({ size: 1, queueLimit: 2, logger: pino({ level: 'silent' }) });
    const { started, submit, release, startedCount } = installs();
    try {
      const a1 = submit(pool, 'a', 'a1', { held: true });
      await startedCount(1);
      const a2 = submit(pool, 'a', 'a2');
      const a3 = submit(pool, 'a', 'a3');
      // The queue is full of a's requests: b's takes the place of a's newest, at once.
      const a3Outcome = a3.then(
        () => 'served',
        (error: unknown) => (turnedAway(error) ? 'turned away' : error),
      );
      const b1 = submit(pool, 'b', 'b1');
      const nextTurn = new Promise((resolve) => setImmediate(() => resolve('still waiting')));
      assert.equal(await Promise.race([a3Outcome, nextTurn]), 'turned away');
      // One waiting each: the newcomer is turned away, as before.
      await assert.rejects(submit(pool, 'a', 'a4'), turnedAway);
      await assert.rejects(submit(pool, 'b', 'b2'), turnedAway);
      assert.equal(pool.stats.queued, 2);
      release('a1');
      assert.deepEqual(await Promise.all([a1, a2, b1].map(answer)), ['a1', 'a2', 'b1']);
      assert.deepEqual(started, ['a1', 'a2', 'b1']);
    } finally {
      await pool.close();
    }
  });

  it("drops a waiting request at its deadline from its install's queue, the others keep their turn", async (t) => {
    const pool = poolOf({ size: 1, queueLimit: 16, logger: pino({ level: 'silent' }) });
    const { started, submit, release, startedCount } = installs();
    try {
      const a1 = submit(pool, 'a', 'a1', { held: true });
      await startedCount(1);
      // a2's deadline passes when the test moves the clock, while a1 holds the worker.
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const a2 = submit(pool, 'a', 'a2', { timeoutMs: 200 });
      const waiting = [submit(pool, 'a', 'a3'), submit(pool, 'b', 'b1'), submit(pool, 'b', 'b2')];
      t.mock.timers.tick(200);
      t.mock.timers.reset();
      await assert.rejects(a2, (error: unknown) => error instanceof AlgaError && error.code === 'ALGA_TIMEOUT');
      assert.equal(pool.stats.queued, 3);
      release('a1');
      assert.deepEqual(await Promise.all([a1, ...waiting].map(answer)), ['a1', 'a3', 'b1', 'b2']);
      assert.deepEqual(started, ['a1', 'a3', 'b1', 'b2']);
    } finally {
      await pool.close();
    }
  });
});
