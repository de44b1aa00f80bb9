/**
 * The HTTP rows side by side: workerd, the runner's `/v1/execute` and the
 * gateway in front of a runner, each a closed loop of the same concurrency,
 * taking turns in rounds (the method of rounds.ts and docs/perf/031: every
 * row gets the same mix of fast and slow machine periods; the rows not
 * measuring are stopped with SIGSTOP). Besides req/s and latency, each row
 * reports the CPU time its server processes spent per request (every
 * thread, read from /proc by the load generator at the edges of its
 * measured window), which a shared machine disturbs far less than wall time.
 */
import { closedLoop, type LoadResult, type LoadTarget } from './load.ts';
import { summarize, type Summary } from './stats.ts';

export interface HttpRow {
  name: string;
  /** The processes serving the row (their CPU is counted, and they are stopped while others measure). */
  pids: number[];
  target: LoadTarget;
}

export interface HttpRowResult {
  name: string;
  /** Pooled latencies of every round's measured window. */
  latency: Summary;
  /** Requests per second over the measured windows. */
  rps: number;
  /** Process CPU time per request, ms (all the row's processes, every thread). */
  cpuMsPerRequest: number;
  requests: number;
  errors: number;
  /** Each round's req/s and CPU ms per request, to show the spread. */
  rounds: Array<{ rps: number; cpuMsPerRequest: number }>;
}

export interface HttpRoundsOptions {
  rounds: number;
  concurrency: number;
  /** Measured window per row per round. */
  sliceMs: number;
  /** Unmeasured load right before each window. */
  rewarmMs: number;
}

function signal(pids: number[], name: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of pids) process.kill(pid, name);
}

export async function measureHttpRounds(
  rows: HttpRow[],
  options: HttpRoundsOptions,
  log: (message: string) => void,
): Promise<HttpRowResult[]> {
  const runs = rows.map(() => [] as LoadResult[]);
  try {
    for (let round = 0; round < options.rounds; round++) {
      for (const [i, row] of rows.entries()) {
        for (const other of rows) if (other !== row) signal(other.pids, 'SIGSTOP');
        signal(row.pids, 'SIGCONT');
        const result = await closedLoop(row.target, options.concurrency, options.sliceMs, {
          warmupMs: options.rewarmMs,
          cpuPids: row.pids,
          keepSamples: true,
        });
        if (result.errors) throw new Error(`${row.name}: ${result.errors} errors ${JSON.stringify(result.statuses)}`);
        runs[i]!.push(result);
      }
      log(
        `HTTP round ${round + 1}/${options.rounds}: ` +
          rows
            .map((row, i) => {
              const last = runs[i]!.at(-1)!;
              // A row of several processes also shows its first one's share (a gateway row's server), for A/B of one side.
              const first = row.pids.length > 1 ? ` (first process ${(last.cpuMsByPid![0]! / last.n).toFixed(3)})` : '';
              return `${row.name} ${last.achievedRps.toFixed(0)} req/s, ${(last.cpuMs! / last.n).toFixed(3)} ms CPU/req${first}`;
            })
            .join('; '),
      );
    }
  } finally {
    for (const row of rows) signal(row.pids, 'SIGCONT');
  }
  return rows.map((row, i) => {
    const results = runs[i]!;
    const requests = results.reduce((sum, r) => sum + r.n, 0);
    const elapsedMs = results.reduce((sum, r) => sum + r.elapsedMs!, 0);
    const cpuMs = results.reduce((sum, r) => sum + r.cpuMs!, 0);
    return {
      name: row.name,
      latency: summarize(results.flatMap((r) => r.samples!)),
      rps: (requests / elapsedMs) * 1000,
      cpuMsPerRequest: cpuMs / requests,
      requests,
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      rounds: results.map((r) => ({ rps: r.achievedRps, cpuMsPerRequest: r.cpuMs! / r.n })),
    };
  });
}
