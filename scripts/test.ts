/**
 * `npm test`: the whole suite, two test files at a time (the machine we size
 * for has two cores, and whole-system files spend much of their time waiting
 * on the processes they spawn).
 *
 *   npm test                         every *.test.ts, then the suite-wide canary scan
 *   npm test -- path/a.test.ts …     just those files
 *   ALGA_TEST_CONCURRENCY=1 npm test one file at a time
 *
 * Written with node:test's run() rather than `node --test` because the CLI
 * sorts files by path: here the longest files start first so two lanes finish
 * together, and the canary scan runs strictly after every other file.
 */
import { glob, mkdir, readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { checkToolchain, ToolchainError } from '@alga-psa/cli';
import { writePgliteTemplate } from '../packages/server/src/db/index.ts';
import { globalSetup } from '../test/adversarial/global-setup.ts';
import { ensureChromium } from './ensure-chromium.ts';
import { ensureWebBuild } from './lib/web-build.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PATTERNS = ['packages/*/src/**/*.test.ts', 'samples/*/src/**/*.test.ts', 'test/**/*.test.ts'];
/** Scans what every other file wrote, so it must run alone and last. */
const CANARY_SCAN = 'test/faults/zz-canary-scan.test.ts';
// Generous: a whole-system file on a loaded machine; tests wait on events, this only stops a hang.
const FILE_TIMEOUT_MS = 600_000;

try {
  const versions = checkToolchain();
  console.log(
    `Toolchain OK: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
} catch (error) {
  console.error(error instanceof ToolchainError ? error.message : error);
  process.exit(1);
}

const requested = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
const files = await testFiles(requested.length > 0 ? requested : PATTERNS);
const concurrency = Number(process.env['ALGA_TEST_CONCURRENCY'] ?? 2);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`ALGA_TEST_CONCURRENCY must be a whole number ≥ 1 (got "${process.env['ALGA_TEST_CONCURRENCY']}")`);
  process.exit(1);
}

await globalSetup();
// Every process of the run (test files, servers, runners, CLI) reuses V8's compiled code
// for our .ts files: ~30 % off each process start, and the suite starts hundreds.
process.env['NODE_COMPILE_CACHE'] ??= path.join(repo, 'test-results', 'node-compile-cache');
// Every runner of the run (spawned or in-process) transpiles a component once, not once per process.
process.env['RUNNER_TRANSPILE_CACHE_DIR'] ??= path.join(repo, 'test-results', 'transpile-cache');
// Every PGlite database of the run (test engines and spawned servers) unpacks this instead of running initdb.
process.env['ALGA_PGLITE_TEMPLATE'] ??= await pgliteTemplate();
// Shared outputs are prepared once here, not by two browser files racing each other.
if (files.some((f) => f.includes(`${path.sep}test${path.sep}browser${path.sep}`))) {
  await ensureChromium((line) => console.error(line));
  if (await ensureWebBuild((line) => console.error(line))) console.error('web UI built');
}

const canary = path.join(repo, CANARY_SCAN);
const main = files.filter((f) => f !== canary);
const started = performance.now();
const durations = await runFiles(orderLongestFirst(main), concurrency);
if (files.includes(canary)) await runFiles([canary], 1);

const slowest = [...durations].sort((a, b) => b[1] - a[1]).slice(0, 8);
if (slowest.length > 1) {
  console.log(
    `\nslowest files (whole run ${((performance.now() - started) / 1000).toFixed(0)} s, ${concurrency} at a time):`,
  );
  for (const [file, ms] of slowest)
    console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${path.relative(repo, file)}`);
}

async function pgliteTemplate(): Promise<string> {
  const { version } = JSON.parse(
    await readFile(path.join(repo, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as { version: string };
  const file = path.join(repo, 'test-results', `pglite-${version}-empty.tar`);
  if (!existsSync(file)) {
    await mkdir(path.dirname(file), { recursive: true });
    await writePgliteTemplate(file);
  }
  return file;
}

/** Files and glob patterns (relative to the repository or the current folder) to absolute paths. */
async function testFiles(patterns: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) {
    const before = found.size;
    const cwd = patterns === PATTERNS ? repo : process.cwd();
    for await (const file of glob(pattern, { cwd, exclude: (name) => name === 'node_modules' }))
      found.add(path.resolve(cwd, file));
    if (found.size === before) {
      console.error(`No test file matches ${pattern}`);
      process.exit(1);
    }
  }
  return [...found];
}

/**
 * Whole-system files (test/) first, larger files before smaller: a rough
 * longest-first order, so no long file starts last and runs alone at the end.
 */
function orderLongestFirst(list: string[]): string[] {
  const weight = (file: string) =>
    (file.startsWith(path.join(repo, 'test') + path.sep) ? 1e9 : 0) + statSync(file).size;
  return [...list].sort((a, b) => weight(b) - weight(a));
}

async function runFiles(list: string[], lanes: number): Promise<Map<string, number>> {
  const durations = new Map<string, number>();
  const stream = run({ files: list, concurrency: lanes, timeout: FILE_TIMEOUT_MS });
  stream.on('test:fail', (event) => {
    if (!event.todo) process.exitCode = 1;
  });
  stream.on('test:summary', (event) => {
    if (event.file === undefined) {
      if (!event.success) process.exitCode = 1;
    } else durations.set(event.file, event.duration_ms);
  });
  const done = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  stream.compose(spec).pipe(process.stdout);
  await done;
  return durations;
}
