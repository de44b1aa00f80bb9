/**
 * What a capability provider is. One folder per provider; its module exports
 * one definition made with `defineProvider` or `defineRequestProvider`, and
 * `providers/index.ts` lists them. The engine knows providers only through
 * this type: it derives every set it needs (which calls a worker answers
 * itself, which are one-way, which may run inline, what warm-up answers)
 * from the traits below and never names a capability or an interface.
 *
 * Three lifetimes, kept apart on purpose:
 * - process: `create` runs once per runner with the provider's settings
 *   (its section of the runner's configuration) and the shared dependencies;
 * - per install: caches a provider owns (e.g. decrypted secrets keyed by
 *   tenant|install|version), never module-level variables;
 * - per execution: the `ExecutionScope` (`scope.state(key)` for state kept
 *   between calls, `scope.signal` for cancellation).
 */
import type { StaticDecode, TObject, TProperties } from 'typebox';
import type { Capability, ReferenceInterface, WorldInterface } from '@alga-psa/protocol';
import type { Decrypter } from '@alga-psa/transit';
import type { ImportObject } from '../../generated/runner-with-warm-up.js';
import type { ExecutionScope, RequestScope } from '../host-calls/scope.ts';
import type { WitErr } from '../host-calls/outcome.ts';
import type { ServerApi } from '../server-api/client.ts';
import type { RunnerMetrics } from '../metrics.ts';

/**
 * Every interface the runner links: those a capability unlocks, and the
 * reference host's others (a component built against its whole world imports
 * them all), some of which no capability here unlocks.
 */
export type HostedInterface = WorldInterface | ReferenceInterface;

/** The functions of each WIT interface as jco's host bindings declare them (generated from wit/). */
export type WitInterfaces = {
  [K in keyof ImportObject as K extends `alga:extension/${infer I}@${string}` ? I : never]: ImportObject[K];
};

export type FunctionsOf<I extends HostedInterface> = {
  [
    F in keyof WitInterfaces[I] as WitInterfaces[I][F] extends (...args: never[]) => unknown ? F : never
  ]: WitInterfaces[I][F];
};

/**
 * A provider's implementation of interface `I`: every function of the WIT
 * interface, with the scope first. A function returns its `ok` value (or the
 * plain value when the WIT has no result type), or a `WitErr` for the error
 * variant, possibly through a promise; throwing `HostTrap` traps the guest.
 */
export type HostFunctions<I extends HostedInterface, Scope = ExecutionScope> = {
  [F in keyof FunctionsOf<I>]: FunctionsOf<I>[F] extends (...args: infer A) => infer R
    ? (scope: Scope, ...args: A) => R | WitErr | Promise<R | WitErr>
    : never;
};

/** What a provider built by `create` does at run time. */
export interface ProviderImpl<I extends HostedInterface = HostedInterface, Scope = ExecutionScope> {
  readonly functions: HostFunctions<I, Scope>;
  /**
   * The answer when the capability was not granted; must not touch any
   * backend. A value or `WitErr` like a function, or throws `HostTrap`.
   */
  denied(fn: string, scope: Scope): unknown;
  /**
   * Per execution, as it is handed to a worker: answers the worker may give
   * the guest itself, by function and then by the call's one string argument
   * (`{ get: { api_token: '…' } }`). Only answers that cannot change during
   * the execution; every other call crosses to the main thread as usual.
   */
  prefetch?(scope: ExecutionScope): Record<string, Record<string, unknown>> | undefined;
  /** Process lifetime: finish background work (e.g. buffered shipments) when the runner shuts down. */
  close?(): Promise<void>;
}

/** What every provider shares with the others, built once per runner. */
export interface ProviderDeps {
  decrypter: Decrypter;
  /** The server's runner API, when the runner knows the server (`ALGA_SERVER_URL`). */
  serverApi: ServerApi | undefined;
  metrics: RunnerMetrics | undefined;
  /**
   * Functions that answer an interface instead of its real backend (`alga test` answers storage and
   * outbound HTTP from a fixture). The grant check, the denied answers and the traits stay the real ones.
   */
  standIns?: StandIns | undefined;
}

/** Per interface, functions shaped like the WIT's (jco names), throwing `{ payload }` for an error case. */
export type StandIns = { [I in WorldInterface]?: Partial<Record<keyof FunctionsOf<I>, (...args: never[]) => unknown>> };

/**
 * A provider whose answers depend only on the request itself (its context,
 * config and user) and the granted capabilities: no secrets, no I/O. Any
 * thread answers it, so a worker does without the bridge to the main thread.
 */
export interface RequestProviderDefinition<I extends HostedInterface = HostedInterface> {
  readonly iface: I;
  readonly placement: 'request';
  /** Once per thread that answers it. */
  create(): ProviderImpl<I, RequestScope>;
}

/** A provider that needs the runner's main thread (caches, sockets, masking, the server). */
export interface HostProviderDefinition<
  I extends HostedInterface = HostedInterface,
  S extends TProperties = TProperties,
> {
  readonly iface: I;
  readonly placement: 'host';
  /** Its functions return nothing: a worker posts the call and the guest goes on without waiting. */
  readonly oneWay?: boolean;
  /**
   * Answers to a new instance's warm-up call, which carries no tenant data
   * (engine/warm-up.ts). A function not listed traps during warm-up.
   */
  readonly warmUp?: { readonly [F in keyof FunctionsOf<I>]?: unknown };
  /** Its section of the runner's settings: each property a TypeBox schema with a default and an `env` name. */
  readonly settings?: S;
  /**
   * Its `create` takes its stand-in from `deps.standIns` itself (keeping its own checks in front of it)
   * instead of having its functions replaced by it.
   */
  readonly ownsStandIn?: boolean;
  create(context: { settings: StaticDecode<TObject<S>>; deps: ProviderDeps }): ProviderImpl<I>;
}

/** Any provider definition, as the registry lists them. */
export type ProviderDefinition = {
  [I in HostedInterface]: RequestProviderDefinition<I> | HostProviderDefinition<I, TProperties>;
}[HostedInterface];

/** A provider as the runner holds it once created: its traits, its capability and its implementation. */
export interface Provider<Scope = ExecutionScope> extends ProviderImpl<HostedInterface, Scope> {
  readonly iface: HostedInterface;
  /** The capability that unlocks it; none for an interface this platform links but never provides. */
  readonly capability: Capability | undefined;
  readonly placement: 'request' | 'host';
  readonly oneWay: boolean;
  readonly warmUp: Readonly<Record<string, unknown>>;
}

export function defineRequestProvider<I extends HostedInterface>(
  definition: Omit<RequestProviderDefinition<I>, 'placement'>,
): RequestProviderDefinition<I> {
  return { ...definition, placement: 'request' };
}

export function defineProvider<I extends HostedInterface, S extends TProperties = Record<never, never>>(
  definition: Omit<HostProviderDefinition<I, S>, 'placement'>,
): HostProviderDefinition<I, S> {
  return { ...definition, placement: 'host' };
}
