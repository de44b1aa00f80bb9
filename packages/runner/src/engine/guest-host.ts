/**
 * The guest host of one thread: it owns the thread's warm instances (their
 * cache, warm-up and restore, instances.ts) and answers every host call the
 * guest makes. A worker (worker.ts) and the main thread's inline path
 * (inline.ts) each keep one; they differ only in how a call that must leave
 * the thread is made (`remote`) and what becomes of a one-way call (`notify`).
 *
 * A call is answered, in order: during a new instance's warm-up, from the
 * plan's warm-up answers (no tenant data); a one-way call is handed to
 * `notify`; a request-only call, or one the execution prefetched an answer
 * for, is answered here; anything else goes to `remote`.
 */
import type { Capability } from '@alga-psa/protocol';
import {
  createLocalAnswerer,
  prefetchedAnswer,
  witName,
  type HostOutcome,
  type HostPlan,
  type LocalAnswerer,
  type LocalAnswers,
  type LocalScope,
  type PlannedInterface,
} from '../host-calls/index.ts';
import { createRequestProviders } from '../providers/request.ts';
import { guestValue, importKeys, type GuestImports } from './jco-glue.ts';
import { InstanceCache, type CachedComponent, type WarmInstance } from './instances.ts';
import type { ComponentLoad, Discard, HostCall, InstanceMode } from './messages.ts';
import { warmUpAnswer } from './warm-up.ts';
import { createWasiHost, type ResourceLedger } from '../wasi/index.ts';

export interface GuestHostOptions {
  plan: HostPlan;
  instanceMode: InstanceMode;
  /** Shared instance counters (messages.ts `countInstance`). */
  counters: BigInt64Array;
  /** Components whose warm instance this thread keeps (each costs its memory and a snapshot). */
  maxWarm: number;
  /** Answers a call only the main thread can answer, or throws to trap the guest. */
  remote(call: HostCall): HostOutcome;
  /** Takes a one-way call; the guest does not wait for it. */
  notify(call: HostCall): void;
  /** Waits up to `ms` for a guest's timer during a request, or throws to give up (the guest traps). */
  wait(ms: number): void;
  /** Takes what the guest wrote to stderr. */
  stderr(bytes: Uint8Array): void;
}

export class GuestHost {
  readonly #options: GuestHostOptions;
  readonly #cache: InstanceCache;
  readonly #answerLocally: LocalAnswerer;
  /** The host resources (WASI pollables, streams) guests on this thread hold. */
  readonly #resources: ResourceLedger;
  readonly #wasiImports: GuestImports;
  /** The execution being served, while one is. */
  #serving: LocalScope | undefined;
  /** What the ledger held when the request being served began. */
  #resourcesAtBegin = 0;
  #warmingUp = false;

  constructor(options: GuestHostOptions) {
    this.#options = options;
    this.#answerLocally = createLocalAnswerer(createRequestProviders());
    const wasi = createWasiHost({
      // A guest waits for its timers only inside a request (never while it is warmed up).
      wait: (ms) => {
        if (!this.#serving || this.#warmingUp) throw new Error('A guest may wait for a timer only inside a request.');
        options.wait(ms);
      },
      stderr: (bytes) => options.stderr(bytes),
    });
    this.#resources = wasi.ledger;
    this.#wasiImports = wasi.imports;
    this.#cache = new InstanceCache({
      instanceMode: options.instanceMode,
      imports: this.#imports(),
      counters: options.counters,
      warmingUp: (active) => (this.#warmingUp = active),
      maxWarm: options.maxWarm,
    });
  }

  /** The ambient WASI, and every planned interface with each function forwarding to `#call`. */
  #imports(): GuestImports {
    const imports: GuestImports = { ...this.#wasiImports };
    for (const planned of this.#options.plan) {
      const bound: Record<string, (...args: unknown[]) => unknown> = {};
      for (const fn of planned.functions) bound[fn] = (...args) => this.#call(planned, fn, args);
      for (const key of importKeys(planned.iface)) imports[key] = bound;
    }
    return imports;
  }

  #call(planned: PlannedInterface, fn: string, args: unknown[]): unknown {
    const { iface, route } = planned;
    if (this.#warmingUp) return guestValue(iface, fn, warmUpAnswer(planned, this.#answerLocally, fn, args));
    const serving = this.#serving;
    if (!serving) throw new Error(`${witName(iface, fn)} called outside a request.`);
    if (route === 'one-way') {
      this.#options.notify({ callId: 0, iface, fn, args });
      return undefined;
    }
    const answered =
      route === 'local'
        ? this.#answerLocally(serving, iface, fn, args)
        : prefetchedAnswer(serving.answers, iface, fn, args);
    return guestValue(iface, fn, answered ?? this.#options.remote({ callId: 0, iface, fn, args }));
  }

  /** Whether a request granted `granted`, with `answers` prefetched, needs nothing but this thread. */
  answersAlone(granted: readonly Capability[], answers: LocalAnswers | undefined): boolean {
    for (const planned of this.#options.plan) {
      if (planned.route !== 'host' || !planned.capability || !granted.includes(planned.capability)) continue;
      if (!answers?.[planned.iface]) return false;
    }
    return true;
  }

  get(key: string): CachedComponent | undefined {
    return this.#cache.get(key);
  }

  /** The component for `key`, loading its glue from `load` when this thread has not yet. */
  async component(key: string, load: ComponentLoad | undefined): Promise<CachedComponent> {
    let component = this.#cache.get(key);
    if (!component) {
      if (!load) throw new Error(`Component ${key} was not sent to this thread.`);
      component = await this.#cache.load(load);
    }
    this.#cache.remember(key, component);
    return component;
  }

  /** Makes the component's instance ready before its first request (warmed up and snapshotted). */
  async prepare(key: string, load: ComponentLoad): Promise<void> {
    const component = await this.component(key, load);
    component.warm ??= this.#cache.instantiate(component);
  }

  /**
   * Starts serving an execution on the component's warm instance (made now
   * if there is none; its guest may call the host while it starts). Nothing
   * else runs on the instance until `recycle`.
   */
  begin(component: CachedComponent, local: LocalScope): WarmInstance {
    this.#serving = local;
    // A start that fails leaves nothing counted against the next request...
    this.#resourcesAtBegin = this.#resources.live;
    const used = this.#cache.checkout(component);
    // ...and what a new instance holds from its start belongs to its snapshot.
    this.#resourcesAtBegin = this.#resources.live;
    return used;
  }

  /**
   * Stops serving: host calls from now on are refused until the next
   * `begin`. Answers whether the request left host resources its guest never
   * dropped (a timer still pending), in which case its instance must be
   * replaced, not restored: those would otherwise outlive the request.
   */
  end(): boolean {
    this.#serving = undefined;
    const left = this.#resources.live !== this.#resourcesAtBegin;
    // Whatever the request left belongs to an instance that is about to go.
    this.#resources.live = this.#resourcesAtBegin;
    return left;
  }

  /** Puts the instance that served a request back into its snapshot state, or replaces it (`discard`). */
  recycle(key: string, component: CachedComponent, used: WarmInstance, discard?: Discard): void {
    this.#cache.recycle(key, component, used, discard);
  }

  /** A new warm instance for the component, made now (its last one was discarded). */
  replace(key: string, component: CachedComponent): void {
    component.warm = undefined;
    if (this.#cache.get(key) !== component) return;
    try {
      component.warm = this.#cache.instantiate(component);
    } catch {
      // Its next request instantiates again and reports the error.
    }
  }

  forget(key: string): void {
    this.#cache.delete(key);
  }
}
