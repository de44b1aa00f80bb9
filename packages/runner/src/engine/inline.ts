/**
 * Inline execution: a quick request runs on the runner's own thread, on a
 * warm instance of the main thread's, instead of being handed to a worker.
 *
 * Why: a worker costs two thread hand-offs per request, and on a virtual
 * machine each is a wake-up of a halted vCPU (a bare `postMessage` round
 * trip between idle threads measured ~65 µs on the 2-vCPU machines we
 * benchmark on, a third of a ~0.2 ms request). In-process sandboxes such as
 * isolated-vm run on the caller's thread; so does this path, with the same
 * isolation per request: the same reset-in-place instances as a worker
 * (instances.ts), the same providers, the same masking.
 *
 * What keeps the main thread safe:
 *
 * - **Work is bounded.** Nothing can interrupt the main thread, so the
 *   component's modules count fuel (wasm/fuel.ts) and trap when this run's
 *   budget is spent. The request then goes to a worker with what is left of
 *   its deadline, and the component is sent to workers from then on.
 * - **Only what the thread can answer at once.** A request runs here only
 *   when every capability it was granted is answered without waiting:
 *   context, config, random, logging, and secrets already in the cache.
 *   Any other host call (outbound HTTP, storage, a secret that was not
 *   prefetched) ends the inline run and the request goes to a worker.
 * - **Nothing leaves an abandoned run.** Until the run succeeds, the guest
 *   has only read data and emitted log lines, and those are held back: the
 *   host handles them, in order, only when the run completes. A request
 *   re-run in a worker is therefore seen once, with the worker's lines.
 *   The abandoned instance is discarded, never restored.
 * - **A guest that keeps failing here stops being tried** (`MAX_STRIKES`).
 */
import type { Capability, ExecuteRequest } from '@alga-psa/protocol';
import {
  createLocalDispatcher,
  guestValue,
  ONE_WAY_INTERFACES,
  type LocalAnswers,
  type LocalScope,
} from '../providers/index.ts';
import { WIT_PACKAGE_PREFIX, type WitExecuteRequest, type WitExecuteResponse } from '../world.ts';
import { InstanceCache, worldImports, type CachedComponent, type WarmInstance } from './instances.ts';
import { INSTANCE_COUNTERS, type HostCall, type InstanceCounter } from './messages.ts';
import type { LoadedComponent } from './loader.ts';
import { FUEL_EXPORT, UNLIMITED_FUEL } from '@alga-psa/wasm-rewrite';
import { warmUpHostCall } from './warm-up.ts';
import { integerFromEnv } from './env.ts';

/** Capabilities whose calls the main thread answers without waiting (secrets: from the prefetch). */
const INLINE_CAPABILITIES: ReadonlySet<Capability> = new Set(['cap:context.read', 'cap:log.emit', 'cap:secrets.get']);

/** Inline runs that end without a response, in a row, before a component is sent to workers for good. */
const MAX_STRIKES = 3;

/**
 * Components with a warm instance on the main thread. Fewer than a worker
 * keeps (8): these are in addition to the workers' copies.
 */
const MAX_WARM_COMPONENTS = 4;

/**
 * Fuel per request on the main thread: ~10 ms of a spinning componentize-js
 * guest on the 2-vCPU machines we benchmark on (~4.5 ns per unit in a
 * `while (true) {}`), and ~100× the 5–20k units a realistic handler spends.
 */
export const DEFAULT_INLINE_FUEL = 2_000_000;
const MAX_INLINE_FUEL = 1_000_000_000;

/** `RUNNER_INLINE_FUEL`: fuel units a request may spend on the main thread; 0 turns inline execution off. */
export function inlineFuelFromEnv(env: Record<string, string | undefined> = process.env): number {
  return integerFromEnv(env, 'RUNNER_INLINE_FUEL', {
    fallback: DEFAULT_INLINE_FUEL,
    max: MAX_INLINE_FUEL,
    unit: 'fuel units; 0 turns inline execution off',
  });
}

/** Why a request left the inline path for a worker. */
export type InlineDecline = 'host-call' | 'fuel' | 'failed';

export type InlineResult =
  | {
      kind: 'done';
      response: WitExecuteResponse;
      /** Log lines the guest emitted, in order, for the host to handle now. */
      logs: HostCall[];
    }
  | { kind: 'declined'; reason: InlineDecline };

export interface InlineJob {
  component: LoadedComponent;
  request: WitExecuteRequest;
  local: { request: Pick<ExecuteRequest, 'context' | 'config'>; granted: Capability[]; answers?: LocalAnswers };
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
  /** Fuel units one request may spend here (wasm/fuel.ts). */
  fuel: number;
}

export class InlineRunner {
  readonly #options: InlineRunnerOptions;
  /** Instance counters, as a worker counts them (messages.ts); only this thread writes them. */
  readonly #counters = new BigInt64Array(INSTANCE_COUNTERS.length);
  readonly #cache: InstanceCache;
  readonly #localDispatch = createLocalDispatcher();
  /** Strikes per component key; a component at MAX_STRIKES is demoted. */
  readonly #strikes = new Map<string, number>();
  readonly #stats: InlineStats = { runs: 0, declined: { 'host-call': 0, fuel: 0, failed: 0 }, demoted: 0 };
  /** The running request (set only inside `run`'s synchronous part). */
  #local: LocalScope | undefined;
  #logs: HostCall[] = [];
  #declined: InlineDecline | undefined;
  #running: WarmInstance | undefined;
  #warmingUp = false;
  /** Instances that served a request and still wait for their restore (done when idle, or before the next use). */
  readonly #dirty = new Map<string, { component: CachedComponent; used: WarmInstance }>();
  #restoreScheduled = false;

  constructor(options: InlineRunnerOptions) {
    this.#options = options;
    this.#cache = new InstanceCache({
      // Inline runs need a snapshot to restore: reset mode only.
      instanceMode: 'reset',
      imports: worldImports((iface, fn, args) => this.#callHost(iface, fn, args)),
      counters: this.#counters,
      warmingUp: (active) => (this.#warmingUp = active),
      maxWarm: MAX_WARM_COMPONENTS,
    });
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
    const { component, local } = job;
    // Metered implies resettable (loader.ts meters only modules it can reset).
    if (!component.metered) return false;
    if ((this.#strikes.get(component.key) ?? 0) >= MAX_STRIKES) return false;
    for (const capability of local.granted) {
      if (!INLINE_CAPABILITIES.has(capability)) return false;
      if (capability === 'cap:secrets.get' && !local.answers?.secrets) return false;
    }
    return true;
  }

  /** Makes the main thread's instance of a component ready (the engine's `prepare`), if it may run here. */
  async prepare(component: LoadedComponent): Promise<void> {
    if (!component.metered) return;
    const { key } = component;
    const cached = this.#cache.get(key) ?? (await this.#cache.load(component));
    this.#cache.remember(key, cached);
    try {
      cached.warm ??= this.#cache.instantiate(cached);
    } catch {
      // Its first request instantiates again, and declines to a worker if that fails.
    }
  }

  /** Forgets a compiled variant (the loader evicted it). */
  forget(key: string): void {
    this.#cache.delete(key);
    this.#dirty.delete(key);
    this.#strikes.delete(key);
  }

  async run(job: InlineJob): Promise<InlineResult> {
    const { key } = job.component;
    let component = this.#cache.get(key);
    if (!component) component = await this.#cache.load(job.component);
    this.#cache.remember(key, component);
    this.#restore(key);
    let used: WarmInstance;
    try {
      used = this.#cache.checkout(component);
    } catch {
      return this.#decline(key, 'failed');
    }
    this.#local = { request: job.local.request, granted: new Set(job.local.granted), answers: job.local.answers };
    this.#logs = [];
    this.#declined = undefined;
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
      this.#local = undefined;
      setFuel(used, UNLIMITED_FUEL);
    }
    if (failure || !response || response instanceof Promise) {
      // Whatever state it was left in, this instance is not used again.
      this.#replaceLater(key, component);
      return this.#decline(key, failure ?? 'failed');
    }
    this.#strikes.delete(key);
    this.#stats.runs++;
    this.#dirty.set(key, { component, used });
    this.#scheduleRestore();
    const logs = this.#logs;
    this.#logs = [];
    return { kind: 'done', response, logs };
  }

  #decline(key: string, reason: InlineDecline): InlineResult {
    this.#stats.declined[reason]++;
    // A guest that outran its budget is not quick: one strike is enough.
    const strikes = reason === 'fuel' ? MAX_STRIKES : (this.#strikes.get(key) ?? 0) + 1;
    this.#strikes.set(key, strikes);
    if (strikes >= MAX_STRIKES) {
      this.#stats.demoted++;
      this.#cache.delete(key);
    }
    return { kind: 'declined', reason };
  }

  /** Restores a used instance now if one is pending for `key` (before its next request). */
  #restore(key: string): void {
    const pending = this.#dirty.get(key);
    if (!pending) return;
    this.#dirty.delete(key);
    this.#cache.recycle(key, pending.component, pending.used, false);
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

  /** A new instance for the component, made after the request went on to a worker. */
  #replaceLater(key: string, component: CachedComponent): void {
    component.warm = undefined;
    setImmediate(() => {
      if (this.#cache.get(key) !== component || component.warm) return;
      try {
        component.warm = this.#cache.instantiate(component);
      } catch {
        // The next inline request instantiates and declines if it still fails.
      }
    });
  }

  #callHost(iface: string, fn: string, args: unknown[]): unknown {
    if (this.#warmingUp) return guestValue(iface, fn, warmUpHostCall(iface, fn, args));
    const local = this.#local;
    if (!local) throw new Error(`${WIT_PACKAGE_PREFIX}${iface}.${fn} called outside a request.`);
    if (ONE_WAY_INTERFACES.has(iface)) {
      this.#logs.push({ callId: 0, iface, fn, args });
      return undefined;
    }
    const outcome = this.#localDispatch(local, iface, fn, args);
    if (outcome) return guestValue(iface, fn, outcome);
    // This call needs the host's async side: leave for a worker. A guest that catches the
    // exception still stops at its next fuel check.
    this.#declined = 'host-call';
    if (this.#running) setFuel(this.#running, -1n);
    throw new Error('inline run declined: the call needs a worker');
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
