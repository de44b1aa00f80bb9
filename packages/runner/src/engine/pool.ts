/**
 * A fixed set of worker threads running extension executions, with a bounded
 * queue and a per-execution deadline.
 *
 * The deadline is enforced from the main thread because nothing inside the
 * worker can interrupt a guest spinning in wasm: on expiry the worker is
 * terminated (this works for pure-wasm loops and for a worker blocked in
 * `Atomics.wait`) and replaced, so the pool keeps its size.
 *
 * A replacement must not hold up the killed install's next request: a new
 * worker takes ~0.5 s to load its module graph, so the pool keeps one spare
 * worker booted out of rotation and swaps it in; and a request goes to an
 * idle worker that already holds its component when there is one
 * (docs/perf/032-spare-worker.md).
 *
 * Waiting requests are shared out by install, so one install's flood or its
 * endless loops cannot hold another install's request back: each install
 * waits in a queue of its own, a freed worker serves the installs in turn,
 * and while another install waits an install holds at most all workers but
 * one. A full queue turns away the newest request of the install with the
 * most waiting (docs/perf/043-fair-scheduling.md).
 *
 * Busy polling (`busyPollMicros`, a benchmark option, off by default): for
 * a while after each dispatch the main thread checks the workers' result
 * ports on every turn of its event loop instead of sleeping until a message
 * wakes it (docs/perf/014-busy-polling.md).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../errors.ts';
import type { HostOutcome, HostPlan } from '../host-calls/index.ts';
import type { WitExecuteRequest, WitExecuteResponse } from './convert.ts';
import type { LoadedComponent } from './loader.ts';
import {
  INSTANCE_COUNTERS,
  type ComponentLoad,
  type LocalJob,
  type FailurePhase,
  type FromWorker,
  type HostCall,
  type HostReply,
  type InstanceCounter,
  type InstanceMode,
  type ToWorker,
  type WorkerInit,
} from './messages.ts';

export interface PoolJob {
  /** The install the request is for: the pool shares its workers fairly between installs. */
  install: string;
  component: LoadedComponent;
  request: WitExecuteRequest;
  timeoutMs: number;
  /** Answers one guest import call (runs on the main thread, may be async). */
  onHostCall(call: HostCall): Promise<HostOutcome>;
  /** Masks the execution's values in worker output logged while this job runs. */
  redact?(text: string): string;
  /** What the worker answers request-only calls from, without the bridge. */
  local: LocalJob;
}

export interface WorkerPoolOptions {
  /** Every interface a guest may import and how a worker answers it. */
  plan: HostPlan;
  size: number;
  /** Executions allowed to wait for a worker; beyond it `run` rejects with 503. */
  queueLimit: number;
  logger: FastifyBaseLogger;
  /**
   * V8 heap limits of each worker. A backstop only: wasm linear memory is
   * capped in the module itself (wasm-rewrite's `capModuleMemory`); this bounds the JS side
   * (glue, host-call copies) so a runaway worker dies alone.
   */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
  /** Hooks for metrics. */
  events?: PoolEvents;
  /** `reset` (default): warm instances restored in place after each request; `fresh`: a new one per request. */
  instanceMode?: InstanceMode;
  /** How long after a dispatch the main thread polls for its result, in µs; 0 (default) turns polling off. */
  busyPollMicros?: number;
}

/**
 * What became of instances, since the pool started (see worker.ts): after
 * their request (`Recycled` outcomes, and the 1 KiB blocks restores put
 * back), and before their snapshot (warm-ups done and refused, warm-up.ts).
 */
export type InstanceStats = Record<InstanceCounter, number>;

export interface PoolEvents {
  /** An execution was stopped for breaching a limit; its worker is discarded. */
  limitKill?(kind: 'timeout' | 'memory'): void;
  /** A worker was replaced (after a limit kill or a crash). */
  workerRestart?(reason: 'timeout' | 'memory' | 'crash'): void;
}

/** The guest trapped, threw or the worker died. `detail` is for the log only. */
export class ExecutionFailure extends Error {
  readonly phase: FailurePhase | 'worker';
  readonly detail: string;
  constructor(phase: FailurePhase | 'worker', detail: string) {
    super('The extension failed while handling the request.');
    this.name = 'ExecutionFailure';
    this.phase = phase;
    this.detail = detail;
  }
}

interface Pending {
  id: number;
  job: PoolJob;
  resolve(response: WitExecuteResponse): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  slot?: Slot;
  /** `performance.now()` until which the main thread polls for this job's result. */
  pollUntil: number;
  /** The install's queue while the job waits in it, and its neighbours there (older, newer). */
  waitingIn: InstallQueue | undefined;
  older: Pending | undefined;
  newer: Pending | undefined;
}

/**
 * One install's waiting jobs, oldest first (a list through `Pending`, so a
 * job joins it without allocating and leaves it in O(1)), and the install's
 * place in the turn order (a list of the installs with jobs waiting). It
 * exists while the install has jobs waiting.
 */
interface InstallQueue {
  install: string;
  oldest: Pending | undefined;
  newest: Pending | undefined;
  length: number;
  before: InstallQueue | undefined;
  after: InstallQueue | undefined;
}

interface Slot {
  worker: Worker;
  port: MessagePort;
  /** Everything the worker reports (`FromWorker`), read as events or by the busy poll. */
  results: MessagePort;
  flag: Int32Array;
  /** Content hashes whose glue and modules this worker already holds. */
  loaded: Set<string>;
  active?: Pending;
  /** Set once the pool stops using this worker (deadline, crash, close). */
  retired: boolean;
  /** Prepares posted to this worker and not yet reported, by component key. */
  preparing: Map<string, Array<() => void>>;
  /** Set once the worker has loaded its modules (its `ready` message). */
  ready: boolean;
}

// The published package runs compiled .js; this repository runs the .ts sources.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** A worker's young generation, fixed, so its RSS does not grow under steady load (docs/perf/016-worker-young-generation.md). */
const YOUNG_GENERATION_MB = 32;

export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  /** Installs with jobs waiting, by install; each also in the turn order `#firstTurn`…`#lastTurn`. */
  readonly #waiting = new Map<string, InstallQueue>();
  #firstTurn: InstallQueue | undefined;
  #lastTurn: InstallQueue | undefined;
  /** Jobs waiting, of every install. */
  #queued = 0;
  /** Workers an install may hold while another install's jobs wait: all but one (docs/perf/043-fair-scheduling.md). */
  readonly #share: number;
  /** Counted by the workers themselves (messages.ts `countInstance`). */
  readonly #counters = new BigInt64Array(new SharedArrayBuffer(8 * INSTANCE_COUNTERS.length));
  #nextJobId = 0;
  #closed = false;
  /** Whether a busy-poll turn is scheduled. */
  #polling = false;
  /** A booted worker out of rotation, swapped in for one that is killed or dies. */
  #spare: Slot | undefined;

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new RangeError('Worker pool size must be a positive integer.');
    if (!Number.isInteger(options.queueLimit) || options.queueLimit < 0)
      throw new RangeError('Queue limit must be a non-negative integer.');
    if (
      options.busyPollMicros !== undefined &&
      !(Number.isInteger(options.busyPollMicros) && options.busyPollMicros >= 0)
    )
      throw new RangeError('Busy-poll time must be a non-negative integer of microseconds.');
    this.#options = options;
    this.#share = Math.max(1, options.size - 1);
    for (let i = 0; i < options.size; i++) this.#slots.push(this.#spawn());
    this.#keepSpare();
  }

  get stats(): {
    workers: number;
    /** Workers in rotation that have loaded their modules. */
    ready: number;
    /** The spare worker swapped in for the next one killed. */
    spare: 'none' | 'booting' | 'ready';
    busy: number;
    queued: number;
    polling: boolean;
    instances: InstanceStats;
  } {
    return {
      workers: this.#slots.length,
      ready: this.#slots.filter((slot) => slot.ready).length,
      spare: !this.#spare ? 'none' : this.#spare.ready ? 'ready' : 'booting',
      busy: this.#slots.filter((slot) => slot.active).length,
      queued: this.#queued,
      polling: this.#polling,
      instances: Object.fromEntries(
        INSTANCE_COUNTERS.map((name, i) => [name, Number(Atomics.load(this.#counters, i))]),
      ) as InstanceStats,
    };
  }

  get instanceMode(): InstanceMode {
    return this.#options.instanceMode ?? 'reset';
  }

  run(job: PoolJob): Promise<WitExecuteResponse> {
    if (this.#closed) return Promise.reject(errors.shuttingDown());
    const idle = this.#idleFor(job.component.key);
    if (!idle && this.#queued >= this.#options.queueLimit && !this.#makeRoomFor(job.install)) {
      return Promise.reject(errors.busy());
    }
    return new Promise<WitExecuteResponse>((resolve, reject) => {
      const pending: Pending = {
        id: ++this.#nextJobId,
        job,
        resolve,
        reject,
        // The deadline covers queueing too: a caller waits at most timeoutMs.
        timer: setTimeout(() => this.#expire(pending), job.timeoutMs),
        pollUntil: 0,
        waitingIn: undefined,
        older: undefined,
        newer: undefined,
      };
      // An idle worker means nothing waits (a freed worker takes the next job at once).
      if (idle) this.#dispatch(idle, pending);
      else this.#enqueue(pending);
    });
  }

  /** Puts a job at the back of its install's queue; an install that had none waiting joins the turn order last. */
  #enqueue(pending: Pending): void {
    const { install } = pending.job;
    let queue = this.#waiting.get(install);
    if (!queue) {
      queue = { install, oldest: undefined, newest: undefined, length: 0, before: undefined, after: undefined };
      this.#waiting.set(install, queue);
      this.#joinTurns(queue);
    }
    pending.waitingIn = queue;
    pending.older = queue.newest;
    if (queue.newest) queue.newest.newer = pending;
    else queue.oldest = pending;
    queue.newest = pending;
    queue.length++;
    this.#queued++;
  }

  /** Takes a waiting job out of its install's queue; an install left with none leaves the turn order. */
  #unqueue(pending: Pending): void {
    const queue = pending.waitingIn;
    if (!queue) return;
    const { older, newer } = pending;
    if (older) older.newer = newer;
    else queue.oldest = newer;
    if (newer) newer.older = older;
    else queue.newest = older;
    pending.waitingIn = pending.older = pending.newer = undefined;
    queue.length--;
    this.#queued--;
    if (queue.length === 0) {
      this.#leaveTurns(queue);
      this.#waiting.delete(queue.install);
    }
  }

  #joinTurns(queue: InstallQueue): void {
    queue.before = this.#lastTurn;
    queue.after = undefined;
    if (this.#lastTurn) this.#lastTurn.after = queue;
    else this.#firstTurn = queue;
    this.#lastTurn = queue;
  }

  #leaveTurns(queue: InstallQueue): void {
    const { before, after } = queue;
    if (before) before.after = after;
    else this.#firstTurn = after;
    if (after) after.before = before;
    else this.#lastTurn = before;
    queue.before = queue.after = undefined;
  }

  /**
   * The install whose oldest job a freed worker takes: the first in turn,
   * unless another install waits too and this one already holds its share of
   * the workers. Some install is always under its share when a worker is free
   * (two installs at `size - 1` each would need more workers than there are),
   * so at most one is passed over, and it keeps its place in turn.
   */
  #nextInTurn(): InstallQueue | undefined {
    const first = this.#firstTurn;
    if (!first?.after) return first;
    for (let queue: InstallQueue | undefined = first; queue; queue = queue.after) {
      if (this.#holding(queue.install) < this.#share) return queue;
    }
    return first;
  }

  /** How many workers are running a job of `install`. */
  #holding(install: string): number {
    let held = 0;
    for (const slot of this.#slots) if (slot.active?.job.install === install) held++;
    return held;
  }

  /**
   * With the queue full: turns away (503) the newest waiting job of the
   * install with the most waiting, when it has more waiting than `install`,
   * so that one install's flood cannot fill the queue against the others.
   * Rare (the queue is full), so it walks the installs waiting.
   */
  #makeRoomFor(install: string): boolean {
    let longest: InstallQueue | undefined;
    let most = this.#waiting.get(install)?.length ?? 0;
    for (let queue = this.#firstTurn; queue; queue = queue.after) {
      if (queue.length > most) {
        longest = queue;
        most = queue.length;
      }
    }
    const turnedAway = longest?.newest;
    if (!turnedAway) return false;
    this.#unqueue(turnedAway);
    this.#settle(turnedAway, errors.busy());
    return true;
  }

  /**
   * Sends `component` to every worker that lacks it, to instantiate (and
   * warm up and snapshot) while no request waits: the first request then
   * finds an instance ready. A worker busy with a request does it after.
   */
  async prepare(component: LoadedComponent): Promise<void> {
    if (this.#closed) return;
    await Promise.all(this.#slots.map((slot) => this.#prepareOn(slot, component)));
  }

  /** Has one worker instantiate `component`; settles when it reports it, or at once if it holds it. */
  #prepareOn(slot: Slot, component: LoadedComponent): Promise<void> {
    const waiting = slot.preparing.get(component.key);
    if (waiting) return new Promise((resolve) => waiting.push(resolve));
    if (slot.retired || slot.loaded.has(component.key)) return Promise.resolve();
    const ready = new Promise<void>((resolve) => slot.preparing.set(component.key, [resolve]));
    slot.worker.postMessage({
      type: 'prepare',
      componentKey: component.key,
      load: this.#load(slot, component),
    } satisfies ToWorker);
    return ready;
  }

  /** An idle worker: one that holds the component ready if there is one, else one instantiating it, else any. */
  #idleFor(componentKey: string): Slot | undefined {
    let preparing: Slot | undefined;
    let idle: Slot | undefined;
    for (const slot of this.#slots) {
      if (slot.active) continue;
      if (slot.loaded.has(componentKey)) {
        if (!slot.preparing.has(componentKey)) return slot;
        preparing ??= slot;
      }
      idle ??= slot;
    }
    return preparing ?? idle;
  }

  #keepSpare(): void {
    if (this.#spare || this.#closed) return;
    this.#spare = this.#spawn();
  }

  /** Settles a slot's pending prepares: once the worker reports them, or when it is gone. */
  #prepared(slot: Slot, componentKey?: string): void {
    for (const [key, waiters] of slot.preparing) {
      if (componentKey !== undefined && key !== componentKey) continue;
      slot.preparing.delete(key);
      for (const resolve of waiters) resolve();
    }
  }

  /** Drops a compiled variant from every worker (the loader evicted it). */
  forget(componentKey: string): void {
    if (this.#closed) return;
    for (const slot of this.#slots) {
      if (slot.loaded.delete(componentKey)) slot.worker.postMessage({ type: 'evict', componentKey } satisfies ToWorker);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = errors.shuttingDown();
    for (let queue = this.#firstTurn; queue; queue = queue.after) {
      for (let pending = queue.oldest; pending; pending = pending.newer) this.#settle(pending, error);
    }
    this.#waiting.clear();
    this.#firstTurn = this.#lastTurn = undefined;
    this.#queued = 0;
    const spare = this.#spare;
    this.#spare = undefined;
    await Promise.all([
      ...this.#slots.map(async (slot) => {
        if (slot.active) this.#settle(slot.active, error);
        await this.#retire(slot);
      }),
      ...(spare ? [this.#retire(spare)] : []),
    ]);
  }

  #spawn(): Slot {
    const { port1, port2 } = new MessageChannel();
    const results = new MessageChannel();
    const signal = new SharedArrayBuffer(4);
    const worker = new Worker(WORKER_URL, {
      workerData: {
        port: port2,
        results: results.port2,
        signal,
        instanceMode: this.instanceMode,
        plan: this.#options.plan,
        counters: this.#counters.buffer as SharedArrayBuffer,
      } satisfies WorkerInit,
      transferList: [port2, results.port2],
      // Captured so stray output (jco glue diagnostics) goes through our logger, masked.
      stdout: true,
      stderr: true,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, ...this.#options.resourceLimits },
    });
    const slot: Slot = {
      worker,
      port: port1,
      results: results.port1,
      flag: new Int32Array(signal),
      loaded: new Set(),
      preparing: new Map(),
      retired: false,
      ready: false,
    };

    results.port1.on('message', (message: FromWorker) => this.#onResult(slot, message));
    port1.on('message', (call: HostCall) => void this.#onHostCall(slot, call));
    for (const [stream, readable] of [
      ['stdout', worker.stdout],
      ['stderr', worker.stderr],
    ] as const) {
      readable.setEncoding('utf8');
      readable.on('data', (chunk: string) => {
        const redact = slot.active?.job.redact ?? (() => '[worker output outside an execution]');
        this.#options.logger.debug({ source: 'engine', stream }, redact(chunk.slice(0, 8192)));
      });
    }
    let crash: Error | undefined;
    worker.on('error', (error) => {
      crash = error;
    });
    worker.on('exit', (code) => {
      if (slot.retired) return;
      // An unexpected exit: fail its execution and put a fresh worker in its place.
      slot.retired = true;
      // A spare that died is not replaced until one is needed: a worker that cannot boot must not loop.
      if (slot === this.#spare) this.#spare = undefined;
      port1.close();
      results.port1.close();
      this.#prepared(slot);
      const outOfMemory = (crash as NodeJS.ErrnoException | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.#options.logger.error(
        { source: 'engine', exit_code: code, out_of_memory: outOfMemory },
        'worker exited unexpectedly',
      );
      if (outOfMemory) this.#options.events?.limitKill?.('memory');
      if (slot.active) {
        this.#settle(
          slot.active,
          outOfMemory
            ? errors.memoryLimit()
            : new ExecutionFailure(
                'worker',
                crash ? `${crash.name}: ${crash.message}` : `worker exited with code ${code}`,
              ),
        );
      }
      this.#replace(slot, outOfMemory ? 'memory' : 'crash');
    });
    return slot;
  }

  #dispatch(slot: Slot, pending: Pending): void {
    const { component, request } = pending.job;
    pending.slot = slot;
    slot.active = pending;
    const message: ToWorker = {
      type: 'run',
      jobId: pending.id,
      componentKey: component.key,
      memoryLimitBytes: component.memoryMb * 1024 * 1024,
      request,
      local: pending.job.local,
    };
    if (!slot.loaded.has(component.key)) {
      message.load = this.#load(slot, component);
    }
    slot.worker.postMessage(message);
    const budgetMicros = this.#options.busyPollMicros ?? 0;
    if (budgetMicros > 0) {
      pending.pollUntil = performance.now() + budgetMicros / 1000;
      if (!this.#polling) {
        this.#polling = true;
        setImmediate(this.#poll);
      }
    }
  }

  /**
   * One busy-poll turn: takes what each busy worker has posted (one-way
   * calls, then its result, in the order they were sent) straight off its
   * port, and runs again on the next turn of the event loop while some job
   * is still within its budget. Other I/O is served between turns; once no
   * job is within its budget, results arrive as events again.
   */
  #poll = (): void => {
    const now = performance.now();
    let again = false;
    for (const slot of this.#slots) {
      const pending = slot.active;
      if (!pending || slot.retired) continue;
      for (let got; slot.active === pending && (got = receiveMessageOnPort(slot.results));) {
        this.#onResult(slot, got.message as FromWorker);
      }
      // Settling may have handed this worker its next job, with a budget of its own.
      if (slot.active && slot.active.pollUntil > now) again = true;
    }
    this.#polling = again;
    if (again) setImmediate(this.#poll);
  };

  /** What a worker needs to run `component`; the slot then counts it as sent. */
  #load(slot: Slot, component: LoadedComponent): ComponentLoad {
    slot.loaded.add(component.key);
    // Compiled modules are shared with the worker, not recompiled there.
    return {
      glue: component.glue,
      modules: component.modules,
      resettable: component.resettable,
      tablesWritable: component.tablesWritable,
    };
  }

  #onResult(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') {
      slot.ready = true;
      return;
    }
    if (message.type === 'prepared') {
      this.#prepared(slot, message.componentKey);
      return;
    }
    if (message.type === 'notify') {
      if (slot.active?.id === message.jobId) void this.#onHostCall(slot, message.call, false);
      return;
    }
    const pending = slot.active;
    if (!pending || pending.id !== message.jobId) return;
    if (message.type === 'done') {
      this.#settle(pending, undefined, message.response);
    } else if (message.memoryLimit) {
      // The instance is gone already, but the worker's heap may be bloated: start afresh.
      this.#options.events?.limitKill?.('memory');
      void this.#retire(slot);
      this.#settle(pending, errors.memoryLimit({ cause: new ExecutionFailure(message.phase, message.detail) }));
      this.#replace(slot, 'memory');
    } else {
      this.#settle(pending, new ExecutionFailure(message.phase, message.detail));
    }
  }

  /** Runs a guest's host call; `reply: false` for one-way calls, whose guest is not waiting. */
  async #onHostCall(slot: Slot, call: HostCall, reply = true): Promise<void> {
    const pending = slot.active;
    if (!pending) return;
    let outcome: HostOutcome;
    try {
      outcome = await pending.job.onHostCall(call);
    } catch {
      outcome = { kind: 'trap', message: 'The host failed while handling the call.' };
    }
    if (!reply) return;
    // The execution may have hit its deadline while the provider was working.
    if (slot.retired || slot.active !== pending) return;
    try {
      slot.port.postMessage({ callId: call.callId, outcome } satisfies HostReply);
    } catch {
      slot.port.postMessage({
        callId: call.callId,
        outcome: { kind: 'trap', message: 'The host produced a value that cannot cross to the guest.' },
      } satisfies HostReply);
    }
    Atomics.store(slot.flag, 0, 1);
    Atomics.notify(slot.flag, 0);
  }

  #expire(pending: Pending): void {
    const error = errors.timeout();
    if (pending.waitingIn) {
      this.#unqueue(pending);
      pending.reject(error);
      return;
    }
    const slot = pending.slot;
    if (!slot || slot.active !== pending) return;
    // Retire first so settling does not hand the next queued job to this worker.
    this.#options.events?.limitKill?.('timeout');
    void this.#retire(slot);
    this.#settle(pending, error);
    this.#replace(slot, 'timeout');
  }

  #settle(pending: Pending, error: Error | undefined, response?: WitExecuteResponse): void {
    clearTimeout(pending.timer);
    const slot = pending.slot;
    if (slot && slot.active === pending) slot.active = undefined;
    if (error) pending.reject(error);
    else pending.resolve(response!);
    if (slot && !slot.retired) this.#pump(slot);
  }

  /** Hands a free worker the oldest job of the install next in turn; that install goes to the back of the turn order. */
  #pump(slot: Slot): void {
    if (slot.active || this.#closed) return;
    const queue = this.#nextInTurn();
    const next = queue?.oldest;
    if (!queue || !next) return;
    this.#unqueue(next);
    if (queue.length > 0 && queue.after) {
      this.#leaveTurns(queue);
      this.#joinTurns(queue);
    }
    this.#dispatch(slot, next);
  }

  async #retire(slot: Slot): Promise<void> {
    slot.retired = true;
    slot.port.close();
    slot.results.close();
    this.#prepared(slot);
    await slot.worker.terminate();
  }

  /**
   * Puts the spare (or, without one, a new worker) in place of a worker that
   * is gone, and boots the next spare. The component that was running is not
   * instantiated ahead of its next request: guest code would then run with
   * no deadline over it.
   */
  #replace(old: Slot, reason: 'timeout' | 'memory' | 'crash'): void {
    if (this.#closed) return;
    const index = this.#slots.indexOf(old);
    if (index === -1) return;
    this.#options.events?.workerRestart?.(reason);
    const fresh = this.#spare ?? this.#spawn();
    this.#spare = undefined;
    this.#slots[index] = fresh;
    this.#pump(fresh);
    this.#keepSpare();
  }
}
