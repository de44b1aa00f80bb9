/**
 * Section 2a of the bench: workerd, the runner and gateway + runner in the
 * same interleaved rounds (http-rounds.ts), each with the realistic handler.
 * Also run alone by `node bench/http.ts`, for profiling and before/after
 * comparisons of the request path (docs/perf/034-request-path.md).
 */
import { warmUp } from './load.ts';
import { measureHttpRounds, type HttpRoundsOptions, type HttpRowResult } from './http-rounds.ts';
import { benchPlatform, benchRunner } from './services.ts';
import { startWorkerd } from './workerd.ts';

export const WORKERD_ROW = 'workerd';
export const RUNNER_ROW = 'runner /v1/execute';
export const GATEWAY_ROW = 'gateway → runner';

export interface SideBySide extends HttpRoundsOptions {
  rows: HttpRowResult[];
}

export async function sideBySide(
  component: Uint8Array,
  options: HttpRoundsOptions & { warmMs: number },
  log: (message: string) => void,
): Promise<SideBySide> {
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const workerd = await startWorkerd();
    stops.push(() => workerd.stop());
    const setup = await benchRunner(component, {});
    stops.push(() => setup.cleanUp());
    const runner = await setup.start('bench-runner-side-by-side');
    stops.push(() => runner.stop());
    await setup.prepare(runner.url);
    const gateway = await benchPlatform(1);
    stops.push(() => gateway.stop());
    const rows = [
      { name: WORKERD_ROW, pids: [workerd.pid], target: { origin: workerd.url, path: '/work' } },
      { name: RUNNER_ROW, pids: [runner.child.pid!], target: setup.target(setup.request, runner.url) },
      {
        name: GATEWAY_ROW,
        pids: [gateway.platform.server.child.pid!, ...gateway.platform.runners.map((r) => r.child.pid!)],
        target: gateway.target,
      },
    ];
    // For profiles (docs/perf/034-request-path.md): which process is which.
    log(
      `pids: workerd ${workerd.pid}, runner ${runner.child.pid}, gateway's server ${gateway.platform.server.child.pid}, ` +
        `gateway's runner ${gateway.platform.runners.map((r) => r.child.pid).join(', ')}`,
    );
    // Compile, fill caches and let V8 finish its optimizing compiles before anything is measured.
    for (const row of rows) {
      await warmUp(row.target, options.concurrency, options.warmMs, row.name);
    }
    return { ...options, rows: await measureHttpRounds(rows, options, log) };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}
