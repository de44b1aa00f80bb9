/**
 * Inline execution: a quick request runs on the runner's own thread, on a
 * warm instance of the main thread's guest host, instead of being handed to
 * a worker, which costs two thread hand-offs per request (docs/perf/009-inline-execution.md). The
 * same instances, restores, providers and masking as a worker's.
 *
 * What keeps the main thread safe:
 *
 * - **Work is bounded.** Nothing can interrupt the main thread, so the
 *   component's modules count fuel (wasm-rewrite's `meterFuel`) and trap
 *   when this run's budget is spent. The request then goes to a worker with
 *   what is left of its deadline, and the component is sent to workers from
 *   then on.
 * - **Only what the thread can answer at once.** A request runs here only
 *   when every capability it was granted is answered without waiting (the
 *   guest host's `answersAlone`). A call that needs the main thread's async
 *   side ends the inline run and the request goes to a worker.
 * - **Nothing leaves an abandoned run.** Until the run succeeds, the guest
 *   has only read data and emitted one-way calls (log lines), and those are
 *   held back: the host handles them, in order, only when the run completes.
 *   A request re-run in a worker is therefore seen once, with the worker's
 *   lines. The abandoned instance is discarded, never restored.
 * - **A guest that keeps failing here stops being tried** (`MAX_STRIKES`).
 */
import { FUEL_EXPORT, UNLIMITED_FUEL } from '@alga-psa/wasm-rewrite';
import type { HostPlan } from '../host-calls/index.ts';
import type { WitExecuteRequest, WitExecuteResponse } from './convert.ts';
import { GuestHost } from './guest-host.ts';
import type { CachedComponent, WarmInstance } from './instances.ts';
import type { LoadedComponent } from './loader.ts';
import {
  INSTANCE_COUNTERS,
  localScopeOf,
  type Discard,
  type HostCall,
  type InstanceCounter,
  type LocalJob,
} from './messages.ts';

/** Inline runs that end without a response, in a row, before a component is sent to workers for good. */
const MAX_STRIKES = 3;

/** Components with a warm instance on the main thread: fewer than a worker keeps (8), as they come on top. */
const MAX_WARM_COMPONENTS = 4;

/** Fuel per request on the main thread by default: ~10 ms of a spinning guest, ~100× a realistic handler. */
export const DEFAULT_INLINE_FUEL = 2_000_000;

/** Why a request left the inline path for a worker. */
export type InlineDecline = 'host-call' | 'timer' | 'fuel' | 'failed';

export type InlineResult =
  | {
      kind: 'done';
      response: WitExecuteResponse;
      /** One-way calls the guest made, in order, for the host to handle now. */
      notified: HostCall[];
    }
  | { kind: 'declined'; reason: InlineDecline };

export interface InlineJob {
  component: LoadedComponent;
  request: WitExecuteRequest;
  local: LocalJob;
}

export interface InlineStats {
  /** Requests answered on the main thread. */
  runs: number;
  /** Requests that left the inline path, by reason. */
  declined: Record<InlineDecline, number>;
  /** Components no longer tried inline. */
  demoted: number;
}

export interface InlineRunnerOptions {
  plan: HostPlan;
  /** Fuel units one request may spend here. */
  fuel: number;
}

export class InlineRunner {
  readonly #options: InlineRunnerOptions;
  /** Instance counters, as a worker counts them (messages.ts); only this thread writes them. */
  readonly #counters = new BigInt64Array(INSTANCE_COUNTERS.length);
  readonly #host: GuestHost;
  /** Strikes per component key; a component at MAX_STRIKES is demoted. */
  readonly #strikes = new Map<string, number>();
  readonly #stats: InlineStats = { runs: 0, declined: { 'host-call': 0, timer: 0, fuel: 0, failed: 0 }, demoted: 0 };
  /** The running request's one-way calls and why it gave up, if it did (set only inside `run`). */
  #notified: HostCall[] = [];
  #declined: InlineDecline | undefined;
  #running: WarmInstance | undefined;
  /** Instances that served a request and still wait for their restore (done when idle, or before the next use). */
  readonly #dirty = new Map<string, { component: CachedComponent; used: WarmInstance; discard?: Discard }>();
  #restoreScheduled = false;

  constructor(options: InlineRunnerOptions) {
    this.#options = options;
    this.#host = new GuestHost({
      plan: options.plan,
      // Inline runs need a snapshot to restore: reset mode only.
      instanceMode: 'reset',
      counters: this.#counters,
      maxWarm: MAX_WARM_COMPONENTS,
      notify: (call) => void this.#notified.push(call),
      // The call needs the host's async side: leave for a worker.
      remote: () => this.#leave('host-call'),
      // The main thread never sleeps for a guest's timer.
      wait: () => this.#leave('timer'),
      // Written by the worker that runs the request instead, through its masked capture.
      stderr: () => {
        if (this.#running) this.#leave('host-call');
      },
    });
  }

  /** Ends the inline run: a guest that catches the exception still stops at its next fuel check. */
  #leave(reason: InlineDecline): never {
    this.#declined = reason;
    if (this.#running) setFuel(this.#running, -1n);
    throw new Error(`inline run declined (${reason}): the request needs a worker`);
  }

  /** The main thread's instance counters (messages.ts `INSTANCE_COUNTERS`). */
  get instances(): Record<InstanceCounter, number> {
    return Object.fromEntries(INSTANCE_COUNTERS.map((name, i) => [name, Number(this.#counters[i])])) as Record<
      InstanceCounter,
      number
    >;
  }

  get stats(): InlineStats {
    return { ...this.#stats, declined: { ...this.#stats.declined } };
  }

  /** Whether this request may run here: see the file comment. */
  accepts(job: InlineJob): boolean {
    // Metered implies resettable (the loader meters only modules it can reset).
    if (!job.component.metered) return false;
    if ((this.#strikes.get(job.component.key) ?? 0) >= MAX_STRIKES) return false;
    return this.#host.answersAlone(job.local.granted, job.local.answers);
  }

  /** Makes the main thread's instance of a component ready (the engine's `prepare`), if it may run here. */
  async prepare(component: LoadedComponent): Promise<void> {
    if (!component.metered) return;
    try {
      await this.#host.prepare(component.key, component);
    } catch {
      // Its first request instantiates again, and declines to a worker if that fails.
    }
  }

  /** Forgets a compiled variant (the loader evicted it). */
  forget(key: string): void {
    this.#host.forget(key);
    this.#dirty.delete(key);
    this.#strikes.delete(key);
  }

  async run(job: InlineJob): Promise<InlineResult> {
    const { key } = job.component;
    const component = await this.#host.component(key, job.component);
    this.#restore(key);
    let used: WarmInstance;
    this.#notified = [];
    this.#declined = undefined;
    try {
      used = this.#host.begin(component, localScopeOf(job.local));
    } catch {
      this.#host.end();
      return this.#decline(key, 'failed');
    }
    let leftResources: boolean;
    this.#running = used;
    setFuel(used, BigInt(this.#options.fuel));
    let response: WitExecuteResponse | Promise<WitExecuteResponse> | undefined;
    let failure: InlineDecline | undefined;
    try {
      response = used.root.handler(job.request);
      // jco's sync glue completes the guest's work inside the call; anything else is not ours to wait for.
      if (response instanceof Promise) {
        response.catch(() => {});
        failure = 'failed';
      }
    } catch {
      failure = this.#declined ?? (fuelSpent(used) ? 'fuel' : 'failed');
    } finally {
      this.#running = undefined;
      leftResources = this.#host.end();
      setFuel(used, UNLIMITED_FUEL);
    }
    if (failure || !response || response instanceof Promise) {
      // Whatever state it was left in, this instance is not used again; a new one is made once the
      // request has gone on to a worker.
      component.warm = undefined;
      setImmediate(() => {
        if (!component.warm) this.#host.replace(key, component);
      });
      return this.#decline(key, failure ?? 'failed');
    }
    this.#strikes.delete(key);
    this.#stats.runs++;
    // A request that left a timer pending gets a new instance rather than a restore.
    this.#dirty.set(key, { component, used, ...(leftResources ? { discard: 'resources-left' as const } : {}) });
    this.#scheduleRestore();
    return { kind: 'done', response, notified: this.#notified };
  }

  #decline(key: string, reason: InlineDecline): InlineResult {
    this.#stats.declined[reason]++;
    // A guest that outran its budget is not quick: one strike is enough.
    const strikes = reason === 'fuel' ? MAX_STRIKES : (this.#strikes.get(key) ?? 0) + 1;
    this.#strikes.set(key, strikes);
    if (strikes >= MAX_STRIKES) {
      this.#stats.demoted++;
      this.#host.forget(key);
    }
    return { kind: 'declined', reason };
  }

  /** Restores a used instance now if one is pending for `key` (before its next request). */
  #restore(key: string): void {
    const pending = this.#dirty.get(key);
    if (!pending) return;
    this.#dirty.delete(key);
    this.#host.recycle(key, pending.component, pending.used, pending.discard);
  }

  #scheduleRestore(): void {
    if (this.#restoreScheduled) return;
    this.#restoreScheduled = true;
    // After the response has gone out: the restore is off the request's path when the thread has time.
    setImmediate(() => {
      this.#restoreScheduled = false;
      for (const key of [...this.#dirty.keys()]) this.#restore(key);
    });
  }
}

/** Each instance's fuel globals, looked up once: they are set twice on every request. */
const fuelOf = new WeakMap<WarmInstance, WebAssembly.Global[]>();

function fuelGlobals(instance: WarmInstance): WebAssembly.Global[] {
  let globals = fuelOf.get(instance);
  if (!globals) {
    globals = [];
    for (const { instance: core } of instance.recorder.instances) {
      const global = core.exports[FUEL_EXPORT];
      if (global instanceof WebAssembly.Global) globals.push(global);
    }
    fuelOf.set(instance, globals);
  }
  return globals;
}

function setFuel(instance: WarmInstance, fuel: bigint): void {
  for (const global of fuelGlobals(instance)) global.value = fuel;
}

function fuelSpent(instance: WarmInstance): boolean {
  return fuelGlobals(instance).some((global) => (global.value as bigint) < 0n);
}
