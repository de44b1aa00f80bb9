import { Pool } from 'undici';
import { summarize, type Summary } from './stats.ts';

export interface LoadTarget {
  origin: string;
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  body?: string;
}

export interface LoadResult extends Summary {
  offeredRps: number;
  achievedRps: number;
  errors: number;
  statuses: Record<string, number>;
}

/** Sends requests for one load run and keeps its latencies and outcomes. */
class Run {
  readonly pool: Pool;
  readonly #target: LoadTarget;
  readonly #samples: number[] = [];
  readonly #statuses: Record<string, number> = {};
  readonly #started = performance.now();
  #errors = 0;

  constructor(target: LoadTarget, connections: number) {
    this.#target = target;
    this.pool = new Pool(target.origin, { connections, pipelining: 1, keepAliveTimeout: 10_000 });
  }

  /** One request; its latency counts from `since` (the send time, or the scheduled time). */
  async send(since = performance.now()): Promise<void> {
    const target = this.#target;
    try {
      const headers = typeof target.headers === 'function' ? await target.headers() : target.headers;
      const response = await this.pool.request({
        origin: target.origin,
        path: target.path,
        method: target.method ?? 'GET',
        headers,
        body: target.body,
      });
      await response.body.arrayBuffer();
      this.#statuses[response.statusCode] = (this.#statuses[response.statusCode] ?? 0) + 1;
      if (response.statusCode >= 400) this.#errors++;
    } catch {
      this.#errors++;
      this.#statuses.error = (this.#statuses.error ?? 0) + 1;
    }
    this.#samples.push(performance.now() - since);
  }

  async finish(offeredRps: number): Promise<LoadResult> {
    const elapsed = performance.now() - this.#started;
    await this.pool.close();
    return {
      ...summarize(this.#samples),
      offeredRps,
      achievedRps: (this.#samples.length / elapsed) * 1000,
      errors: this.#errors,
      statuses: this.#statuses,
    };
  }
}

/**
 * Open-loop load at a fixed offered rate. Latency is measured from when a
 * request was *scheduled*, not sent, so a stalled server shows up in the
 * percentiles instead of silently lowering the rate (coordinated omission).
 */
export async function openLoop(target: LoadTarget, offeredRps: number, durationMs: number): Promise<LoadResult> {
  const run = new Run(target, 64);
  const started = performance.now();
  const total = Math.max(1, Math.round((offeredRps * durationMs) / 1000));
  const interval = 1000 / offeredRps;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = started + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(run.send(scheduled));
  }
  await Promise.all(inflight);
  return run.finish(offeredRps);
}

/** `concurrency` clients back to back while `more()` says so. */
async function closed(target: LoadTarget, concurrency: number, more: () => boolean): Promise<LoadResult> {
  const run = new Run(target, concurrency);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) await run.send();
    }),
  );
  return run.finish(0);
}

/** Closed loop for `durationMs`; measures capacity. */
export function closedLoop(target: LoadTarget, concurrency: number, durationMs: number): Promise<LoadResult> {
  const deadline = performance.now() + durationMs;
  return closed(target, concurrency, () => performance.now() < deadline);
}

/**
 * Closed loop until `count` requests were issued (not a duration): for the
 * stability run, which compares the runner after fixed request counts.
 */
export function closedLoopCount(target: LoadTarget, concurrency: number, count: number): Promise<LoadResult> {
  let issued = 0;
  return closed(target, concurrency, () => issued++ < count);
}
