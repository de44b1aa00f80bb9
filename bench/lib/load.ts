/**
 * HTTP load for the bench: open loop at a fixed offered rate, closed loop
 * for a duration or a request count. Each run happens in a child process
 * of its own (load-generator.ts), so that this process's garbage
 * collections are not measured as the server's latency.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Summary } from './stats.ts';

type Headers = Record<string, string>;

export interface LoadTarget {
  origin: string;
  path: string;
  method?: 'GET' | 'POST';
  /** A function is called at the start and again every `HEADER_REFRESH_MS` of a run (short-lived tokens). */
  headers?: Headers | (() => Headers | Promise<Headers>);
  body?: string;
}

/** A target as sent to the generator: headers resolved. */
export interface StaticTarget extends Omit<LoadTarget, 'headers'> {
  headers?: Headers;
}

export type LoadPlan =
  | { mode: 'open'; offeredRps: number; durationMs: number }
  | {
      mode: 'closed';
      concurrency: number;
      durationMs: number;
      /** Unmeasured load first (the row's caches went cold while other rows ran). */
      warmupMs?: number;
      /** Processes whose CPU time (all threads) the generator reads at the start and end of the measured window. */
      cpuPids?: number[];
      /** Return every latency sample, for pooling over rounds. */
      keepSamples?: boolean;
    }
  | { mode: 'count'; concurrency: number; count: number };

export interface LoadJob {
  target: StaticTarget;
  plan: LoadPlan;
}

export interface LoadResult extends Summary {
  offeredRps: number;
  achievedRps: number;
  errors: number;
  statuses: Record<string, number>;
  /** CPU time of `cpuPids` over the measured window, ms (closed plan only). */
  cpuMs?: number;
  /** The same, per process, in the order of `cpuPids` (a gateway row: its server first, then its runners). */
  cpuMsByPid?: number[];
  /** Length of the measured window, ms. */
  elapsedMs?: number;
  samples?: number[];
}

const GENERATOR = fileURLToPath(new URL('./load-generator.ts', import.meta.url));
const HEADER_REFRESH_MS = 20_000;

async function resolveHeaders(target: LoadTarget): Promise<Headers | undefined> {
  return typeof target.headers === 'function' ? await target.headers() : target.headers;
}

/** Runs one plan in a fresh generator process and returns what it measured. */
export async function runLoad(target: LoadTarget, plan: LoadPlan): Promise<LoadResult> {
  const job: LoadJob = { target: { ...target, headers: await resolveHeaders(target) }, plan };
  const child = fork(GENERATOR, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const refresh =
    typeof target.headers === 'function'
      ? setInterval(() => {
          resolveHeaders(target).then(
            (headers) => child.connected && child.send({ headers }),
            () => {},
          );
        }, HEADER_REFRESH_MS)
      : undefined;
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      child.once('message', (message: { result?: LoadResult; error?: string }) => {
        if (message.result) resolve(message.result);
        else reject(new Error(`load generator failed: ${message.error}`));
      });
      child.once('exit', (code) => reject(new Error(`load generator exited with code ${code} before reporting`)));
      child.once('error', reject);
      child.send(job);
    });
  } finally {
    clearInterval(refresh);
    if (child.exitCode === null) child.kill();
  }
}

/**
 * Open-loop load at a fixed offered rate. Latency is measured from when a
 * request was *scheduled*, not sent, so a stalled server shows up in the
 * percentiles instead of silently lowering the rate (coordinated omission).
 */
export function openLoop(target: LoadTarget, offeredRps: number, durationMs: number): Promise<LoadResult> {
  return runLoad(target, { mode: 'open', offeredRps, durationMs });
}

/** Closed loop (`concurrency` clients back to back) for `durationMs`; measures capacity. */
export function closedLoop(
  target: LoadTarget,
  concurrency: number,
  durationMs: number,
  extra: Pick<Extract<LoadPlan, { mode: 'closed' }>, 'warmupMs' | 'cpuPids' | 'keepSamples'> = {},
): Promise<LoadResult> {
  return runLoad(target, { mode: 'closed', concurrency, durationMs, ...extra });
}

/**
 * Closed loop until `count` requests were issued (not a duration): for the
 * stability run, which compares the runner after fixed request counts.
 */
export function closedLoopCount(target: LoadTarget, concurrency: number, count: number): Promise<LoadResult> {
  return runLoad(target, { mode: 'count', concurrency, count });
}

/**
 * Unmeasured load until a whole window of it is answered without errors (at
 * most `attempts` windows). On a busy shared machine the first requests of a
 * new bundle can pass their deadline while it compiles; that is the cold
 * start section's subject, not something to fail a warm-up on.
 */
export async function warmUp(
  target: LoadTarget,
  concurrency: number,
  durationMs: number,
  label: string,
  attempts = 5,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const warm = await closedLoop(target, concurrency, durationMs);
    if (!warm.errors) return;
    if (attempt === attempts) throw new Error(`${label} warm-up failed: ${JSON.stringify(warm.statuses)}`);
  }
}
