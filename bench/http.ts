/**
 * `node bench/http.ts`: only the side-by-side HTTP rows of the bench
 * (workerd, runner, gateway + runner; bench/lib/side-by-side.ts), printed as
 * a table. For profiling and before/after comparisons of the request path;
 * does not touch bench/results. BENCH_HTTP_ROUNDS and BENCH_HTTP_SLICE_MS
 * change the number of rounds and the measured window per row and round.
 * BENCH_HTTP_BASELINE=<dir of another checkout, with node_modules> adds its
 * runner and gateway as rows of their own: a before/after in the same rounds.
 */
import { readFile } from 'node:fs/promises';
import { buildExtension } from '@alga-psa/cli';
import { sideBySideTable, sideBySideTargets } from './lib/report.ts';
import { fixtureDir } from './lib/services.ts';
import { HTTP_WARM_MS, sideBySide } from './lib/side-by-side.ts';

const log = (message: string) => process.stderr.write(`[bench http] ${message}\n`);

const build = await buildExtension({ dir: fixtureDir });
const component = new Uint8Array(await readFile(build.componentPath));
const result = await sideBySide(
  component,
  {
    rounds: Number(process.env.BENCH_HTTP_ROUNDS ?? 5),
    sliceMs: Number(process.env.BENCH_HTTP_SLICE_MS ?? 2000),
    rewarmMs: 300,
    concurrency: 8,
    warmMs: HTTP_WARM_MS,
    baseline: process.env.BENCH_HTTP_BASELINE || undefined,
  },
  log,
);
process.stdout.write(
  `${[...sideBySideTable(result), '', ...sideBySideTargets(result).map((t) => `${t.met ? 'met    ' : 'NOT met'} ${t.target}: ${t.measured}`)].join('\n')}\n`,
);
