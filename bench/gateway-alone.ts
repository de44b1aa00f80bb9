/**
 * `node bench/gateway-alone.ts`: the gateway's server on its own, CPU per
 * request. The server runs in this process (PGlite, logging at info to
 * stderr, rate limit off as in the bench); a stand-in runner answering a
 * canned ExecuteResponse and a closed loop of 8 connections run in child
 * processes, so only the server's CPU is counted (`process.cpuUsage` over
 * the measured window). Without the runner's ~1.5 ms a gateway change of a
 * few percent becomes visible (docs/perf/039-gateway-path.md).
 *
 * BENCH_GATEWAY_BASELINE=<dir of another checkout, with node_modules>
 * alternates that checkout's server with this one, each in a fresh process,
 * BENCH_GATEWAY_ROUNDS times (default 4); BENCH_GATEWAY_MEASURE_MS is each
 * window (default 8000, after 3000 ms unmeasured).
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Undici from 'undici';
import type * as Db from '../packages/server/src/db/index.ts';
import type * as Fixtures from '../packages/server/src/testing/fixtures.ts';

const CONNECTIONS = 8;
const WARM_MS = 3_000;
const ROUTE = '/api/ext/hello-ext/hello';
const here = fileURLToPath(import.meta.url);
const ownRoot = path.resolve(path.dirname(here), '..');

interface LoadOrder {
  url: string;
  authorization: string;
  ms: number;
}
interface LoadDone {
  n: number;
  errors: number;
}

const RUNNER_SOURCE = `
const body = JSON.stringify({ status: 200, headers: { 'content-type': 'application/json' },
  body_b64: Buffer.from(JSON.stringify({ greeting: 'Howdy', n: 42 })).toString('base64') });
require('node:http').createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(body));
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`;

/** A closed loop against the server, in a child process: answers how many requests it made. */
async function loadRole(root: string): Promise<void> {
  const { Pool } = (await import(pathToFileURL(path.join(root, 'node_modules/undici/index.js')).href)) as typeof Undici;
  process.once('message', (order: LoadOrder) => {
    void (async () => {
      const pool = new Pool(order.url, { connections: CONNECTIONS });
      const done: LoadDone = { n: 0, errors: 0 };
      const end = Date.now() + order.ms;
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          while (Date.now() < end) {
            const response = await pool.request({
              path: ROUTE,
              method: 'GET',
              headers: { authorization: order.authorization },
            });
            await response.body.dump();
            if (response.statusCode !== 200) done.errors++;
            done.n++;
          }
        }),
      );
      await pool.close();
      process.send!(done, () => process.exit(0));
    })();
  });
}

/** One server of `root`'s checkout, measured once; prints its CPU per request. */
async function serverRole(root: string, measureMs: number): Promise<void> {
  const runner = spawn(process.execPath, ['-e', RUNNER_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => runner.stdout.once('data', (d) => resolve(String(d).trim())));
  const source = (file: string) => pathToFileURL(path.join(root, 'packages/server/src', file)).href;
  const fixtures = (await import(source('testing/fixtures.ts'))) as typeof Fixtures;
  const { openPglite } = (await import(source('db/index.ts'))) as typeof Db;
  const ctx = await fixtures.startTestServer(await openPglite(), {
    runnerUrl: `http://127.0.0.1:${port}`,
    logger: 'info',
    gatewayRateLimit: false,
  });
  await fixtures.publish(ctx, fixtures.sampleManifest());
  await fixtures.install(ctx, 'hello-ext');
  const url = await ctx.server.app.listen({ port: 0, host: '127.0.0.1' });
  const load = (ms: number) =>
    new Promise<LoadDone>((resolve) => {
      const child = fork(here, ['--load', root], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      child.once('message', (done) => resolve(done as LoadDone));
      child.send({ url, authorization: ctx.adminA, ms } satisfies LoadOrder);
    });
  await load(WARM_MS);
  const before = process.cpuUsage();
  const done = await load(measureMs);
  const cpu = process.cpuUsage(before);
  process.stdout.write(
    `${JSON.stringify({ cpuUsPerRequest: (cpu.user + cpu.system) / done.n, rps: (done.n * 1000) / measureMs, errors: done.errors })}\n`,
  );
  runner.kill();
  await ctx.close();
  process.exit(0);
}

const [role, roleRoot] = process.argv.slice(2);
if (role === '--load') await loadRole(roleRoot!);
else if (role === '--server') await serverRole(roleRoot!, Number(process.env['BENCH_GATEWAY_MEASURE_MS'] ?? 8_000));
else {
  const baseline = process.env['BENCH_GATEWAY_BASELINE'];
  const rounds = Number(process.env['BENCH_GATEWAY_ROUNDS'] ?? 4);
  const sides = [{ name: 'this checkout', root: ownRoot }, ...(baseline ? [{ name: 'baseline', root: baseline }] : [])];
  const results = new Map(sides.map((side) => [side.name, [] as number[]]));
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so neither always runs after the other.
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const out = execFileSync(process.execPath, [here, '--server', side.root], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const { cpuUsPerRequest, rps, errors } = JSON.parse(String(out)) as {
        cpuUsPerRequest: number;
        rps: number;
        errors: number;
      };
      if (errors) throw new Error(`${side.name}: ${errors} errors`);
      results.get(side.name)!.push(cpuUsPerRequest);
      process.stderr.write(
        `round ${round + 1}: ${side.name} ${cpuUsPerRequest.toFixed(1)} µs CPU/request, ${rps.toFixed(0)} req/s\n`,
      );
    }
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    return Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!;
  };
  for (const [name, values] of results) {
    process.stdout.write(
      `${name}: median ${median(values).toFixed(1)} µs CPU/request (${values.map((v) => v.toFixed(0)).join(', ')})\n`,
    );
  }
  if (baseline) {
    const ratio = median(results.get('this checkout')!) / median(results.get('baseline')!);
    process.stdout.write(`this ÷ baseline: ${ratio.toFixed(2)}×\n`);
  }
}
