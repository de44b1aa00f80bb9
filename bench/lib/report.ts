/** The benchmark's results as JSON, a markdown table and an SVG chart. */
import type { EngineRow } from '../engine.ts';
import type { LoadResult } from './load.ts';
import { GATEWAY_ROW, RUNNER_ROW, WORKERD_ROW, type SideBySide } from './side-by-side.ts';
import type { Summary } from './stats.ts';

export interface BenchResults {
  date: string;
  durationSeconds: number;
  machine: { cpu: string; cores: number; memoryGb: number; node: string; platform: string };
  quick: boolean;
  /** V8's wasm tiering of the in-process engine rows (`BENCH_WASM_TIERING`; runner processes always use `eager`). */
  wasmTiering: string;
  /** Interleaved rounds the engine rows were measured in (engine.ts `ENGINE_ROUNDS`). */
  engineRounds?: number;
  engine: EngineRow[];
  /** Section 2a: workerd, runner and gateway + runner in the same interleaved rounds, with CPU per request. */
  sideBySide: SideBySide;
  runnerHttp: { steps: LoadResult[]; heldUnder10ms: number; capacity: LoadResult };
  coldStart: Array<{
    /** First request with no preparation: transpile + compile + instantiate. */
    firstMs: number;
    secondMs: number;
    /** `POST /v1/prepare` (what the server sends on install/upgrade). */
    prepareMs: number;
    /** First request of another new version after that preparation. */
    preparedFirstMs: number;
  }>;
  /** The first request after its install's previous one was killed at its deadline (the worker replaced). */
  afterKill: {
    /** p50 of the same request, sequential, before any kill. */
    normalP50: number;
    /** One sample per kill, each a separate incident (the pool settled in between). */
    firstAfterKill: Summary & { max: number };
    timeoutMs: number;
  };
  /** The guest's clock: one `Date.now()` plus one `performance.now()`, and a request that reads them once. */
  clock: { perReadPairUs: number; p50OneRead: number };
  secrets: {
    perCachedGetMs: number;
    p50OneRead: number;
    p50ManyReads: number;
    decrypts: number;
    /** Summed over the runners whose decrypts are counted, each starting with an empty cache. */
    runSeconds: number;
    ttlMs: number;
    maxExpected: number;
  };
  stability: {
    afterFirst: { requests: number; rssKb: number };
    afterLast: { requests: number; rssKb: number };
    /** One sample after every `afterFirst.requests` requests, up to `afterLast`. */
    samples: Array<{ requests: number; rssKb: number }>;
    errors: number;
    growth: number;
    /** The RSS of the runner of sections 2, 4 and 5 at their end (seven bundle versions compiled). */
    afterSectionsRssKb: number;
  };
  gateway: { steps: LoadResult[]; heldUnder10ms: number; capacity: LoadResult };
  scaling: { one: LoadResult; two: LoadResult; ratio: number };
}

const ms = (x: number) => x.toFixed(x < 1 ? 3 : 2);
const ratio = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)}×`;
const mb = (bytes?: number) =>
  bytes === undefined ? '–' : `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 1)}`;

function row(results: BenchResults, prefix: string, exact = false): EngineRow {
  const found = results.engine.find((r) => (exact ? r.engine === prefix : r.engine.startsWith(prefix)));
  if (!found) throw new Error(`no engine row ${prefix}`);
  return found;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

export function targets(results: BenchResults): Target[] {
  const naive = row(results, 'jco, fresh instance');
  const ivm = row(results, 'isolated-vm');
  // The runner's defaults (quick requests inline); the workers-only rows are settings, reported beside it.
  const ours = row(results, 'runner engine, reset mode', true);
  const workers = row(results, 'runner engine, reset mode, workers only', true);
  const polled = row(results, 'runner engine, reset mode, workers only, busy poll');
  const inThread = row(results, 'jco, reset-in-place');
  const coldWorst = Math.max(...results.coldStart.map((c) => c.preparedFirstMs));
  const gatewayShare = results.gateway.capacity.achievedRps / results.runnerHttp.capacity.achievedRps;
  return [
    {
      target: 'Engine: fresh state ≥ 5× naive throughput',
      measured:
        `runner engine ${ratio(ours.summary.rps / naive.summary.rps)}, ` +
        `reset core in-thread ${ratio(inThread.summary.rps / naive.summary.rps)}`,
      met: ours.summary.rps >= 5 * naive.summary.rps,
    },
    {
      target: 'Engine: per request at least as fast as isolated-vm fresh context',
      measured:
        `runner engine p50 ${ms(ours.summary.p50)} ms vs ${ms(ivm.summary.p50)} ms ` +
        `(${ratio(ours.summary.p50 / ivm.summary.p50)}); workers only ${ms(workers.summary.p50)} ms ` +
        `(${ratio(workers.summary.p50 / ivm.summary.p50)}), with busy polling ${ms(polled.summary.p50)} ms ` +
        `(${ratio(polled.summary.p50 / ivm.summary.p50)}); reset core in-thread ${ms(inThread.summary.p50)} ms ` +
        `(${ratio(inThread.summary.p50 / ivm.summary.p50)})`,
      met: ours.summary.p50 <= ivm.summary.p50,
    },
    {
      target: 'Engine: p99 ≤ 2× p50',
      measured:
        `runner engine p99/p50 = ${(ours.summary.p99 / ours.summary.p50).toFixed(2)}` +
        (ours.summary.roundTail ? ` (within a round, median: ${ours.summary.roundTail.toFixed(2)})` : '') +
        '; ' +
        `workers only ${(workers.summary.p99 / workers.summary.p50).toFixed(2)}, ` +
        `with busy polling ${(polled.summary.p99 / polled.summary.p50).toFixed(2)}; ` +
        `reset core in-thread ${(inThread.summary.p99 / inThread.summary.p50).toFixed(2)}`,
      met: ours.summary.p99 <= 2 * ours.summary.p50,
    },
    {
      target: 'Cold start of a new bundle version ≤ 100 ms',
      measured:
        `first request after install-time prepare ${results.coldStart.map((c) => ms(c.preparedFirstMs)).join(' / ')} ms ` +
        `(unprepared: ${results.coldStart.map((c) => ms(c.firstMs)).join(' / ')} ms)`,
      met: coldWorst <= 100,
    },
    {
      target: 'Gateway ≥ 50% of the runner’s HTTP throughput',
      measured: `${(gatewayShare * 100).toFixed(0)}% (${results.gateway.capacity.achievedRps.toFixed(0)} vs ${results.runnerHttp.capacity.achievedRps.toFixed(0)} req/s)`,
      met: gatewayShare >= 0.5,
    },
    {
      target: `RSS after ${results.stability.afterLast.requests.toLocaleString('en')} within 10% of after ${results.stability.afterFirst.requests.toLocaleString('en')}`,
      measured: `${(results.stability.afterFirst.rssKb / 1024).toFixed(0)} → ${(results.stability.afterLast.rssKb / 1024).toFixed(0)} MB (${(results.stability.growth * 100).toFixed(1)}%)`,
      met: Math.abs(results.stability.growth) <= 0.1,
    },
    {
      target: 'Guest clock: a few µs per request',
      measured: `${results.clock.perReadPairUs.toFixed(2)} µs per Date.now() + performance.now()`,
      met: results.clock.perReadPairUs <= 5,
    },
    {
      target: 'Secrets: one decrypt per (install, version) per TTL',
      measured: `${results.secrets.decrypts} decrypts in ${results.secrets.runSeconds.toFixed(0)} s at TTL ${results.secrets.ttlMs / 1000} s (at most ${results.secrets.maxExpected})`,
      met: results.secrets.decrypts <= results.secrets.maxExpected,
    },
  ];
}

/**
 * Issue 24's targets, all ratios to workerd from the same rounds: CPU per
 * request (runner ≤ 3×, gateway + runner ≤ 5×) and closed-loop throughput
 * (runner ≥ 0.5×, gateway path ≥ 0.33×).
 */
export function sideBySideTargets(side: SideBySide): Target[] {
  const find = (name: string) => {
    const found = side.rows.find((r) => r.name === name);
    if (!found) throw new Error(`no HTTP row ${name}`);
    return found;
  };
  const [workerd, runner, gateway] = [find(WORKERD_ROW), find(RUNNER_ROW), find(GATEWAY_ROW)];
  const cpu = (row: typeof runner, limit: number, label: string): Target => {
    const times = row.cpuMsPerRequest / workerd.cpuMsPerRequest;
    return {
      target: `${label} CPU per request ≤ ${limit}× workerd`,
      measured: `${ratio(times)} (${ms(row.cpuMsPerRequest)} vs ${ms(workerd.cpuMsPerRequest)} ms)`,
      met: times <= limit,
    };
  };
  const rps = (row: typeof runner, floor: number, label: string): Target => {
    const share = row.rps / workerd.rps;
    return {
      target: `${label} closed-loop throughput ≥ ${floor}× workerd`,
      measured: `${ratio(share)} (${row.rps.toFixed(0)} vs ${workerd.rps.toFixed(0)} req/s)`,
      met: share >= floor,
    };
  };
  return [
    cpu(runner, 3, 'Runner'),
    cpu(gateway, 5, 'Gateway + runner'),
    rps(runner, 0.5, 'Runner'),
    rps(gateway, 0.33, 'Gateway path'),
  ];
}

export function sideBySideTable(side: SideBySide): string[] {
  const workerd = side.rows.find((r) => r.name === WORKERD_ROW)!;
  const spread = (values: number[], digits: number) =>
    `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
  return [
    '| target | CPU ms per request | per round | req/s | per round | p50 ms | p99 ms | CPU vs workerd | req/s vs workerd |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...side.rows.map(
      (r) =>
        `| ${r.name} | ${r.cpuMsPerRequest.toFixed(3)} | ${spread(
          r.rounds.map((x) => x.cpuMsPerRequest),
          3,
        )} | ${r.rps.toFixed(0)} | ${spread(
          r.rounds.map((x) => x.rps),
          0,
        )} | ${ms(r.latency.p50)} | ${ms(r.latency.p99)} | ` +
        `${r === workerd ? '–' : ratio(r.cpuMsPerRequest / workerd.cpuMsPerRequest)} | ` +
        `${r === workerd ? '–' : ratio(r.rps / workerd.rps)} |`,
    ),
  ];
}

function loadTable(title: string, steps: LoadResult[]): string[] {
  return [
    `| ${title} offered req/s | achieved | p50 ms | p99 ms | errors |`,
    '| ---: | ---: | ---: | ---: | ---: |',
    ...steps.map(
      (s) => `| ${s.offeredRps} | ${s.achievedRps.toFixed(0)} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.errors} |`,
    ),
  ];
}

export function toMarkdown(results: BenchResults): string {
  const naive = row(results, 'jco, fresh instance');
  const ivm = row(results, 'isolated-vm');
  const quickjs = row(results, 'quickjs');
  const { machine } = results;
  const lines = [
    `Run ${results.date} in ${results.durationSeconds} s${results.quick ? ' (BENCH_QUICK: short loops)' : ''} on ` +
      `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node} (${machine.platform}).`,
    '',
    '**1. Engines in process** (realistic handler: context, config, one secret, one log line, small JSON; sequential; ' +
      `each row in a process of its own with wasm tiering \`${results.wasmTiering}\`; ` +
      `the rows take turns, a slice of each row's samples per round, over ${results.engineRounds ?? 1} round(s))`,
    '',
    '| engine | isolation | p50 ms | p99 ms | req/s | vs naive | vs isolated-vm | vs quickjs | MB per warm slot | note |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...results.engine.map(
      (r) =>
        `| ${r.engine} | ${r.isolation} | ${ms(r.summary.p50)} | ${ms(r.summary.p99)} | ${r.summary.rps.toFixed(0)} | ` +
        `${ratio(r.summary.rps / naive.summary.rps)} | ${ratio(r.summary.rps / ivm.summary.rps)} | ` +
        `${ratio(r.summary.rps / quickjs.summary.rps)} | ${mb(r.memoryPerSlot)} | ${r.note ?? ''} |`,
    ),
    '',
    `**2a. Side by side with workerd** (the same handler on Cloudflare's workerd, on the runner's ` +
      `\`/v1/execute\` and through the gateway with 1 runner; closed loop, ${results.sideBySide.concurrency} connections; ` +
      `the rows take turns, ${results.sideBySide.rounds} rounds of ${results.sideBySide.sliceMs / 1000} s each, the others stopped; ` +
      `CPU is the serving processes' (every thread) over the measured windows ÷ requests)`,
    '',
    ...sideBySideTable(results.sideBySide),
    '',
    `**2. Runner over HTTP** (\`/v1/execute\`, 2 workers, open loop): highest load held with p99 < 10 ms: ` +
      `**${results.runnerHttp.heldUnder10ms} req/s**; closed loop (8 clients): ${results.runnerHttp.capacity.achievedRps.toFixed(0)} req/s, ` +
      `p50 ${ms(results.runnerHttp.capacity.p50)} ms, p99 ${ms(results.runnerHttp.capacity.p99)} ms.`,
    '',
    ...loadTable('runner', results.runnerHttp.steps),
    '',
    `**3. End to end through the gateway** (API key, install lookup, 1 runner): highest load held with p99 < 10 ms: ` +
      `**${results.gateway.heldUnder10ms} req/s**; closed loop: ${results.gateway.capacity.achievedRps.toFixed(0)} req/s ` +
      `(${((results.gateway.capacity.achievedRps / results.runnerHttp.capacity.achievedRps) * 100).toFixed(0)}% of the runner alone).`,
    '',
    ...loadTable('gateway', results.gateway.steps),
    '',
    `**4. Cold start** (first request of a new bundle version on a running runner). The server prepares ` +
      `a bundle on every runner when it is installed or upgraded; measured that way, the first request took ` +
      results.coldStart.map((c) => `${ms(c.preparedFirstMs)} ms (prepare ${ms(c.prepareMs)} ms)`).join(', ') +
      `. Without preparation (a runner that joins later): ` +
      results.coldStart.map((c) => `${ms(c.firstMs)} ms (then ${ms(c.secondMs)} ms)`).join(', ') +
      '.',
    '',
    `**4b. After a kill** (a request to the same install right after the previous one was stopped at its ` +
      `${results.afterKill.timeoutMs} ms deadline and its worker replaced; ${results.afterKill.firstAfterKill.n} kills): ` +
      `first request p50 ${ms(results.afterKill.firstAfterKill.p50)} ms, max ${ms(results.afterKill.firstAfterKill.max)} ms, ` +
      `against ${ms(results.afterKill.normalP50)} ms normally (p50, sequential) and ` +
      `${results.coldStart.map((c) => ms(c.preparedFirstMs)).join(' / ')} ms for a new version's first request after prepare.`,
    '',
    `**5. Secrets**: a cached \`secrets.get\` costs ${(results.secrets.perCachedGetMs * 1000).toFixed(1)} µs ` +
      `(p50 ${ms(results.secrets.p50OneRead)} ms for 1 read, ${ms(results.secrets.p50ManyReads)} ms for 101); ` +
      `${results.secrets.decrypts} decrypts for the one (install, version) over ${results.secrets.runSeconds.toFixed(0)} s ` +
      `of two runners' lives (sections 2–5 and 7) with a ${results.secrets.ttlMs / 1000} s TTL.`,
    '',
    `**5b. Clock**: a guest's \`Date.now()\` plus \`performance.now()\` (WASI clocks, 1 ms resolution) costs ` +
      `${results.clock.perReadPairUs.toFixed(2)} µs (p50 of a request reading them once: ${ms(results.clock.p50OneRead)} ms).`,
    '',
    `**6. Scaling** (closed loop through the gateway): 1 runner ${results.scaling.one.achievedRps.toFixed(0)} req/s, ` +
      `2 runners ${results.scaling.two.achievedRps.toFixed(0)} req/s (${ratio(results.scaling.ratio)}; ` +
      `every process shares the same ${machine.cores} cores).`,
    '',
    `**7. Stability** (a new runner, counted from its first request): RSS ${(results.stability.afterFirst.rssKb / 1024).toFixed(0)} MB after ` +
      `${results.stability.afterFirst.requests.toLocaleString('en')} requests, ${(results.stability.afterLast.rssKb / 1024).toFixed(0)} MB after ` +
      `${results.stability.afterLast.requests.toLocaleString('en')} (${(results.stability.growth * 100).toFixed(1)}%), ${results.stability.errors} errors; ` +
      `every ${results.stability.afterFirst.requests.toLocaleString('en')} requests: ${results.stability.samples.map((sample) => (sample.rssKb / 1024).toFixed(0)).join(', ')} MB. ` +
      `The runner of sections 2, 4 and 5 had ${(results.stability.afterSectionsRssKb / 1024).toFixed(0)} MB at their end, with seven bundle versions compiled.`,
    '',
    '**Targets**',
    '',
    '| target | measured | met |',
    '| --- | --- | :-: |',
    ...[...targets(results), ...sideBySideTargets(results.sideBySide)].map(
      (t) => `| ${t.target} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Two panels: engine throughput (bars, log scale) and p99 against offered
 * load for the runner and the gateway. Hand-written SVG: no charting
 * library is installed, and ~80 lines of markup keep the chart a small,
 * diffable text file that renders on GitHub.
 */
export function toSvg(results: BenchResults): string {
  const width = 900;
  const barHeight = 22;
  const left = 330;
  const engineRows = results.engine;
  const panel1 = 40 + engineRows.length * (barHeight + 6);
  const maxRps = Math.max(...engineRows.map((r) => r.summary.rps));
  const logMax = Math.log10(maxRps * 1.2);
  const scale = (rps: number) => ((Math.log10(Math.max(rps, 1)) / logMax) * (width - left - 80)) | 0;
  const sideRows = results.sideBySide.rows;
  const panel3Height = 50 + sideRows.length * (barHeight + 6);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${panel1 + 300 + panel3Height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Fresh-state requests per second, one thread (log scale) — ${escape(results.machine.cpu)}, ${results.machine.cores} cores</text>`,
  ];
  engineRows.forEach((r, i) => {
    const y = 36 + i * (barHeight + 6);
    const ours = r.engine.includes('reset') || r.engine.startsWith('runner engine');
    const color = r.isolation.startsWith('none') ? '#bbbbbb' : ours ? '#2b7bb9' : '#e08a2c';
    parts.push(
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${escape(r.engine)}</text>`,
      `<rect x="${left}" y="${y}" width="${scale(r.summary.rps)}" height="${barHeight}" fill="${color}"/>`,
      `<text x="${left + scale(r.summary.rps) + 6}" y="${y + 15}">${r.summary.rps.toFixed(0)}/s · p50 ${ms(r.summary.p50)} ms</text>`,
    );
  });

  // Panel 2: p99 vs offered load.
  const top = panel1 + 30;
  const plotLeft = 70;
  const plotWidth = width - plotLeft - 200;
  const plotHeight = 200;
  const series = [
    { name: 'runner /v1/execute', steps: results.runnerHttp.steps, color: '#2b7bb9' },
    { name: 'through the gateway', steps: results.gateway.steps, color: '#e08a2c' },
  ];
  const maxLoad = Math.max(...series.flatMap((s) => s.steps.map((x) => x.offeredRps)));
  const yMax = 50; // ms; p99 above is clipped to the top edge
  const px = (load: number) => plotLeft + (load / maxLoad) * plotWidth;
  const py = (p99: number) => top + plotHeight - (Math.min(p99, yMax) / yMax) * plotHeight;
  parts.push(
    `<text x="10" y="${top - 10}" font-size="14" font-weight="bold">p99 latency (ms) against offered load (req/s), open loop</text>`,
    `<line x1="${plotLeft}" y1="${top + plotHeight}" x2="${plotLeft + plotWidth}" y2="${top + plotHeight}" stroke="black"/>`,
    `<line x1="${plotLeft}" y1="${top}" x2="${plotLeft}" y2="${top + plotHeight}" stroke="black"/>`,
    `<line x1="${plotLeft}" y1="${py(10)}" x2="${plotLeft + plotWidth}" y2="${py(10)}" stroke="#cc3333" stroke-dasharray="4 4"/>`,
    `<text x="${plotLeft + plotWidth + 4}" y="${py(10) + 4}" fill="#cc3333">10 ms</text>`,
    `<text x="${plotLeft - 6}" y="${top + 4}" text-anchor="end">≥${yMax}</text>`,
    `<text x="${plotLeft - 6}" y="${top + plotHeight + 4}" text-anchor="end">0</text>`,
    `<text x="${plotLeft + plotWidth}" y="${top + plotHeight + 18}" text-anchor="end">${maxLoad} req/s</text>`,
  );
  series.forEach((s, i) => {
    const points = s.steps.map((x) => `${px(x.offeredRps).toFixed(1)},${py(x.p99).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const x of s.steps) {
      parts.push(`<circle cx="${px(x.offeredRps).toFixed(1)}" cy="${py(x.p99).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    parts.push(
      `<rect x="${plotLeft + plotWidth + 50}" y="${top + 20 + i * 20}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${plotLeft + plotWidth + 68}" y="${top + 30 + i * 20}">${escape(s.name)}</text>`,
    );
  });

  // Panel 3: CPU time per request of the side-by-side HTTP rows (linear scale).
  const top3 = top + plotHeight + 70;
  const workerd = sideRows.find((r) => r.name === WORKERD_ROW);
  const maxCpu = Math.max(...sideRows.map((r) => r.cpuMsPerRequest));
  const cpuScale = (cpu: number) => ((cpu / maxCpu) * (width - left - 260)) | 0;
  parts.push(
    `<text x="10" y="${top3 - 10}" font-size="14" font-weight="bold">CPU ms per request, side by side with workerd (closed loop, ${results.sideBySide.concurrency} connections)</text>`,
  );
  sideRows.forEach((r, i) => {
    const y = top3 + i * (barHeight + 6);
    const versus = workerd && r !== workerd ? ` · ${ratio(r.cpuMsPerRequest / workerd.cpuMsPerRequest)} CPU` : '';
    parts.push(
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end">${escape(r.name)}</text>`,
      `<rect x="${left}" y="${y}" width="${Math.max(1, cpuScale(r.cpuMsPerRequest))}" height="${barHeight}" fill="${r === workerd ? '#e08a2c' : '#2b7bb9'}"/>`,
      `<text x="${left + cpuScale(r.cpuMsPerRequest) + 6}" y="${y + 15}">${r.cpuMsPerRequest.toFixed(3)} ms · ${r.rps.toFixed(0)} req/s${versus}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
