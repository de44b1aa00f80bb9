/**
 * Section 2a of the bench: workerd, the runner and gateway + runner in the
 * same interleaved rounds (http-rounds.ts), each with the realistic handler.
 * Also run alone by `node bench/http.ts`, for profiling and before/after
 * comparisons of the request path (docs/perf/034-request-path.md).
 */
import { startOtlpReceiver } from '@alga-psa/protocol/testing';
import { warmUp } from './load.ts';
import { measureHttpRounds, type HttpRoundsOptions, type HttpRowResult } from './http-rounds.ts';
import { benchPlatform, benchRunner } from './services.ts';
import { startWorkerd } from './workerd.ts';

export const WORKERD_ROW = 'workerd';
export const RUNNER_ROW = 'runner /v1/execute';
export const GATEWAY_ROW = 'gateway → runner';
/** Suffix of the rows served from another checkout (`baseline`): a before/after in the same rounds. */
export const BASELINE_SUFFIX = ' (baseline)';
/** The same platform with tracing on, every span exported (OTLP/HTTP JSON) to a sink in this process. */
export const TRACED_GATEWAY_ROW = 'gateway → runner, tracing on';
/**
 * Unmeasured load per row before the rounds: V8 is still optimizing the server's
 * code for ~10 s of load, and 3 s left the first rounds ~25% above the rest
 * (docs/perf/042-on-cpu-profiles.md).
 */
export const HTTP_WARM_MS = 12_000;

export interface SideBySide extends HttpRoundsOptions {
  rows: HttpRowResult[];
}

export async function sideBySide(
  component: Uint8Array,
  options: HttpRoundsOptions & {
    warmMs: number;
    /** Another checkout (e.g. main before a change): its runner and gateway get rows of their own, same rounds. */
    baseline?: string | undefined;
  },
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
    // Tracing off vs on (docs/perf/035-tracing.md): the row above runs with it off, the default.
    const sink = await startOtlpReceiver({ keep: false });
    stops.push(() => sink.close());
    const traced = await benchPlatform(1, undefined, {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
    });
    stops.push(() => traced.stop());
    const gatewayRow = (name: string, platform: typeof gateway) => ({
      name,
      pids: [platform.platform.server.child.pid!, ...platform.platform.runners.map((r) => r.child.pid!)],
      target: platform.target,
    });
    const rows = [
      { name: WORKERD_ROW, pids: [workerd.pid], target: { origin: workerd.url, path: '/work' } },
      { name: RUNNER_ROW, pids: [runner.child.pid!], target: setup.target(setup.request, runner.url) },
      gatewayRow(GATEWAY_ROW, gateway),
      gatewayRow(TRACED_GATEWAY_ROW, traced),
    ];
    if (options.baseline) {
      const baseRunner = await setup.start('bench-runner-baseline', options.baseline);
      stops.push(() => baseRunner.stop());
      await setup.prepare(baseRunner.url);
      const baseGateway = await benchPlatform(1, options.baseline);
      stops.push(() => baseGateway.stop());
      rows.push(
        {
          name: RUNNER_ROW + BASELINE_SUFFIX,
          pids: [baseRunner.child.pid!],
          target: setup.target(setup.request, baseRunner.url),
        },
        gatewayRow(GATEWAY_ROW + BASELINE_SUFFIX, baseGateway),
      );
      log(
        `baseline pids: runner ${baseRunner.child.pid}, gateway's server ${baseGateway.platform.server.child.pid}, ` +
          `gateway's runner ${baseGateway.platform.runners.map((r) => r.child.pid).join(', ')}`,
      );
    }
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
