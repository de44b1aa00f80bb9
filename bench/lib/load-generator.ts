/**
 * The load generator's own process (started by load.ts, one per load run).
 *
 * Why a process of its own: latencies are measured from when a request was
 * scheduled, so every pause of the generator counts against the server. In
 * the bench's main process, which has loaded the build toolchain and keeps
 * every service's output, young-generation GC pauses of 10–20 ms every few
 * seconds showed up as the server's p99. Here the heap holds little more
 * than undici and one preallocated array of samples.
 *
 * Protocol (IPC): the parent sends one `LoadJob`, then may send `{ headers }`
 * to replace the request headers (fresh service tokens on long runs); the
 * child answers with one `LoadResult` (or `{ error }`) and exits.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { summarize } from './stats.ts';
import type { LoadJob, LoadResult, StaticTarget } from './load.ts';

class Run {
  readonly #pool: Pool;
  readonly #target: StaticTarget;
  #samples: Float64Array;
  #count = 0;
  #statuses: Record<string, number> = {};
  #started = performance.now();
  #errors = 0;

  constructor(target: StaticTarget, connections: number, expected: number) {
    this.#target = target;
    this.#pool = new Pool(target.origin, { connections, pipelining: 1, keepAliveTimeout: 10_000 });
    this.#samples = new Float64Array(Math.max(16, expected));
  }

  setHeaders(headers: Record<string, string>): void {
    this.#target.headers = headers;
  }

  /** One request; its latency counts from `since` (the send time, or the scheduled time). */
  async send(since = performance.now()): Promise<void> {
    const target = this.#target;
    try {
      const response = await this.#pool.request({
        path: target.path,
        method: target.method ?? 'GET',
        headers: target.headers,
        body: target.body,
      });
      await response.body.dump();
      this.#statuses[response.statusCode] = (this.#statuses[response.statusCode] ?? 0) + 1;
      if (response.statusCode >= 400) this.#errors++;
    } catch {
      this.#errors++;
      this.#statuses.error = (this.#statuses.error ?? 0) + 1;
    }
    this.#record(performance.now() - since);
  }

  #record(ms: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
  }

  /** Forgets what was measured so far (after an unmeasured warm-up); the window starts now. */
  restart(): void {
    this.#count = 0;
    this.#errors = 0;
    this.#statuses = {};
    this.#started = performance.now();
  }

  async finish(offeredRps: number, keepSamples = false): Promise<LoadResult> {
    const elapsed = performance.now() - this.#started;
    await this.#pool.close();
    const samples = Array.from(this.#samples.subarray(0, this.#count));
    return {
      ...summarize(samples),
      offeredRps,
      achievedRps: (this.#count / elapsed) * 1000,
      errors: this.#errors,
      statuses: this.#statuses,
      elapsedMs: elapsed,
      ...(keepSamples ? { samples } : {}),
    };
  }
}

const TICK_MS = 1000 / 100; // USER_HZ: 100 on Linux

/**
 * CPU time (user + system, every thread, ms) of processes, from
 * /proc/<pid>/stat: fields 14 and 15 after the `(comm)` field, in clock ticks.
 */
function cpuTimeMs(pids: number[]): number[] {
  return pids.map((pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  });
}

/**
 * Open loop: request i is due at start + i/rate whatever happened to the
 * earlier ones, and its latency counts from then (no coordinated omission).
 */
async function openLoop(run: Run, offeredRps: number, durationMs: number): Promise<LoadResult> {
  const started = performance.now();
  const total = Math.max(1, Math.round((offeredRps * durationMs) / 1000));
  const interval = 1000 / offeredRps;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = started + i * interval;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // A request sent up to a timer tick early counts from when it was sent.
    inflight.push(run.send(Math.min(scheduled, performance.now())));
  }
  await Promise.all(inflight);
  return run.finish(offeredRps);
}

/** `concurrency` clients back to back while `more()` says so. */
async function clients(run: Run, concurrency: number, more: () => boolean): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) await run.send();
    }),
  );
}

async function closed(run: Run, concurrency: number, more: () => boolean): Promise<LoadResult> {
  await clients(run, concurrency, more);
  return run.finish(0);
}

function execute(job: LoadJob): Promise<LoadResult> {
  const { plan } = job;
  switch (plan.mode) {
    case 'open': {
      const run = new Run(job.target, 64, Math.round((plan.offeredRps * plan.durationMs) / 1000));
      current = run;
      return openLoop(run, plan.offeredRps, plan.durationMs);
    }
    case 'closed': {
      const run = new Run(job.target, plan.concurrency, 4096);
      current = run;
      return (async () => {
        if (plan.warmupMs) {
          const warmUntil = performance.now() + plan.warmupMs;
          await clients(run, plan.concurrency, () => performance.now() < warmUntil);
        }
        return measuredClosedLoop(run, plan);
      })();
    }
    case 'count': {
      const run = new Run(job.target, plan.concurrency, plan.count);
      current = run;
      let issued = 0;
      return closed(run, plan.concurrency, () => issued++ < plan.count);
    }
  }
}

/**
 * The measured window of a closed loop: the server processes' CPU time is
 * read at its start and after its last response, so what the generator does
 * before (starting up, warming up) is not counted against the server.
 */
async function measuredClosedLoop(run: Run, plan: Extract<LoadJob['plan'], { mode: 'closed' }>): Promise<LoadResult> {
  run.restart();
  const cpuBefore = plan.cpuPids ? cpuTimeMs(plan.cpuPids) : [];
  const deadline = performance.now() + plan.durationMs;
  await clients(run, plan.concurrency, () => performance.now() < deadline);
  const cpuMsByPid = plan.cpuPids ? cpuTimeMs(plan.cpuPids).map((ms, i) => ms - cpuBefore[i]!) : undefined;
  const result = await run.finish(0, plan.keepSamples);
  return cpuMsByPid === undefined
    ? result
    : { ...result, cpuMs: cpuMsByPid.reduce((sum, ms) => sum + ms, 0), cpuMsByPid };
}

let current: Run | undefined;
let started = false;

process.on('message', (message: LoadJob | { headers: Record<string, string> }) => {
  if (!('plan' in message)) {
    current?.setHeaders(message.headers);
    return;
  }
  if (started) return;
  started = true;
  execute(message).then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (error: Error) => process.send!({ error: error.stack ?? String(error) }, () => process.exit(1)),
  );
});
// The parent went away: nothing to report to.
process.on('disconnect', () => process.exit(1));
