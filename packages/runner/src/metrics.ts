/**
 * The runner's Prometheus metrics, on a Registry of its own (so two runners
 * in one process, as in tests, never share counters). Labels carry outcomes
 * and error codes only: never a tenant, install, extension, key or value.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SecretsMetrics } from './providers/secrets/index.ts';
import type { InstanceStats, PoolEvents } from './engine/pool.ts';
import type { InlineStats } from './engine/inline.ts';

export interface ExecutionMetrics {
  /** `outcome` is `ok` or the error code the execution ended with. */
  executed(outcome: string, seconds: number): void;
}

export class RunnerMetrics implements ExecutionMetrics, SecretsMetrics, PoolEvents {
  readonly registry = new Registry();
  readonly #executions: Counter<'outcome'>;
  readonly #duration: Histogram<'outcome'>;
  readonly #cacheLookups: Counter<'result'>;
  readonly #decrypts: Counter<'result'>;
  readonly #limitKills: Counter<'kind'>;
  readonly #workerRestarts: Counter<'reason'>;

  constructor(engine: () => { queued: number; instances: InstanceStats; inline?: InlineStats }) {
    const registers = [this.registry];
    this.#executions = new Counter({
      name: 'alga_runner_executions_total',
      help: 'Executions by outcome (ok, or the error code).',
      labelNames: ['outcome'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'alga_runner_execution_duration_seconds',
      help: 'Execution time from accepted request to answer, queueing included.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#cacheLookups = new Counter({
      name: 'alga_runner_secret_cache_lookups_total',
      help:
        'Secret cache lookups, by result (hit, miss). A value handed to a worker with its request ' +
        '(already decrypted, read without a bridge call) counts as one hit.',
      labelNames: ['result'],
      registers,
    });
    this.#decrypts = new Counter({
      name: 'alga_runner_secret_decrypts_total',
      help: 'Calls to the transit backend to decrypt a secret, by result (ok, error).',
      labelNames: ['result'],
      registers,
    });
    this.#limitKills = new Counter({
      name: 'alga_runner_limit_kills_total',
      help: 'Executions stopped for breaching a limit, by kind (timeout, memory).',
      labelNames: ['kind'],
      registers,
    });
    this.#workerRestarts = new Counter({
      name: 'alga_runner_worker_restarts_total',
      help: 'Workers replaced, by reason (timeout, memory, crash).',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'alga_runner_queue_depth',
      help: 'Executions waiting for a worker.',
      registers,
      collect() {
        this.set(engine().queued);
      },
    });
    // The pool counts these already; a counter read at scrape time mirrors them.
    new Counter({
      name: 'alga_runner_instance_events_total',
      help:
        'What became of component instances: restored, memory-grew, table-changed, global-unwritable, ' +
        'failed, retired, resources-left (a timer still pending; after their request), warmed-up and ' +
        'warm-up-refused (before their snapshot).',
      labelNames: ['event'],
      registers,
      collect() {
        // Restored pages are a size, not an event.
        const { dirtyBlocks: _blocks, warmedUp, warmUpRefused, ...after } = engine().instances;
        this.reset();
        for (const [event, count] of Object.entries({
          ...after,
          'warmed-up': warmedUp,
          'warm-up-refused': warmUpRefused,
        }))
          this.inc({ event }, count);
      },
    });
    new Counter({
      name: 'alga_runner_inline_executions_total',
      help:
        'Requests the runner tried on its own thread instead of a worker (RUNNER_INLINE_FUEL), by result: ' +
        'ok, or why it went to a worker instead (host-call, timer, fuel, failed).',
      labelNames: ['result'],
      registers,
      collect() {
        const inline = engine().inline;
        this.reset();
        if (!inline) return;
        this.inc({ result: 'ok' }, inline.runs);
        for (const [result, count] of Object.entries(inline.declined)) this.inc({ result }, count);
      },
    });
    new Counter({
      name: 'alga_runner_inline_demotions_total',
      help: 'Compiled components sent to workers for good after running out of fuel or declining repeatedly.',
      registers,
      collect() {
        this.reset();
        this.inc(engine().inline?.demoted ?? 0);
      },
    });
  }

  executed(outcome: string, seconds: number): void {
    this.#executions.inc({ outcome });
    this.#duration.observe({ outcome }, seconds);
  }
  cacheLookup(hit: boolean): void {
    this.#cacheLookups.inc({ result: hit ? 'hit' : 'miss' });
  }
  decrypt(ok: boolean): void {
    this.#decrypts.inc({ result: ok ? 'ok' : 'error' });
  }
  limitKill(kind: 'timeout' | 'memory'): void {
    this.#limitKills.inc({ kind });
  }
  workerRestart(reason: 'timeout' | 'memory' | 'crash'): void {
    this.#workerRestarts.inc({ reason });
  }
}
