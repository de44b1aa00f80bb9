/**
 * The execution engine: bundle → compiled component (cached) → a fresh
 * instance in a pooled worker, with the granted providers answering its
 * imports through a per-execution scope.
 */
import type { FastifyBaseLogger } from 'fastify';
import { AlgaError, type ExecuteRequest, type ExecuteResponse } from '@alga-psa/protocol';
import type { BundleStore } from '@alga-psa/bundle-store';
import { createDispatcher, prefetchAnswers, type Provider } from '../providers/index.ts';
import { maskSecrets } from '../redact.ts';
import { createScope } from '../scope.ts';
import { toExecuteResponse, toWitRequest } from './convert.ts';
import { ComponentLoader } from './loader.ts';
import { ExecutionFailure, WorkerPool, type PoolEvents, type PoolJob, type WorkerPoolOptions } from './pool.ts';
import type { ExecutionMetrics } from '../metrics.ts';
import type { WitExecuteResponse } from '../world.ts';
import type { InstanceMode } from './messages.ts';
import { applyWasmTiering, wasmTieringFromEnv, type WasmTiering } from './wasm-tiering.ts';
import { busyPollFromEnv } from './busy-poll.ts';
import { InlineRunner, inlineFuelFromEnv, type InlineStats } from './inline.ts';

export { ComponentLoader, compileComponent, type LoadedComponent } from './loader.ts';
export { WorkerPool, ExecutionFailure, type PoolJob, type WorkerPoolOptions, type InstanceStats } from './pool.ts';
export { capModuleMemory, exposeResetState, MemoryFloorError } from '@alga-psa/wasm-rewrite';
export type { InstanceMode } from './messages.ts';
export { applyWasmTiering, wasmTieringFromEnv, type WasmTiering } from './wasm-tiering.ts';
export { busyPollFromEnv } from './busy-poll.ts';
export { inlineFuelFromEnv, type InlineStats } from './inline.ts';

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
  resourceLimits?: WorkerPoolOptions['resourceLimits'];
  metrics?: ExecutionMetrics & PoolEvents;
  logger: FastifyBaseLogger;
  /**
   * `reset` restores a warm instance in place after each request (reset.ts);
   * `fresh` instantiates a new one per request. Default: `RUNNER_INSTANCE_MODE`,
   * else `reset`.
   */
  instanceMode?: InstanceMode;
  /** Answer context, config and random inside the worker, without the bridge (default true). */
  localHostCalls?: boolean;
  /**
   * How V8 compiles guest code in this process (wasm-tiering.ts), set before
   * the engine compiles anything. Default: `RUNNER_WASM_TIERING`, else `eager`.
   */
  wasmTiering?: WasmTiering;
  /**
   * Microseconds the main thread polls for a job's result after handing it
   * to a worker (busy-poll.ts); 0: it sleeps until the result's message.
   * Default: `RUNNER_BUSY_POLL_US`, else 0.
   */
  busyPollMicros?: number;
  /**
   * Fuel a request may spend on the main thread before it goes to a worker
   * instead (inline.ts); 0 sends every request to a worker. Default:
   * `RUNNER_INLINE_FUEL`, else `DEFAULT_INLINE_FUEL`. Reset mode only.
   */
  inlineFuel?: number;
}

/**
 * `RUNNER_INSTANCE_MODE`, read when an engine is built. Read here rather
 * than in config.ts so that every embedding of the engine (the runner
 * process, `createRunner` in tests, the benchmark) honours the switch.
 */
export function instanceModeFromEnv(env: Record<string, string | undefined> = process.env): InstanceMode {
  const value = env.RUNNER_INSTANCE_MODE?.trim();
  if (!value || value === 'reset') return 'reset';
  if (value === 'fresh') return 'fresh';
  throw new Error(`RUNNER_INSTANCE_MODE must be reset or fresh, got ${JSON.stringify(value)}.`);
}

/**
 * Inline work the main thread may do between two turns of its event loop
 * before a request that could run inline waits for the next check phase
 * (`Engine#inlineNow`): ~3 of the benchmark's requests.
 */
const INLINE_MS_PER_TURN = 1;

/** An error for the caller, with this execution's secrets masked out of its message. */
function masked(error: unknown, secretValues: ReadonlySet<string>): unknown {
  if (!(error instanceof AlgaError) || secretValues.size === 0) return error;
  const message = maskSecrets(error.message, secretValues);
  if (message === error.message) return error;
  return new AlgaError(error.code, message, { details: error.details });
}

export class Engine {
  readonly #options: EngineOptions;
  readonly #loader: ComponentLoader;
  readonly #pool: WorkerPool;
  readonly #dispatch: ReturnType<typeof createDispatcher>;
  readonly #inline: InlineRunner | undefined;
  /** Requests waiting for this turn's check phase, where one of them may run inline (`#inlineTurn`). */
  #batch: Array<(inline: boolean) => void> | undefined;
  /** Milliseconds of inline runs since the event loop last reached its check phase (`#inlineNow`). */
  #inlineSpent = 0;
  #inlineSpentReset = false;
  /** Executions between `execute` and their answer, wherever they are (loading, queued, in a worker). */
  #inFlight = 0;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#dispatch = createDispatcher(options.providers);
    applyWasmTiering(options.wasmTiering ?? wasmTieringFromEnv());
    const instanceMode = options.instanceMode ?? instanceModeFromEnv();
    this.#pool = new WorkerPool({
      instanceMode,
      ...(options.localHostCalls === undefined ? {} : { localHostCalls: options.localHostCalls }),
      size: options.workers,
      busyPollMicros: options.busyPollMicros ?? busyPollFromEnv(),
      queueLimit: options.queueLimit,
      logger: options.logger,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
      ...(options.metrics ? { events: options.metrics } : {}),
    });
    const inlineFuel = options.inlineFuel ?? inlineFuelFromEnv();
    this.#inline = inlineFuel > 0 && instanceMode === 'reset' ? new InlineRunner({ fuel: inlineFuel }) : undefined;
    this.#loader = new ComponentLoader({
      bundleStore: options.bundleStore,
      instanceMode,
      meter: this.#inline !== undefined,
      ...(options.maxCachedComponents === undefined ? {} : { maxEntries: options.maxCachedComponents }),
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

  async execute(request: ExecuteRequest, logger: FastifyBaseLogger): Promise<ExecuteResponse> {
    const started = performance.now();
    let outcome = 'ok';
    this.#inFlight++;
    try {
      return await this.#execute(request, logger);
    } catch (error) {
      outcome = error instanceof AlgaError ? error.code : 'ALGA_INTERNAL';
      throw error;
    } finally {
      this.#inFlight--;
      this.#options.metrics?.executed(outcome, (performance.now() - started) / 1000);
    }
  }

  async #execute(request: ExecuteRequest, logger: FastifyBaseLogger): Promise<ExecuteResponse> {
    const memoryMb = this.memoryFor(request);
    const component = await this.#loader.load(request.context.content_hash, memoryMb);
    const { scope, close } = createScope(request, logger);
    const timeoutMs = this.timeoutFor(request);
    try {
      const response = await this.#run({
        component,
        request: toWitRequest(request),
        timeoutMs,
        onHostCall: (call) => this.#dispatch(scope, call.iface, call.fn, call.args),
        local: {
          request: { context: request.context, config: request.config },
          granted: [...scope.granted],
          // Only a worker that answers calls itself can use them (and then masks what it got).
          answers: this.#options.localHostCalls === false ? undefined : prefetchAnswers(this.#options.providers, scope),
        },
        redact: (text) => maskSecrets(text, scope.secretValues),
      });
      return toExecuteResponse(response, (text) => maskSecrets(text, scope.secretValues));
    } catch (error) {
      if (error instanceof ExecutionFailure) {
        // The trap detail (guest stack, message) stays in the log, masked; the caller gets a generic 502.
        scope.logger.warn(
          { phase: error.phase, detail: maskSecrets(error.detail, scope.secretValues) },
          'extension execution failed',
        );
        throw new AlgaError('ALGA_EXECUTION_FAILED');
      }
      if (error instanceof AlgaError && error.code === 'ALGA_TIMEOUT') {
        scope.logger.warn({ timeout_ms: timeoutMs }, 'extension exceeded its deadline; worker recycled');
      }
      if (error instanceof AlgaError && error.code === 'ALGA_MEMORY_LIMIT') {
        const cause = error.cause instanceof ExecutionFailure ? error.cause : undefined;
        scope.logger.warn(
          {
            memory_mb: memoryMb,
            ...(cause ? { phase: cause.phase, detail: maskSecrets(cause.detail, scope.secretValues) } : {}),
          },
          'extension exceeded its memory limit; worker recycled',
        );
      }
      throw masked(error, scope.secretValues);
    } finally {
      close();
    }
  }

  /**
   * Runs a job inline when it qualifies and nothing else is in flight, else
   * (or when the inline run declines) in a worker.
   */
  async #run(job: PoolJob): Promise<WitExecuteResponse> {
    const inline = this.#inline;
    const inlineJob = job.local && { ...job, local: job.local };
    if (inline && inlineJob && inline.accepts(inlineJob) && (this.#inlineNow() || (await this.#inlineTurn()))) {
      const started = performance.now();
      // A glue that fails to load here is the worker's to load again and report.
      const result = await inline.run(inlineJob).catch(() => undefined);
      this.#spentInline(performance.now() - started);
      if (result?.kind === 'done') {
        // Handled as a worker's would be: in order, before the result.
        for (const call of result.logs) void job.onHostCall(call);
        return result.response;
      }
      // The worker gets what is left of the deadline.
      const left = job.timeoutMs - (performance.now() - started);
      if (left <= 0) {
        this.#options.metrics?.limitKill?.('timeout');
        throw new AlgaError('ALGA_TIMEOUT');
      }
      job = { ...job, timeoutMs: left };
    }
    return this.#pool.run(job);
  }

  /**
   * Whether a request may run inline at once, without waiting for the
   * check phase: it is the only execution in flight, and the thread has run
   * less than `INLINE_MS_PER_TURN` inline since the loop last turned. A
   * caller that issues requests one after another from its own code (an
   * embedding, the benchmark) then does not pay an event-loop turn
   * (~20 µs) per request; the budget bounds how long other events wait
   * meanwhile, and how many of a burst that arrived in one poll phase run
   * here before the rest are seen together in the check phase.
   */
  #inlineNow(): boolean {
    return this.#inFlight === 1 && this.#inlineSpent < INLINE_MS_PER_TURN;
  }

  #spentInline(ms: number): void {
    this.#inlineSpent += ms;
    if (this.#inlineSpentReset) return;
    this.#inlineSpentReset = true;
    setImmediate(() => {
      this.#inlineSpentReset = false;
      this.#inlineSpent = 0;
    });
  }

  /**
   * Resolves in this turn's check phase (after every socket that was ready
   * has been read): true when the request that asked is the only execution
   * in flight, so the main thread has nothing else to do meanwhile. When
   * requests overlap, the main thread's time is worth more serving HTTP and
   * dispatching, and the workers run them in parallel: measured over HTTP
   * on 2 cores, running one request per turn inline regardless cut the
   * runner's closed-loop throughput by ~14% and halved the open-loop load
   * it held with p99 < 10 ms.
   */
  #inlineTurn(): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.#batch) {
        const batch: Array<(inline: boolean) => void> = [];
        this.#batch = batch;
        setImmediate(() => {
          this.#batch = undefined;
          const alone = batch.length === 1 && this.#inFlight === 1;
          for (const settle of batch) settle(alone);
        });
      }
      this.#batch.push(resolve);
    });
  }

  async close(): Promise<void> {
    await this.#pool.close();
    this.#loader.clear();
  }
}
