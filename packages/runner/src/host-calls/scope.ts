/**
 * The per-execution scope handed to providers. Nothing in it outlives the
 * request: when the execution ends, `signal` aborts (so every call a provider
 * still has in flight is cancelled) and the deferred clean-ups run once, in
 * reverse order, before the masked values are wiped.
 */
import type { FastifyBaseLogger } from 'fastify';
import { isCapability, type Capability, type ExecuteRequest } from '@alga-psa/protocol';
import type { Attributes, Span, SpanKindName, Tracing } from '@alga-psa/protocol/tracing';
import { MASK_VALUES } from '../redact.ts';

/** What an answer that depends only on the request may read: any thread can build it. */
export interface RequestScope {
  readonly request: Pick<ExecuteRequest, 'context' | 'config' | 'user'>;
  readonly granted: ReadonlySet<Capability>;
}

/** A provider's state for one execution, created on first use (`scope.state(key)`). */
export interface StateKey<S> {
  readonly name: string;
  readonly init: (scope: ExecutionScope) => S;
}

/** Declares a kind of per-execution state; `init` may register clean-ups with `scope.defer`. */
export function executionState<S>(name: string, init: (scope: ExecutionScope) => S): StateKey<S> {
  return { name, init };
}

/** Everything one execution may see. Created per request, never shared. */
export interface ExecutionScope extends RequestScope {
  readonly request: ExecuteRequest;
  /** Bound to request_id, tenant_id, extension_id, install_id; masks `masked` in every line. */
  readonly logger: FastifyBaseLogger;
  /** Values no line, header or error of this execution may show (the secrets it read). */
  readonly masked: Set<string>;
  /** Aborts when the execution ends (answered, failed or timed out). */
  readonly signal: AbortSignal;
  /** This execution's state for `key`, created on first use. */
  state<S>(key: StateKey<S>): S;
  /** Runs `fn` when the execution ends, before `masked` is wiped. */
  defer(fn: () => void): void;
  /** When tracing is on: where this execution's spans hang (absent when off). */
  readonly trace?: ExecutionTrace | undefined;
}

/**
 * An execution's place in its trace. Spans are made on the main thread only:
 * every call a span is made for (secrets decrypt, storage, outbound HTTP)
 * crosses to the main thread's dispatcher anyway, so no trace id travels to a
 * worker and a worker pays nothing. A call a worker answers by itself (a
 * request-only interface, a prefetched cached secret) touches no backend and
 * gets no span.
 */
export interface ExecutionTrace {
  readonly tracing: Tracing;
  /** The guest execution's span: the parent of each host call's. */
  readonly execution: Span;
  /**
   * The host call being answered, parent of what its provider does (a
   * decrypt, an upstream request). One at a time: the guest waits for each.
   */
  call: Span | undefined;
}

/** A span for work a provider does inside the current host call; undefined when tracing is off. */
export function providerSpan(
  scope: ExecutionScope,
  name: string,
  options: { kind?: SpanKindName; attributes?: Attributes } = {},
): Span | undefined {
  const trace = scope.trace;
  if (!trace) return undefined;
  return trace.tracing.start(name, { ...options, parent: trace.call ?? trace.execution });
}

export interface ClosableScope {
  scope: ExecutionScope;
  /** Ends the execution: aborts `signal`, runs the clean-ups, wipes `masked`. Idempotent. */
  close(): void;
}

/** The abort reason of every execution's signal: made once, as an Error's stack costs microseconds. */
const ENDED = new Error('The execution ended.');

export function createScope(
  request: ExecuteRequest,
  logger: FastifyBaseLogger,
  trace?: ExecutionTrace | undefined,
): ClosableScope {
  const deferred: Array<() => void> = [];
  // Made when a provider first asks: most executions need neither.
  let states: Map<StateKey<unknown>, unknown> | undefined;
  let ended: AbortController | undefined;
  const masked = new Set<string>();
  const { context } = request;
  const child = logger.child({
    request_id: context.request_id,
    tenant_id: context.tenant_id,
    extension_id: context.extension_id,
    install_id: context.install_id,
  });
  // Every line written through this logger (or its children) masks this
  // execution's values; the runner's root logger installs the hook that reads this.
  Object.defineProperty(child, MASK_VALUES, { value: masked });
  let closed = false;
  const scope: ExecutionScope = {
    request,
    granted: new Set(request.providers.filter(isCapability)),
    logger: child,
    masked,
    get signal() {
      ended ??= new AbortController();
      if (closed) ended.abort(ENDED);
      return ended.signal;
    },
    state<S>(key: StateKey<S>): S {
      states ??= new Map();
      if (!states.has(key)) states.set(key, key.init(scope));
      return states.get(key) as S;
    },
    defer(fn) {
      deferred.push(fn);
    },
    trace,
  };
  return {
    scope,
    close() {
      if (closed) return;
      closed = true;
      ended?.abort(ENDED);
      for (const fn of deferred.reverse()) {
        try {
          fn();
        } catch (error) {
          scope.logger.error({ err: error }, 'execution clean-up failed');
        }
      }
      masked.clear();
    },
  };
}

/** `signal` for one call: aborts when the execution ends or after `ms`, whichever comes first. */
export function callSignal(scope: ExecutionScope, ms: number): AbortSignal {
  return AbortSignal.any([scope.signal, AbortSignal.timeout(ms)]);
}

/** A call's time budget: `ms`, never beyond the execution's own deadline. */
export function callBudget(scope: ExecutionScope, ms: number): number {
  const limit = scope.request.limits?.timeout_ms;
  return typeof limit === 'number' && limit > 0 ? Math.min(ms, limit) : ms;
}
