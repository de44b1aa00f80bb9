/**
 * The execution engine: bundle → compiled component (cached) → a fresh
 * instance in a pooled worker, with the granted providers answering its
 * imports through a per-execution scope.
 */
import type { FastifyBaseLogger } from 'fastify';
import { AlgaError, type ExecuteRequest, type ExecuteResponse } from '@alga-psa/protocol';
import type { BundleStore } from '@alga-psa/bundle-store';
import { createDispatcher, type Provider } from '../providers/index.ts';
import { maskSecrets } from '../redact.ts';
import { createScope } from '../scope.ts';
import { toExecuteResponse, toWitRequest } from './convert.ts';
import { ComponentLoader } from './loader.ts';
import { ExecutionFailure, WorkerPool } from './pool.ts';

export { ComponentLoader, compileComponent, type LoadedComponent } from './loader.ts';
export { WorkerPool, ExecutionFailure, type PoolJob, type WorkerPoolOptions } from './pool.ts';

export interface EngineOptions {
  bundleStore: BundleStore;
  providers: readonly Provider[];
  workers: number;
  queueLimit: number;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  maxCachedComponents?: number;
  logger: FastifyBaseLogger;
}

export class Engine {
  readonly #options: EngineOptions;
  readonly #loader: ComponentLoader;
  readonly #pool: WorkerPool;
  readonly #dispatch: ReturnType<typeof createDispatcher>;

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#dispatch = createDispatcher(options.providers);
    this.#pool = new WorkerPool({ size: options.workers, queueLimit: options.queueLimit, logger: options.logger });
    this.#loader = new ComponentLoader({
      bundleStore: options.bundleStore,
      ...(options.maxCachedComponents === undefined ? {} : { maxEntries: options.maxCachedComponents }),
      onEvict: (contentHash) => this.#pool.forget(contentHash),
    });
  }

  get stats(): WorkerPool['stats'] {
    return this.#pool.stats;
  }

  timeoutFor(request: ExecuteRequest): number {
    const requested = request.limits?.timeout_ms ?? this.#options.defaultTimeoutMs;
    return Math.min(requested, this.#options.maxTimeoutMs);
  }

  async execute(request: ExecuteRequest, logger: FastifyBaseLogger): Promise<ExecuteResponse> {
    const component = await this.#loader.load(request.context.content_hash);
    const { scope, close } = createScope(request, logger);
    const timeoutMs = this.timeoutFor(request);
    try {
      const response = await this.#pool.run({
        component,
        request: toWitRequest(request),
        timeoutMs,
        onHostCall: (call) => this.#dispatch(scope, call.iface, call.fn, call.args),
        redact: (text) => maskSecrets(text, scope.secretValues),
      });
      return toExecuteResponse(response);
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
      throw error;
    } finally {
      close();
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
    this.#loader.clear();
  }
}
