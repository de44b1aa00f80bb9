/** Summary of a set of per-request durations (milliseconds). */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  /** Requests per second of one thread doing nothing else (1000 / mean). */
  rps: number;
  /**
   * When the samples were taken in interleaved rounds (rounds.ts): the
   * median over the rounds of each round's p99/p50, the tail within one
   * stretch of machine conditions rather than across them.
   */
  roundTail?: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), mean, rps: 1000 / mean };
}

/**
 * Unmeasured runs before a measurement: at least `runs` of them, for at
 * least `ms`. The time bound matters for wasm engines: V8 optimizes the
 * functions a first call used on background threads, and until that is
 * done it competes with the measured runs for the cores.
 */
export interface Warmup {
  runs: number;
  ms: number;
}

/** Runs `fn` unmeasured, at least `runs` times and for at least `ms`. */
export async function warmUp(warmup: Warmup, fn: () => unknown | Promise<unknown>): Promise<void> {
  const warmUntil = performance.now() + warmup.ms;
  for (let i = 0; i < warmup.runs || performance.now() < warmUntil; i++) await fn();
}

/** Runs `fn` as `warmup` says, unmeasured, then `n` times measured. */
export async function measure(n: number, warmup: Warmup, fn: () => unknown | Promise<unknown>): Promise<Summary> {
  await warmUp(warmup, fn);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

export const round = (x: number, digits = 3) => Number(x.toFixed(digits));
