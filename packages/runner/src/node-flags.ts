/**
 * Node flags the runner process is started with: by `deploy/docker/runner.Dockerfile`,
 * by `scripts/lib/platform.ts` (`npm start`), by the benchmark, and by `main.ts`'s
 * shebang when it is run as a program. `node-flags.test.ts` keeps them in step.
 *
 * `--max-semi-space-size=16` caps the main thread's young generation at ~48 MB
 * (three 16 MB semi-spaces), as `engine/pool.ts` caps each worker's. The main
 * thread runs most requests itself (`engine/inline.ts`), and left alone V8 grew
 * its young generation to ~134 MB under that allocation rate, tens of thousands
 * of requests in. Measured side by side on the benchmark's handler (2 alternating
 * runs each), the cap took the runner from ~690 to ~550–590 MB of RSS, its growth
 * from 10k to 100k requests from 5–8% to 3–7%, and the open-loop p99 at
 * 1,000 req/s from 6–29 ms to 6–21 ms (median of 8 steps 16 → 9 ms). Only the command line
 * (or NODE_OPTIONS) can set it: V8 sizes the main isolate's heap when it starts.
 */
export const RUNNER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** Whether this process was started with a young-generation cap (on its command line or in NODE_OPTIONS). */
export function youngGenerationCapped(execArgv: readonly string[], nodeOptions = ''): boolean {
  const flags = [...execArgv, ...nodeOptions.split(/\s+/)];
  return flags.some((flag) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(flag));
}
