/**
 * Interleaved measurement: every engine row runs in a process of its own,
 * and all of them are measured in turns, a slice each per round, instead of
 * one row after the other.
 *
 * Why: on the shared 2-vCPU machines we benchmark on, the same code runs up
 * to 2× slower for seconds at a time (another tenant on the host), and two
 * rows measured a minute apart could land in different such periods. Taking
 * every row's samples from the same rounds gives each row the same mix of
 * fast and slow periods, so their ratios hold. While one row measures its
 * slice, the parent stops the other rows' processes (SIGSTOP): idle, V8 still
 * runs their background work (memory-reducing GCs, finishing compiles) on the
 * same cores, and that showed up in the measured row's p99.
 *
 * The protocol is line-based over the child's stdin and stdout: the child
 * warms up and says `ready`; each `round` line makes it measure its next
 * slice (after a short unmeasured re-warm, since its caches went cold while
 * other rows ran) and answer `ran`; `done` makes it finish the row and print
 * the row's JSON, prefixed `row `.
 */
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { summarize, warmUp, type Summary, type Warmup } from './stats.ts';

export const ROUNDS_ENV = 'BENCH_ROUNDS';

/** Unmeasured runs before each slice: at least this many, for at least this long. */
const REWARM = { runs: 20, ms: 100 };

/** The child's side: `measure` from stats.ts, with the samples taken in the rounds the parent calls. */
export async function measureInRounds(
  n: number,
  warmup: Warmup,
  fn: () => unknown | Promise<unknown>,
  rounds: number,
): Promise<Summary> {
  await warmUp(warmup, fn);
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  process.stdout.write('ready\n');
  const samples: number[] = [];
  const tails: number[] = [];
  for (let round = 0; ; round++) {
    const { value: command, done } = await lines.next();
    if (done || command === 'done') break;
    const slice = Math.ceil((n * (round + 1)) / rounds) - Math.ceil((n * round) / rounds);
    // Unmeasured first: this process sat idle while the other rows ran, and its caches went cold.
    await warmUp({ runs: Math.max(REWARM.runs, slice / 5), ms: REWARM.ms }, fn);
    const start = samples.length;
    for (let i = 0; i < slice; i++) {
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
    const { p50, p99 } = summarize(samples.slice(start));
    tails.push(p99 / p50);
    process.stdout.write('ran\n');
  }
  return { ...summarize(samples), roundTail: summarize(tails).p50 };
}

/** The parent's side of one child: send a line, await the child's next line. */
export class RoundClient {
  readonly #child: ChildProcess;
  readonly #lines: AsyncIterator<string>;

  constructor(child: ChildProcess) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  /** The child's next line; throws when it exited first. */
  async next(label: string): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`${label} exited before answering; its output is above.`);
    return value;
  }

  async send(line: string, label: string): Promise<string> {
    this.#child.stdin!.write(`${line}\n`);
    return this.next(label);
  }
}
