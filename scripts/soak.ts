#!/usr/bin/env node
/**
 * `npm run test:soak`: a bounded soak on loopback. Two runners and the server
 * as real processes serve a steady mix of normal and hostile guests (the
 * test/fixtures/hostile component) for SOAK_SECONDS (default 60, at most
 * 600), SOAK_CONCURRENCY clients at once (default 4). Afterwards each
 * runner's RSS, open file descriptors (its open handles) and thread count
 * (worker threads) must be back near the warmed-up baseline, and no log,
 * response or metrics scrape may hold the canary secret. Prints a summary;
 * exits 1 when a check fails.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { deployExtension } from './lib/demo.ts';
import { canaryRun, recordArtifact, scanForCanary } from '../test/adversarial/lib/canary.ts';
import { gatewayCall, repo, startSystem, startUpstream } from '../test/adversarial/lib/system.ts';

const seconds = Math.min(Number(process.env['SOAK_SECONDS'] ?? 60), 600);
const concurrency = Math.max(1, Math.min(Number(process.env['SOAK_CONCURRENCY'] ?? 4), 32));

interface Sample {
  rssMb: number;
  fds: number;
  threads: number;
}

async function sample(pid: number): Promise<Sample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return {
    rssMb: Math.round(field('VmRSS') / 1024),
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: field('Threads'),
  };
}

// The mix: mostly honest traffic, with every kind of hostile guest in it.
const MIX: Array<[weight: number, path: string]> = [
  [60, '/ok'],
  [12, '/secret-status'],
  [6, '/secret-in-logs'],
  [5, '/loop'],
  [5, '/spin'],
  [5, '/grow'],
  [4, '/recurse'],
  [3, '/fanout?n=60&url='],
];
const total = MIX.reduce((sum, [weight]) => sum + weight, 0);
const pick = (): string => {
  let roll = Math.random() * total;
  for (const [weight, p] of MIX) if ((roll -= weight) < 0) return p;
  return '/ok';
};

async function main(): Promise<void> {
  const { canary, dir } = canaryRun();
  const upstream = await startUpstream();
  const sys = await startSystem({
    name: 'soak',
    runners: 2,
    runnerEnv: { RUNNER_HTTP_ALLOW_PRIVATE: '127.0.0.1/32' },
    serverEnv: { ALGA_GATEWAY_RATE_LIMIT: '0' },
  });
  const failures: string[] = [];
  try {
    const tenant = sys.tenants[0];
    await deployExtension(tenant.client, path.join(repo, 'test/fixtures/hostile'));
    await tenant.client.setSecret('hostile', 'canary', canary);
    const call = (p: string) =>
      gatewayCall(
        sys.server.url,
        tenant.apiKey,
        `hostile${p.endsWith('url=') ? p + encodeURIComponent(`${upstream.url}/ok`) : p}`,
        {
          timeoutMs: 30_000,
        },
      ).then(
        (r) => r.status,
        () => 0,
      );

    // Warm up (compile, fill caches, start every worker), then take the baseline.
    for (let i = 0; i < 8; i++) await call(i % 2 ? '/ok' : '/secret-status');
    for (const p of ['/loop', '/grow']) await call(p);
    await new Promise((r) => setTimeout(r, 3_000));
    const pids = sys.runners.map((r) => r.child.pid!);
    const baseline = await Promise.all(pids.map(sample));

    const statuses = new Map<number, number>();
    const deadline = Date.now() + seconds * 1000;
    let requests = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() < deadline) {
          const status = await call(pick());
          requests += 1;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );

    // Let recycled workers come back and garbage settle before comparing.
    await new Promise((r) => setTimeout(r, 5_000));
    const afterwards = await Promise.all(pids.map(sample));
    for (const [i, runner] of sys.runners.entries()) {
      await recordArtifact('metrics', `soak-${runner.name}.prom`, await (await fetch(`${runner.url}/metrics`)).text());
      const b = baseline[i]!;
      const a = afterwards[i]!;
      if (a.rssMb > b.rssMb * 1.5 + 64) failures.push(`${runner.name} RSS ${b.rssMb} → ${a.rssMb} MiB`);
      if (a.fds > b.fds + 16) failures.push(`${runner.name} open fds ${b.fds} → ${a.fds}`);
      if (a.threads > b.threads + 4) failures.push(`${runner.name} threads ${b.threads} → ${a.threads}`);
    }
    if (statuses.has(0)) failures.push(`${statuses.get(0)} requests hung or failed to connect`);
    const unexpected = [...statuses.keys()].filter((s) => ![200, 500, 502, 503, 504].includes(s));
    if (unexpected.length > 0) failures.push(`unexpected statuses ${unexpected.join(',')}`);
    const healthy = await call('/ok');
    if (healthy !== 200) failures.push(`after the soak /ok answers ${healthy}`);

    await sys.server.stop();
    await Promise.all(sys.runners.map((r) => r.stop()));
    const scan = await scanForCanary(dir, canary);
    if (scan.hits.length > 0) failures.push(`canary found in ${scan.hits.map((h) => h.file).join(', ')}`);

    process.stdout.write(
      `${JSON.stringify(
        {
          seconds,
          concurrency,
          requests,
          perSecond: Math.round(requests / seconds),
          statuses: Object.fromEntries([...statuses].sort()),
          runners: sys.runners.map((r, i) => ({ name: r.name, baseline: baseline[i], after: afterwards[i] })),
          canaryScan: { files: scan.files, hits: scan.hits.length, artifacts: dir },
          result: failures.length === 0 ? 'pass' : 'FAIL',
          failures,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await sys.stop();
    await upstream.close();
  }
  process.exit(failures.length === 0 ? 0 : 1);
}

await main();
