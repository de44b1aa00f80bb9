/**
 * Host calls: how a guest's import call reaches a provider and what comes
 * back. The main thread answers every call (`createDispatcher`); any thread
 * answers what depends on the request alone (`createLocalAnswerer`); the
 * `HostPlan` tells a guest host, per interface, which of the two to use.
 */
import { WIT_PACKAGE, type Capability, type ExecuteRequest } from '@alga-psa/protocol';
import type { Provider } from '../providers/types.ts';
import { HostTrap, outcomeOf, type HostOutcome } from './outcome.ts';
import { endSpan } from '@alga-psa/protocol/tracing';
import type { ExecutionScope, ExecutionTrace, RequestScope } from './scope.ts';

export { HostTrap, WitErr, witErr, outcomeOf, type HostOutcome } from './outcome.ts';
export {
  callBudget,
  callSignal,
  createScope,
  executionState,
  providerSpan,
  type ClosableScope,
  type ExecutionScope,
  type ExecutionTrace,
  type RequestScope,
  type StateKey,
} from './scope.ts';

/** `alga:extension/secrets.get`, for messages. */
export function witName(iface: string, fn: string): string {
  return `${WIT_PACKAGE}/${iface}.${fn}`;
}

/** Answers a provider gives before any call: interface → function → the call's one string argument → value. */
export type LocalAnswers = Record<string, Record<string, Record<string, unknown>>>;

/** What a thread other than the main one knows of an execution: enough for request-only answers. */
export interface LocalScope extends RequestScope {
  readonly request: Pick<ExecuteRequest, 'context' | 'config' | 'user'>;
  /** Prefetched answers of main-thread providers (`ProviderImpl.prefetch`), e.g. cached secret values. */
  readonly answers?: LocalAnswers | undefined;
}

/** How a guest host answers one interface. */
export type Route =
  /** Answered on the calling thread from the request (a request provider). */
  | 'local'
  /** Returns nothing; handed to the main thread without waiting, handled in order before the result. */
  | 'one-way'
  /** Answered by the main thread (or from the execution's prefetched answers). */
  | 'host';

export interface PlannedInterface {
  iface: string;
  /** None for an interface linked but never provided: every call takes its deny path. */
  capability: Capability | undefined;
  functions: string[];
  route: Route;
  /** A request provider answers it: any thread can, from the request alone (warm-up does, whatever the route). */
  requestOnly: boolean;
  /** Answers to a new instance's warm-up call, by function; a function without one traps. */
  warmUp: Record<string, HostOutcome>;
}

/** Every interface a guest may import and how it is answered; plain data, so it crosses to workers. */
export type HostPlan = PlannedInterface[];

/**
 * The plan for a set of providers. `localCalls: false` sends every call to
 * the main thread and waits for it (the benchmark's baseline).
 */
export function hostPlan(providers: readonly Provider[], options: { localCalls?: boolean } = {}): HostPlan {
  const localCalls = options.localCalls ?? true;
  return providers.map((provider) => {
    const route: Route = !localCalls
      ? 'host'
      : provider.placement === 'request'
        ? 'local'
        : provider.oneWay
          ? 'one-way'
          : 'host';
    const warmUp: Record<string, HostOutcome> = {};
    for (const [fn, value] of Object.entries(provider.warmUp)) warmUp[fn] = outcomeOf(value);
    return {
      iface: provider.iface,
      capability: provider.capability,
      functions: Object.keys(provider.functions),
      route,
      requestOnly: provider.placement === 'request',
      warmUp,
    };
  });
}

/** Whether `capability` was granted; an interface without one never is. */
export function isGranted(granted: ReadonlySet<Capability>, capability: Capability | undefined): boolean {
  return capability !== undefined && granted.has(capability);
}

/** Checks that no interface has two providers; returns them by interface. */
function byInterface<P extends Pick<Provider, 'iface'>>(providers: readonly P[]): Map<string, P> {
  const map = new Map<string, P>();
  for (const provider of providers) {
    if (map.has(provider.iface)) throw new Error(`Two providers implement ${WIT_PACKAGE}/${provider.iface}.`);
    map.set(provider.iface, provider);
  }
  return map;
}

function implOf(provider: Provider<unknown> | undefined, fn: string): Impl | undefined {
  return provider && Object.hasOwn(provider.functions, fn)
    ? (provider.functions as unknown as Record<string, Impl>)[fn]
    : undefined;
}

export type HostDispatcher = (
  scope: ExecutionScope,
  iface: string,
  fn: string,
  args: unknown[],
) => Promise<HostOutcome>;

/** The main thread's answer to any call: the provider's function when granted, its `denied` answer otherwise. */
export function createDispatcher(providers: readonly Provider[]): HostDispatcher {
  const providerOf = byInterface(providers);
  return async (scope, iface, fn, args) => {
    const provider = providerOf.get(iface);
    const impl = implOf(provider as Provider<unknown> | undefined, fn);
    if (!provider || !impl) return { kind: 'trap', message: `The host does not implement ${witName(iface, fn)}.` };
    // One-way calls (log lines) are not worth a span each.
    if (!scope.trace || provider.oneWay) return answer(scope, provider, impl, fn, args);
    return tracedAnswer(scope, scope.trace, provider, impl, fn, args);
  };
}

type Impl = (scope: unknown, ...args: unknown[]) => unknown;

async function answer(
  scope: ExecutionScope,
  provider: Provider,
  impl: Impl,
  fn: string,
  args: unknown[],
): Promise<HostOutcome> {
  try {
    return outcomeOf(
      isGranted(scope.granted, provider.capability) ? await impl(scope, ...args) : await provider.denied(fn, scope),
    );
  } catch (error) {
    if (error instanceof HostTrap) return { kind: 'trap', message: error.message };
    // Host detail stays in the runner's log; the guest only learns that the call failed.
    scope.logger.error({ provider: provider.iface, fn, err: error }, 'provider failed');
    return { kind: 'trap', message: `The host failed while handling ${witName(provider.iface, fn)}.` };
  }
}

/**
 * `answer` inside a span named for the interface and function. It records
 * the outcome's kind and a WIT error's variant name (`missing`, `denied`…),
 * never an argument, a value or a trap message.
 */
async function tracedAnswer(
  scope: ExecutionScope,
  trace: ExecutionTrace,
  provider: Provider,
  impl: Impl,
  fn: string,
  args: unknown[],
): Promise<HostOutcome> {
  const span = trace.tracing.start(`host ${provider.iface}.${fn}`, {
    parent: trace.execution,
    attributes: { 'alga.host.interface': provider.iface, 'alga.host.function': fn },
  });
  trace.call = span;
  try {
    const outcome = await answer(scope, provider, impl, fn, args);
    span.setAttribute('alga.host.outcome', outcome.kind);
    if (outcome.kind === 'err') span.setAttribute('alga.host.error', outcome.payload);
    endSpan(span, outcome.kind === 'trap' ? { code: 'trap' } : undefined);
    return outcome;
  } finally {
    if (trace.call === span) trace.call = undefined;
  }
}

export type LocalAnswerer = (local: LocalScope, iface: string, fn: string, args: unknown[]) => HostOutcome | undefined;

/** The answer the execution prefetched for this call (`ProviderImpl.prefetch`), if any. */
export function prefetchedAnswer(
  answers: LocalAnswers | undefined,
  iface: string,
  fn: string,
  args: unknown[],
): HostOutcome | undefined {
  const prefetched = answers?.[iface]?.[fn];
  const [argument] = args;
  if (!prefetched || typeof argument !== 'string' || !Object.hasOwn(prefetched, argument)) return undefined;
  return { kind: 'ok', value: prefetched[argument] };
}

/**
 * Answers on any thread what depends on the request alone (the request
 * providers), with the same grant check as the main thread. Undefined for a
 * call only the main thread can answer.
 */
export function createLocalAnswerer(providers: readonly Provider<RequestScope>[]): LocalAnswerer {
  const providerOf = byInterface(providers.filter((provider) => provider.placement === 'request'));
  return (local, iface, fn, args) => {
    const provider = providerOf.get(iface);
    if (!provider) return undefined;
    const impl = implOf(provider as Provider<unknown>, fn);
    if (!impl) return { kind: 'trap', message: `The host does not implement ${witName(iface, fn)}.` };
    try {
      return outcomeOf(
        isGranted(local.granted, provider.capability) ? impl(local, ...args) : provider.denied(fn, local),
      );
    } catch (error) {
      if (error instanceof HostTrap) return { kind: 'trap', message: error.message };
      return { kind: 'trap', message: `The host failed while handling ${witName(iface, fn)}.` };
    }
  };
}

/** The prefetched answers of every granted provider for one execution, or undefined when there are none. */
export function prefetchAnswers(providers: readonly Provider[], scope: ExecutionScope): LocalAnswers | undefined {
  let answers: LocalAnswers | undefined;
  for (const provider of providers) {
    if (!provider.prefetch || !isGranted(scope.granted, provider.capability)) continue;
    const prefetched = provider.prefetch(scope);
    if (prefetched) (answers ??= {})[provider.iface] = prefetched;
  }
  return answers;
}
