/**
 * Where a request runs: on the main thread (inline.ts) when it qualifies and
 * nothing else is in flight, else in the worker pool. Overlapping requests
 * always go to the workers, which run them in parallel while the main thread
 * serves HTTP and dispatches (running one per turn inline regardless cost
 * throughput; docs/perf/011-inline-scheduling.md).
 *
 * The main thread's inline work is budgeted per turn of its event loop
 * (`INLINE_MS_PER_TURN`): a caller that issues requests one after another
 * from its own code (an embedding, the benchmark) does not pay an event-loop
 * turn per request, and other events never wait longer than the budget.
 */
import type { HostCall } from './messages.ts';
import type { WitExecuteResponse } from './convert.ts';
import type { InlineJob, InlineRunner } from './inline.ts';
import type { PoolJob, WorkerPool } from './pool.ts';
import { errors } from '../errors.ts';

/** Inline work the main thread may do between two turns of its event loop, in ms (~3 typical requests). */
const INLINE_MS_PER_TURN = 1;

export interface SchedulerOptions {
  pool: WorkerPool;
  /** Absent when inline execution is off. */
  inline?: InlineRunner | undefined;
  /** A request left the inline path with no deadline left. */
  onTimeout?: () => void;
}

export interface ScheduledJob extends PoolJob {
  local: InlineJob['local'];
  /** Handles the one-way calls an inline run held back, in order, before its result. */
  notify(call: HostCall): void;
}

export class Scheduler {
  readonly #options: SchedulerOptions;
  /** Executions between `admit` and their release, wherever they are (loading, queued, in a worker). */
  #inFlight = 0;
  /** Requests waiting for this turn's check phase, where one of them may run inline (`#inlineTurn`). */
  #batch: Array<(inline: boolean) => void> | undefined;
  /** Milliseconds of inline runs since the event loop last reached its check phase. */
  #inlineSpent = 0;
  #inlineSpentReset = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  /** Counts an execution in flight, from its arrival (before loading) until `release`. */
  admit(): void {
    this.#inFlight++;
  }

  release(): void {
    this.#inFlight--;
  }

  /** Runs a job inline when it qualifies and nothing else is in flight, else (or when the inline run declines) in a worker. */
  async run(job: ScheduledJob): Promise<WitExecuteResponse> {
    const inline = this.#options.inline;
    if (inline && inline.accepts(job) && (this.#inlineNow() || (await this.#inlineTurn()))) {
      const started = performance.now();
      // A glue that fails to load here is the worker's to load again and report.
      const result = await inline.run(job).catch(() => undefined);
      this.#spentInline(performance.now() - started);
      if (result?.kind === 'done') {
        // Handled as a worker's would be: in order, before the result.
        for (const call of result.notified) job.notify(call);
        return result.response;
      }
      // The worker gets what is left of the deadline.
      const left = job.timeoutMs - (performance.now() - started);
      if (left <= 0) {
        this.#options.onTimeout?.();
        throw errors.timeout();
      }
      job = { ...job, timeoutMs: left };
    }
    return this.#options.pool.run(job);
  }

  /** The only execution in flight, and the thread has budget left this turn: run it now. */
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
   * in flight, so the main thread has nothing else to do meanwhile.
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
}
