/**
 * The execution engine. A request's walk, top to bottom in `execute`:
 * load (bundle → compiled component, cached; loader.ts) → scope (the
 * execution's providers view, host-calls/scope.ts) → schedule (inline on the
 * main thread or in a worker; schedule.ts) → convert (the guest's answer to
 * the protocol's, secrets masked; convert.ts).
 *
 * The engine knows providers only through the host plan (host-calls): it
 * names no capability and no interface.
 */
import type { FastifyBaseLogger } from 'fastify';
import { AlgaError, type ExecuteRequest, type ExecuteResponse } from '@alga-psa/protocol';
import type { BundleStore } from '@alga-psa/bundle-store';
import { endSpan, type Span, type Tracing } from '@alga-psa/protocol/tracing';
import {
  createDispatcher,
  createScope,
  hostPlan,
  prefetchAnswers,
  type ExecutionScope,
  type ExecutionTrace,
  type HostDispatcher,
} from '../host-calls/index.ts';
import type { Provider } from '../providers/types.ts';
import { errors } from '../errors.ts';
import { maskSecrets } from '../redact.ts';
import type { ExecutionMetrics } from '../metrics.ts';
import { toExecuteResponse, toWitRequest } from './convert.ts';
import { DEFAULT_INLINE_FUEL, InlineRunner, type InlineStats } from './inline.ts';
import { ComponentLoader, type LoadedComponent } from './loader.ts';
import type { InstanceMode } from './messages.ts';
import { ExecutionFailure, WorkerPool, type PoolEvents, type WorkerPoolOptions } from './pool.ts';
import { Scheduler, type ScheduledJob } from './schedule.ts';
import type { TranspileCache } from './transpile-cache.ts';
import { applyWasmTiering, type WasmTiering } from './wasm-tiering.ts';

export { ComponentLoader, compileComponent, type LoadedComponent } from './loader.ts';
export { WorkerPool, ExecutionFailure, type PoolJob, type WorkerPoolOptions, type InstanceStats } from './pool.ts';
export type { InstanceMode } from './messages.ts';
export { applyWasmTiering, WASM_TIERINGS, type WasmTiering } from './wasm-tiering.ts';
export { TranspileCache, TranspileCacheError } from './transpile-cache.ts';
export { DEFAULT_INLINE_FUEL, type InlineStats } from './inline.ts';

export interface EngineOptions {
  bundleStore: BundleStore;
  providers: readonly Provider[];
  workers: number;
  queueLimit: number;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Linear memory cap when a request names none, in MiB. */
  defaultMemoryMb: number;
  /** Upper bound on any request's memory cap, in MiB. */
  maxMemoryMb: number;
  maxCachedComponents?: number;
  /** jco's output kept on disk across restarts (`RUNNER_TRANSPILE_CACHE_DIR`); absent: none. */
  transpileCache?: TranspileCache | undefined;
  resourceLimits?: WorkerPoolOptions['resourceLimits'];
  metrics?: ExecutionMetrics & PoolEvents;
  logger: FastifyBaseLogger;
  /** `reset` (default): restore a warm instance in place after each request; `fresh`: a new one per request. */
  instanceMode?: InstanceMode;
  /** Fuel a request may spend on the main thread before it goes to a worker instead; 0: workers only. Reset mode only. */
  inlineFuel?: number;
  // Benchmark options: each has a row in `npm run bench`; none is an operator setting.
  /** false: every host call crosses to the main thread and waits, none is answered in the worker (default true). */
  localHostCalls?: boolean;
  /** How V8 compiles guest code in this process (default `eager`). */
  wasmTiering?: WasmTiering;
  /** Microseconds the main thread polls for a worker's result after a dispatch (default 0: it sleeps). */
  busyPollMicros?: number;
  /** A span per guest execution and per host call; absent: off. */
  tracing?: Tracing | undefined;
}

/**
 * An error for the caller, with this execution's masked values taken out of
 * its message, and without a guest failure as its cause: the error handler
 * logs a 5xx's cause with the request's logger, which does not mask, and the
 * failure's detail (trap message, guest stack) was logged masked already.
 */
export function callerError(error: unknown, values: ReadonlySet<string>): unknown {
  if (!(error instanceof AlgaError)) return error;
  const guestCause = error.cause instanceof ExecutionFailure;
  const message = values.size === 0 ? error.message : maskSecrets(error.message, values);
  if (message === error.message && !guestCause) return error;
  return new AlgaError(error.code, message, {
    details: error.details,
    ...(guestCause ? {} : { cause: error.cause }),
  });
}

function codeOf(error: unknown): string {
  return error instanceof AlgaError ? error.code : 'ALGA_INTERNAL';
}

export class Engine {
  readonly #options: EngineOptions;
  readonly #providers: readonly Provider[];
  readonly #dispatch: HostDispatcher;
  readonly #loader: ComponentLoader;
  readonly #pool: WorkerPool;
  readonly #inline: InlineRunner | undefined;
  readonly #scheduler: Scheduler;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#providers = options.providers;
    this.#dispatch = createDispatcher(options.providers);
    const plan = hostPlan(options.providers, { localCalls: options.localHostCalls ?? true });
    applyWasmTiering(options.wasmTiering ?? 'eager');
    const instanceMode = options.instanceMode ?? 'reset';
    this.#pool = new WorkerPool({
      plan,
      instanceMode,
      size: options.workers,
      queueLimit: options.queueLimit,
      logger: options.logger,
      ...(options.busyPollMicros === undefined ? {} : { busyPollMicros: options.busyPollMicros }),
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      ...(options.metrics ? { events: options.metrics } : {}),
    });
    const inlineFuel = options.inlineFuel ?? DEFAULT_INLINE_FUEL;
    this.#inline =
      inlineFuel > 0 && instanceMode === 'reset' ? new InlineRunner({ plan, fuel: inlineFuel }) : undefined;
    this.#scheduler = new Scheduler({
      pool: this.#pool,
      inline: this.#inline,
      onTimeout: () => options.metrics?.limitKill?.('timeout'),
    });
    this.#loader = new ComponentLoader({
      bundleStore: options.bundleStore,
      instanceMode,
      meter: this.#inline !== undefined,
      ...(options.maxCachedComponents === undefined ? {} : { maxEntries: options.maxCachedComponents }),
      transpileCache: options.transpileCache,
      onEvict: (key) => {
        this.#pool.forget(key);
        this.#inline?.forget(key);
      },
    });
  }

  /** The pool's state, with the main thread's instances counted in, and the inline path's (when on). */
  get stats(): WorkerPool['stats'] & { inline?: InlineStats } {
    const stats = this.#pool.stats;
    if (!this.#inline) return stats;
    const instances = { ...stats.instances };
    for (const [name, count] of Object.entries(this.#inline.instances))
      instances[name as keyof typeof instances] += count;
    return { ...stats, instances, inline: this.#inline.stats };
  }

  timeoutFor(request: ExecuteRequest): number {
    const requested = request.limits?.timeout_ms ?? this.#options.defaultTimeoutMs;
    return Math.min(requested, this.#options.maxTimeoutMs);
  }

  memoryFor(request: ExecuteRequest): number {
    return this.#memoryMb(request.limits?.memory_mb);
  }

  #memoryMb(requested: number | undefined): number {
    return Math.min(requested ?? this.#options.defaultMemoryMb, this.#options.maxMemoryMb);
  }

  /**
   * Loads, verifies, transpiles and compiles a bundle now, and has every
   * worker (and the main thread, for inline runs) make its instance ready,
   * so its first request pays for none of it.
   */
  async prepare(contentHash: string, memoryMb?: number): Promise<void> {
    const component = await this.#loader.load(contentHash, this.#memoryMb(memoryMb));
    await Promise.all([this.#pool.prepare(component), this.#inline?.prepare(component)]);
  }

  /** Runs one request; `parent` (the runner's request span, when tracing) parents the guest execution's span. */
  async execute(request: ExecuteRequest, logger: FastifyBaseLogger, parent?: Span): Promise<ExecuteResponse> {
    const started = performance.now();
    this.#scheduler.admit();
    let outcome = 'ok';
    try {
      const memoryMb = this.memoryFor(request);
      const component = await this.#loader.load(request.context.content_hash, memoryMb);
      const trace = this.#options.tracing ? this.#trace(this.#options.tracing, request, parent) : undefined;
      const { scope, close } = createScope(request, logger, trace);
      let failure: unknown;
      try {
        const response = await this.#scheduler.run(this.#job(component, request, scope));
        return toExecuteResponse(response, (text) => maskSecrets(text, scope.masked));
      } catch (error) {
        failure = this.#failure(error, scope, request, memoryMb);
        throw failure;
      } finally {
        close();
        if (trace) endSpan(trace.execution, failure === undefined ? undefined : { code: codeOf(failure) });
      }
    } catch (error) {
      outcome = error instanceof AlgaError ? error.code : 'ALGA_INTERNAL';
      throw error;
    } finally {
      this.#scheduler.release();
      this.#options.metrics?.executed(outcome, (performance.now() - started) / 1000);
    }
  }

  /** The guest execution's span (from queueing to its answer, wherever it runs): the parent of its host calls'. */
  #trace(tracing: Tracing, request: ExecuteRequest, parent: Span | undefined): ExecutionTrace {
    const { context } = request;
    const execution = tracing.start('guest execute', {
      parent,
      attributes: {
        'alga.extension_id': context.extension_id,
        'alga.install_id': context.install_id,
        'alga.content_hash': context.content_hash,
      },
    });
    return { tracing, execution, call: undefined };
  }

  #job(component: LoadedComponent, request: ExecuteRequest, scope: ExecutionScope): ScheduledJob {
    const onHostCall: ScheduledJob['onHostCall'] = (call) => this.#dispatch(scope, call.iface, call.fn, call.args);
    return {
      install: request.context.install_id,
      component,
      request: toWitRequest(request),
      timeoutMs: this.timeoutFor(request),
      onHostCall,
      notify: (call) => void onHostCall(call),
      local: {
        request: { context: request.context, config: request.config, user: request.user },
        granted: [...scope.granted],
        // Only a guest host that answers calls itself uses them (and then masks what it got).
        answers: this.#options.localHostCalls === false ? undefined : prefetchAnswers(this.#providers, scope),
      },
      redact: (text) => maskSecrets(text, scope.masked),
    };
  }

  /** Logs what the caller does not see, and turns the failure into the error the caller gets. */
  #failure(error: unknown, scope: ExecutionScope, request: ExecuteRequest, memoryMb: number): unknown {
    const mask = (text: string) => maskSecrets(text, scope.masked);
    if (error instanceof ExecutionFailure) {
      // The trap detail (guest stack, message) stays in the log, masked; the caller gets a generic 502.
      scope.logger.warn({ phase: error.phase, detail: mask(error.detail) }, 'extension execution failed');
      return errors.executionFailed();
    }
    if (error instanceof AlgaError && error.code === 'ALGA_TIMEOUT') {
      scope.logger.warn({ timeout_ms: this.timeoutFor(request) }, 'extension exceeded its deadline; worker recycled');
    }
    if (error instanceof AlgaError && error.code === 'ALGA_MEMORY_LIMIT') {
      const cause = error.cause instanceof ExecutionFailure ? error.cause : undefined;
      scope.logger.warn(
        { memory_mb: memoryMb, ...(cause ? { phase: cause.phase, detail: mask(cause.detail) } : {}) },
        'extension exceeded its memory limit; worker recycled',
      );
    }
    return callerError(error, scope.masked);
  }

  async close(): Promise<void> {
    await this.#pool.close();
    this.#loader.clear();
  }
}
