/**
 * The runner's capability providers, in ONE ordered list. Adding a capability
 * means a new folder next to this file and one line below.
 */
import { WitErr, HostTrap, type ExecutionScope, type Provider } from './types.ts';
import { WORLD_FUNCTIONS, WORLD_INTERFACES } from '../world.ts';
import { createContextProvider } from './context/index.ts';
import { createConfigProvider } from './config/index.ts';
import { createRandomProvider } from './random/index.ts';
import { createSecretsProvider, type SecretCache, type SecretsMetrics } from './secrets/index.ts';
import { createHttpProvider, type HttpProviderOptions } from './http/index.ts';
import { createStorageProvider } from './storage/index.ts';
import { createLoggingProvider } from './logging/index.ts';
import { createUiProxyProvider, type UiProxyOptions } from './ui-proxy/index.ts';
import { createUserProvider } from './user/index.ts';
import type { Decrypter } from '@alga-psa/transit';
import type { Capability, ExecuteRequest } from '@alga-psa/protocol';

export * from './types.ts';
export { SecretCache } from './secrets/index.ts';

/** Process-lifetime dependencies the providers are built from. */
export interface ProviderDeps {
  decrypter: Decrypter;
  secretCache: SecretCache;
  secretsMetrics?: SecretsMetrics;
  /** The operator's ui-proxy routes; none configured → every route is `route-not-found`. */
  uiProxy?: UiProxyOptions;
  /** The server's base URL (ALGA_SERVER_URL) for storage and guest-log shipping; without it storage answers `internal`. */
  serverUrl?: string | undefined;
  /** Operator settings of the http provider (e.g. `allowPrivate` from RUNNER_HTTP_ALLOW_PRIVATE). */
  http?: HttpProviderOptions;
}

export function createProviders(deps: ProviderDeps): Provider[] {
  return [
    createContextProvider(),
    createConfigProvider(),
    createRandomProvider(),
    createSecretsProvider({
      decrypter: deps.decrypter,
      cache: deps.secretCache,
      ...(deps.secretsMetrics ? { metrics: deps.secretsMetrics } : {}),
    }),
    createHttpProvider(deps.http),
    createStorageProvider({ serverUrl: deps.serverUrl }),
    createLoggingProvider({ serverUrl: deps.serverUrl }),
    createUiProxyProvider(deps.uiProxy),
    createUserProvider(),
  ];
}

/** What a host call produced, as it crosses back to the worker. */
export type HostOutcome =
  { kind: 'ok'; value: unknown } | { kind: 'err'; payload: string } | { kind: 'trap'; message: string };

/** A host call's outcome as jco's glue expects it: the value, a thrown `payload` (a WIT `err`), or a trap. */
export function guestValue(iface: string, fn: string, outcome: HostOutcome): unknown {
  if (outcome.kind === 'ok') return outcome.value;
  if (outcome.kind === 'err') {
    // jco lowers a thrown value with an own `payload` property into the
    // `err` case of the import's `result<T, E>` (see `getErrorPayload` in the
    // glue); any other Error becomes a trap.
    throw Object.assign(new Error(`alga:extension/${iface}.${fn} returned an error`), { payload: outcome.payload });
  }
  throw new Error(outcome.message);
}

export type HostDispatcher = (
  scope: ExecutionScope,
  iface: string,
  fn: string,
  args: unknown[],
) => Promise<HostOutcome>;

/**
 * Indexes the providers by interface (checking up front that the world is
 * covered exactly once) and returns the function that answers a guest's call.
 */
export function createDispatcher(providers: readonly Provider[]): HostDispatcher {
  const byIface = new Map<string, Provider>();
  for (const provider of providers) {
    if (byIface.has(provider.iface)) throw new Error(`Two providers implement alga:extension/${provider.iface}.`);
    byIface.set(provider.iface, provider);
  }
  for (const iface of WORLD_INTERFACES) {
    const provider = byIface.get(iface);
    if (!provider) throw new Error(`No provider implements alga:extension/${iface}.`);
    const absent = WORLD_FUNCTIONS[iface].filter((fn) => !Object.hasOwn(provider.functions, fn));
    if (absent.length > 0) throw new Error(`Provider ${provider.name} lacks ${absent.join(', ')}.`);
  }

  return async (scope, iface, fn, args) => {
    const provider = byIface.get(iface);
    const impl = provider && Object.hasOwn(provider.functions, fn) ? provider.functions[fn] : undefined;
    if (!provider || !impl) {
      return { kind: 'trap', message: `The host does not implement alga:extension/${iface}.${fn}.` };
    }
    try {
      const value = scope.granted.has(provider.capability)
        ? await impl(scope, ...(args as never[]))
        : await provider.denied(fn, scope);
      if (value instanceof WitErr) return { kind: 'err', payload: value.payload };
      return { kind: 'ok', value };
    } catch (error) {
      if (error instanceof HostTrap) return { kind: 'trap', message: error.message };
      // Host detail stays in the runner's log; the guest only learns that the call failed.
      scope.logger.error({ provider: provider.name, fn, err: error }, 'provider failed');
      return { kind: 'trap', message: `The host failed while handling alga:extension/${iface}.${fn}.` };
    }
  };
}

/**
 * Interfaces whose answers depend only on the request itself (its context
 * and config, and fresh CSPRNG bytes): no secrets, no I/O, no logging. A
 * worker answers them itself, without crossing the host-call bridge to the
 * main thread (a post + `Atomics.wait` round trip per call). Everything
 * else (secrets, http, storage, logging, ui-proxy, user) stays on the main
 * thread, where the secret cache, masking and outbound policy live.
 */
export const WORKER_LOCAL_INTERFACES: ReadonlySet<string> = new Set(['context', 'config', 'random']);

/**
 * Interfaces whose functions return nothing (logging): a worker posts the
 * call to the main thread and lets the guest go on without waiting, on the
 * same channel as the request's result, so every line is handled (masked,
 * written, shipped) before the result, in the order the guest logged them.
 */
export const ONE_WAY_INTERFACES: ReadonlySet<string> = new Set(['logging']);

/** Answers a worker may give itself: interface → function → the call's one string argument → value. */
export type LocalAnswers = Record<string, Record<string, Record<string, unknown>>>;

/** What a worker knows of the execution: enough for the worker-local interfaces. */
export interface LocalScope {
  readonly request: Pick<ExecuteRequest, 'context' | 'config'>;
  readonly granted: ReadonlySet<Capability>;
  /** Prefetched answers of other interfaces (`Provider.prefetch`), e.g. cached secret values. */
  readonly answers?: LocalAnswers;
}

/**
 * The prefetched answers of every granted provider for one execution
 * (`Provider.prefetch`), or undefined when there are none.
 */
export function prefetchAnswers(providers: readonly Provider[], scope: ExecutionScope): LocalAnswers | undefined {
  let answers: LocalAnswers | undefined;
  for (const provider of providers) {
    if (!provider.prefetch || !scope.granted.has(provider.capability)) continue;
    const prefetched = provider.prefetch(scope);
    if (prefetched) (answers ??= {})[provider.iface] = prefetched;
  }
  return answers;
}

/**
 * The same providers and the same grant check as `createDispatcher`, but
 * synchronous and limited to `WORKER_LOCAL_INTERFACES` and the scope's
 * prefetched answers; returns undefined for any other call.
 */
export function createLocalDispatcher(): (
  scope: LocalScope,
  iface: string,
  fn: string,
  args: unknown[],
) => HostOutcome | undefined {
  const byIface = new Map<string, Provider>(
    [createContextProvider(), createConfigProvider(), createRandomProvider()].map((p) => [p.iface, p]),
  );
  return (local, iface, fn, args) => {
    const prefetched = local.answers?.[iface]?.[fn];
    const [argument] = args;
    if (prefetched && typeof argument === 'string' && Object.hasOwn(prefetched, argument)) {
      return { kind: 'ok', value: prefetched[argument] };
    }
    const provider = byIface.get(iface);
    if (!provider) return undefined;
    const impl = Object.hasOwn(provider.functions, fn) ? provider.functions[fn] : undefined;
    if (!impl) return { kind: 'trap', message: `The host does not implement alga:extension/${iface}.${fn}.` };
    // These three providers read only `request` and `granted` (their tests
    // and reset.test.ts's parity test hold them to it).
    const scope = local as unknown as ExecutionScope;
    try {
      const value = scope.granted.has(provider.capability)
        ? impl(scope, ...(args as never[]))
        : provider.denied(fn, scope);
      if (value instanceof WitErr) return { kind: 'err', payload: value.payload };
      return { kind: 'ok', value };
    } catch (error) {
      if (error instanceof HostTrap) return { kind: 'trap', message: error.message };
      return { kind: 'trap', message: `The host failed while handling alga:extension/${iface}.${fn}.` };
    }
  };
}
