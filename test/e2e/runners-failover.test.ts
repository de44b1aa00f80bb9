/**
 * Two real runner processes behind the real server: one is SIGKILLed in the
 * middle of a burst of requests. Every request must end (no hang), most must
 * succeed, the gateway must keep answering afterwards, and the dead runner
 * must be taken out of rotation.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '@alga-psa/cli';
import { ensureServiceKeys } from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';
import { deployExtension, readBootstrap } from '../../scripts/lib/demo.ts';
import { startService, type ServiceProcess } from '../../scripts/lib/processes.ts';
import { EXECUTION_TIMEOUT_MS, NO_DEADLINE_MS, until } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * Far above any honest answer, on any machine: the gateway ends every call within the execution
 * deadline plus 5 s, so a request still open then has hung.
 */
const HANG_MS = 60_000;

describe('several runners: one dies under load', () => {
  let dataDir: string;
  const runners: ServiceProcess[] = [];
  let server: ServiceProcess;
  let apiKey: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'alga-failover-'));
    const keyFile = path.join(dataDir, 'transit-keys.json');
    await LocalKeyring.open(keyFile, { create: true });
    const serviceKeys = await ensureServiceKeys(dataDir);
    for (const name of ['runner-a', 'runner-b']) {
      runners.push(
        await startService({
          name,
          script: path.join(repo, 'packages/runner/src/main.ts'),
          env: {
            RUNNER_PORT: '0',
            RUNNER_WORKERS: '2',
            // Room for the whole burst once one runner carries it alone.
            RUNNER_QUEUE_LIMIT: '64',
            ALGA_BUNDLE_DIR: path.join(dataDir, 'bundles'),
            ALGA_TRANSIT_KEY_FILE: keyFile,
            ALGA_SERVICE_VERIFY_KEY_FILE: serviceKeys.publicKeyFile,
          },
          ready: /Runner ready on (http:\/\/\S+)/,
          timeoutMs: NO_DEADLINE_MS,
        }),
      );
    }
    server = await startService({
      name: 'server',
      script: path.join(repo, 'packages/server/src/main.ts'),
      env: {
        PORT: '0',
        ALGA_DATA_DIR: dataDir,
        ALGA_RUNNER_URL: runners.map((runner) => runner.url).join(','),
        ALGA_SERVICE_SIGNING_KEY_FILE: serviceKeys.privateKeyFile,
        ALGA_BOOTSTRAP_FILE: path.join(dataDir, 'bootstrap.json'),
        DATABASE_URL: '',
        // Requests queued on the surviving runner must not reach it, however slow the machine.
        ALGA_EXECUTION_TIMEOUT_MS: String(EXECUTION_TIMEOUT_MS),
      },
      ready: /Server ready on (http:\/\/\S+)/,
      timeoutMs: NO_DEADLINE_MS,
    });
    apiKey = (await readBootstrap(path.join(dataDir, 'bootstrap.json'))).apiKey;
    await deployExtension(new ApiClient({ serverUrl: server.url, apiKey }), path.join(repo, 'test/fixtures/looper'));
  });

  after(async () => {
    await server?.stop();
    await Promise.all(runners.map((runner) => runner.stop()));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** Resolves with the status, or 0 if the request had to be abandoned as hung. */
  const call = async (): Promise<number> => {
    try {
      const response = await fetch(`${server.url}/api/ext/looper/ok`, {
        headers: { authorization: `Bearer ${apiKey}` },
        signal: AbortSignal.timeout(HANG_MS),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  };

  test('both runners serve before the failure', async () => {
    // Warm both (each compiles the component once) so the burst measures failover, not compilation.
    // On a busy machine a first compile can outlast the gateway's wait (504): warm until a whole round answers.
    let statuses: number[] = [];
    await until(async () => {
      statuses = await Promise.all(Array.from({ length: 6 }, call));
      return !statuses.includes(504);
    });
    assert.deepEqual(statuses, Array(6).fill(200));
  });

  test('a SIGKILLed runner costs at most the requests it held; every request ends and most succeed', async () => {
    const [victim] = runners;
    const burst: Array<Promise<number>> = [];
    for (let wave = 0; wave < 16; wave++) {
      for (let i = 0; i < 4; i++) burst.push(call());
      if (wave === 6) victim!.child.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const statuses = await Promise.all(burst);
    assert.ok(!statuses.includes(0), `a request hung: ${statuses.join(',')}`);
    for (const status of statuses) assert.ok([200, 502, 503].includes(status), `unexpected status ${status}`);
    const ok = statuses.filter((status) => status === 200).length;
    // Only what the victim held when it died may fail (502, or 503 if its queue was refused).
    assert.ok(ok > statuses.length / 2, `only ${ok} of ${statuses.length} succeeded: ${statuses.join(',')}`);
  });

  test('the gateway keeps answering from the surviving runner and has taken the dead one out', async () => {
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push(await call());
    assert.deepEqual(statuses, Array(10).fill(200));
    const victimUrl = runners[0]!.url;
    assert.ok(
      server
        .output()
        .split('\n')
        .some((line) => line.includes('runner marked down') && line.includes(victimUrl)),
      'the server logged the dead runner as down',
    );
  });
});
