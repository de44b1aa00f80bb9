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

/**
 * Open-loop load at a fixed offered rate. Latency is measured from when a
 * request was *scheduled*, not sent, so a stalled server shows up in the
 * percentiles instead of silently lowering the rate (coordinated omission).
 */
export async function openLoop(target: LoadTarget, offeredRps: number, durationMs: number): Promise<LoadResult> {
  const pool = new Pool(target.origin, { connections: 64, pipelining: 1, keepAliveTimeout: 10_000 });
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const total = Math.max(1, Math.round((offeredRps * durationMs) / 1000));
  const interval = 1000 / offeredRps;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = started + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        try {
          const headers = typeof target.headers === 'function' ? await target.headers() : target.headers;
          const response = await pool.request({
            origin: target.origin,
            path: target.path,
            method: target.method ?? 'GET',
            headers,
            body: target.body,
          });
          await response.body.arrayBuffer();
          statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
          if (response.statusCode >= 400) errors++;
        } catch {
          errors++;
          statuses.error = (statuses.error ?? 0) + 1;
        }
        samples.push(performance.now() - scheduled);
      })(),
    );
  }
  await Promise.all(inflight);
  const elapsed = performance.now() - started;
  await pool.close();
  return { ...summarize(samples), offeredRps, achievedRps: (samples.length / elapsed) * 1000, errors, statuses };
}

/** Closed loop: `concurrency` clients back to back for `durationMs`; measures capacity. */
export async function closedLoop(target: LoadTarget, concurrency: number, durationMs: number): Promise<LoadResult> {
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          const headers = typeof target.headers === 'function' ? await target.headers() : target.headers;
          const response = await pool.request({
            origin: target.origin,
            path: target.path,
            method: target.method ?? 'GET',
            headers,
            body: target.body,
          });
          await response.body.arrayBuffer();
          statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
          if (response.statusCode >= 400) errors++;
        } catch {
          errors++;
        }
        samples.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await pool.close();
  const summary = summarize(samples);
  return { ...summary, offeredRps: 0, achievedRps: (samples.length / elapsed) * 1000, errors, statuses };
}

/**
 * Closed loop until `count` requests completed (not a duration): for the
 * stability run, which compares the runner after fixed request counts.
 */
export async function closedLoopCount(target: LoadTarget, concurrency: number, count: number): Promise<LoadResult> {
  const pool = new Pool(target.origin, { connections: concurrency, pipelining: 1 });
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < count) {
        issued++;
        const t = performance.now();
        try {
          const headers = typeof target.headers === 'function' ? await target.headers() : target.headers;
          const response = await pool.request({
            origin: target.origin,
            path: target.path,
            method: target.method ?? 'GET',
            headers,
            body: target.body,
          });
          await response.body.arrayBuffer();
          statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
          if (response.statusCode >= 400) errors++;
        } catch {
          errors++;
        }
        samples.push(performance.now() - t);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await pool.close();
  return { ...summarize(samples), offeredRps: 0, achievedRps: (samples.length / elapsed) * 1000, errors, statuses };
}
