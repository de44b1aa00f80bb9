/**
 * Node flags the runner process is started with: by `deploy/docker/runner.Dockerfile`,
 * by `scripts/lib/platform.ts` (`npm start`), by the benchmark, and by `main.ts`'s
 * shebang when it is run as a program. `node-flags.test.ts` keeps them in step.
 *
 * `--max-semi-space-size=16` caps the main thread's young generation, as each
 * worker's is capped, so the runner's memory does not grow with load
 * (docs/perf/017-main-thread-semi-space.md). Only the command line (or
 * NODE_OPTIONS) can set it: V8 sizes the main isolate's heap when it starts.
 */
export const RUNNER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/** Whether this process was started with a young-generation cap (on its command line or in NODE_OPTIONS). */
export function youngGenerationCapped(execArgv: readonly string[], nodeOptions = ''): boolean {
  const flags = [...execArgv, ...nodeOptions.split(/\s+/)];
  return flags.some((flag) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(flag));
}
