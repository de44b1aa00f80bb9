/** The runner as a process: start, readiness line, health, graceful shutdown. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureServiceKeys } from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Starts the runner with exactly `env` and waits for it to exit (the start-up refusals). */
async function exitOf(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

describe('runner process', () => {
  let dir: string;
  let keyFile: string;
  let verifyKeyFile: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alga-runner-main-'));
    keyFile = path.join(dir, 'transit.key');
    await LocalKeyring.open(keyFile, { create: true });
    verifyKeyFile = (await ensureServiceKeys(dir)).publicKeyFile;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints "Runner ready on http://host:port", serves /healthz and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        RUNNER_PORT: '0',
        ALGA_BUNDLE_DIR: path.join(dir, 'bundles'),
        ALGA_TRANSIT_KEY_FILE: keyFile,
        ALGA_SERVICE_VERIFY_KEY_FILE: verifyKeyFile,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^Runner ready on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`runner exited early with ${code}`)));
    });
    const res = await fetch(`${url}/healthz`);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    const unauthenticated = await fetch(`${url}/v1/execute`, { method: 'POST', body: '{}' });
    assert.equal(unauthenticated.status, 401);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('exits 1 with a message naming the missing variables', async () => {
    const { code, stderr } = await exitOf({ PATH: process.env.PATH ?? '' });
    assert.equal(code, 1);
    assert.match(stderr, /ALGA_BUNDLE_DIR is required/);
    assert.match(stderr, /ALGA_TRANSIT_KEY_FILE is required/);
    assert.match(stderr, /ALGA_SERVICE_VERIFY_KEY_FILE is required/);
  });

  it('exits 1 with a clear message when the service verify key cannot be read', async () => {
    const { code, stderr } = await exitOf({
      PATH: process.env.PATH ?? '',
      RUNNER_PORT: '0',
      ALGA_BUNDLE_DIR: path.join(dir, 'bundles'),
      ALGA_TRANSIT_KEY_FILE: keyFile,
      ALGA_SERVICE_VERIFY_KEY_FILE: path.join(dir, 'absent.pem'),
    });
    assert.equal(code, 1);
    assert.match(stderr, /ALGA_SERVICE_VERIFY_KEY_FILE: cannot read .*ENOENT/);
  });

  it('exits 1 naming RUNNER_TRANSPILE_CACHE_DIR when other users could write transpiled code there', async () => {
    const shared = path.join(dir, 'shared-cache');
    await mkdir(shared);
    await chmod(shared, 0o777);
    const { code, stderr } = await exitOf({
      PATH: process.env.PATH ?? '',
      RUNNER_PORT: '0',
      ALGA_BUNDLE_DIR: path.join(dir, 'bundles'),
      ALGA_TRANSIT_KEY_FILE: keyFile,
      ALGA_SERVICE_VERIFY_KEY_FILE: verifyKeyFile,
      RUNNER_TRANSPILE_CACHE_DIR: shared,
    });
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^RUNNER_TRANSPILE_CACHE_DIR: .*shared-cache can be written by other users \(mode 777\); run: chmod 700 /m,
    );
  });
});
