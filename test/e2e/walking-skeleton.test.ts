/**
 * The whole path on embedded defaults, with real processes: build a
 * TypeScript extension, publish and install it through the server's API,
 * set a secret, and call it through the gateway, which calls a runner.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '@alga-psa/cli';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import type { ServiceProcess } from '../../scripts/lib/processes.ts';
import { EXECUTION_TIMEOUT_MS, NO_DEADLINE_MS } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// A recognisable value: the test greps every log line and response for it.
const CANARY = `canary-${randomBytes(16).toString('hex')}`;

describe('walking skeleton: gateway → runner → component', () => {
  let dataDir: string;
  let platform: Platform;
  let runner: ServiceProcess;
  let server: ServiceProcess;
  let client: ApiClient;
  let apiKey: string;
  const responses: string[] = [];

  const call = async (extPath: string, key = apiKey) => {
    const response = await fetch(`${server.url}/api/ext/${extPath}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await response.text();
    responses.push(text, JSON.stringify([...response.headers]));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test reads arbitrary JSON shapes
    return { status: response.status, text, json: () => JSON.parse(text) as Record<string, any> };
  };

  /**
   * The real CLI as the platform operator runs it, the key from its 0600 file (or, with
   * `tenantKey`, as that tenant's admin with no operator key); `input` goes to its stdin.
   */
  const operatorCli = (args: string[], input?: string, tenantKey?: string) => {
    const child = execFile(process.execPath, [path.join(repo, 'packages/cli/bin/alga.js'), ...args], {
      env: {
        ...process.env,
        ALGA_SERVER_URL: server.url,
        ALGA_API_KEY: tenantKey ?? '',
        ALGA_OPERATOR_KEY: '',
        ALGA_OPERATOR_KEY_FILE: tenantKey ? '' : platform.operatorKeyFile,
      },
    });
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    child.stdin!.end(input ?? '');
    return done;
  };

  /** `alga_runner_limit_kills_total{kind="timeout"}` from the runner's /metrics. */
  const timeoutKills = async () => {
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    return Number(/^alga_runner_limit_kills_total\{kind="timeout"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  };

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'alga-e2e-'));
    platform = await startPlatform({
      readyTimeoutMs: NO_DEADLINE_MS,
      dataDir,
      // No request the tests expect to succeed can reach it on a slow machine; the looping guest does.
      serverEnv: { DATABASE_URL: '', ALGA_EXECUTION_TIMEOUT_MS: String(EXECUTION_TIMEOUT_MS) },
    });
    ({ server } = platform);
    [runner] = platform.runners as [ServiceProcess];
    apiKey = platform.credentials.apiKey;
    client = new ApiClient({ serverUrl: server.url, apiKey });
    await deployExtension(client, path.join(repo, 'samples/secrets-demo'));
  });

  after(async () => {
    await platform?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('a wrong API key is refused with 401', async () => {
    const response = await call('secrets-demo/hello', 'alga_sk_wrong_wrong');
    assert.equal(response.status, 401);
    assert.equal(response.json().error.code, 'ALGA_UNAUTHENTICATED');
  });

  test('an extension not installed for the tenant is a 404', async () => {
    const response = await call('looper/ok');
    assert.equal(response.status, 404);
    assert.equal(response.json().error.code, 'ALGA_NOT_FOUND');
  });

  test('a secret that was never set reaches the guest as "missing"', async () => {
    const response = await call('secrets-demo/hello');
    assert.equal(response.status, 200);
    const body = response.json();
    assert.equal(body.message, 'Hello from secrets-demo');
    assert.equal(body.secret.set, false);
    assert.equal(body.secret.error, 'missing');
  });

  test('config and a set secret reach the guest; the answer proves it without the value', async () => {
    await client.setConfig('secrets-demo', { greeting: 'Bonjour' });
    await client.setSecret('secrets-demo', 'api_token', CANARY);
    const response = await call('secrets-demo/hello');
    assert.equal(response.status, 200);
    const body = response.json();
    assert.equal(body.message, 'Bonjour from secrets-demo');
    assert.deepEqual(body.secret, {
      set: true,
      length: CANARY.length,
      sha256Prefix: (await import('node:crypto')).createHash('sha256').update(CANARY).digest('hex').slice(0, 8),
    });
    assert.ok(!response.text.includes(CANARY));
    // The sample logs the token on purpose; the runner must have masked it.
    await waitFor(() => runner.output().includes('secrets-demo read api_token [REDACTED]'), runner);
  });

  test('a secret set with an expiry reads until then, then reaches the guest as "expired", and /metrics counts it', async () => {
    // Far enough ahead that the first call always lands before it, whatever the machine's load.
    const expiresAt = new Date(Date.now() + 4_000).toISOString();
    await client.setSecret('secrets-demo', 'api_token', CANARY, expiresAt);
    const listed = await client.listSecrets('secrets-demo');
    assert.equal(listed.secrets.find((s) => s.key === 'api_token')?.expiresAt, expiresAt);
    const before = await call('secrets-demo/hello');
    if (Date.now() < Date.parse(expiresAt)) assert.equal(before.json().secret.set, true);
    const scrape = await (await fetch(`${server.url}/metrics`)).text();
    if (Date.now() < Date.parse(expiresAt)) assert.match(scrape, /^alga_secrets_expiring\{window="1d"\} 1$/m);
    // No deadline: the condition is the clock passing the expiry.
    while (Date.now() <= Date.parse(expiresAt)) await sleep(100);
    const after = await call('secrets-demo/hello');
    assert.equal(after.status, 200);
    assert.equal(after.json().secret.error, 'expired');
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^alga_secrets_expiring\{window="expired"\} 1$/m);
    // Set again without an expiry: readable again.
    await client.setSecret('secrets-demo', 'api_token', CANARY);
    assert.equal((await call('secrets-demo/hello')).json().secret.set, true);
  });

  test('provider policy: the operator disables cap:secrets.get for the tenant; its guest reads "denied" with no restart, an upgrade is refused naming it, tenant keys get 403, every change is audited', async () => {
    const operator = new ApiClient({ serverUrl: server.url, apiKey: platform.operatorKey! });
    const { tenantId } = platform.credentials;
    const alga = async (...args: string[]) => {
      const result = await operatorCli(['policy', ...args]);
      assert.equal(result.code, 0, result.stderr);
      return result;
    };
    await assert.rejects(
      new ApiClient({ serverUrl: server.url, apiKey }).setPolicy('cap:secrets.get', false, tenantId),
      { status: 403, code: 'ALGA_FORBIDDEN' },
      'a tenant admin key cannot change policy',
    );
    assert.equal((await call('secrets-demo/hello')).json().secret.set, true);

    const disabled = await alga('disable', 'cap:secrets.get', '--tenant', 'demo');
    assert.match(disabled.stdout, /cap:secrets\.get disabled for demo/);
    const denied = await call('secrets-demo/hello');
    assert.equal(denied.status, 200);
    assert.equal(denied.json().secret.error, 'denied', 'the running install answers denied, no restart');
    await assert.rejects(client.install({ extensionId: 'secrets-demo' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ALGA_CAPABILITY_DISABLED');
      assert.match(error.message, /cap:secrets\.get/);
      return true;
    });
    assert.match((await alga('list', '--tenant', tenantId)).stdout, /cap:secrets\.get +disabled \(tenant setting\)/);

    await alga('reset', 'cap:secrets.get', '--tenant', 'demo');
    assert.equal((await call('secrets-demo/hello')).json().secret.set, true);
    const trail = await operator.policyAudit({ limit: 5 });
    assert.deepEqual(
      trail.entries.slice(0, 2).map((e) => [e.action, e.keyNames, e.tenantId, /^operator:[0-9a-f]{8}$/.test(e.actor)]),
      [
        ['policy.reset', ['cap:secrets.get'], tenantId, true],
        ['policy.disable', ['cap:secrets.get'], tenantId, true],
      ],
    );
    assert.ok(!server.output().includes(platform.operatorKey!), 'the operator key is never logged');
  });

  test("tenants, users and keys: the operator's real CLI creates a tenant whose key works at once and an admin who signs in; the tenant rotates its keys; nothing secret is logged", async () => {
    const name = `acme-${randomBytes(3).toString('hex')}`;
    const keyFile = path.join(dataDir, `${name}.key`);
    const created = await operatorCli(['tenants', 'create', name, '--key-file', keyFile]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`Created tenant ${name} \\(`));
    const tenantKey = (await readFile(keyFile, 'utf8')).trim();
    assert.ok(!created.stdout.includes(tenantKey), 'with --key-file the key goes only to the file');
    const installs = await fetch(`${server.url}/api/v1/installs`, {
      headers: { authorization: `Bearer ${tenantKey}` },
    });
    assert.equal(installs.status, 200, 'the new tenant key works at once');
    assert.match((await operatorCli(['tenants', 'list'])).stdout, new RegExp(`^${name} +[0-9a-f-]{36} +created`, 'm'));
    assert.equal((await operatorCli(['tenants', 'create', name])).code, 1, 'a taken name is refused');

    const password = `pw-${randomBytes(12).toString('hex')}`;
    const added = await operatorCli(
      ['users', 'add', `ops@${name}.test`, '--tenant', name, '--role', 'admin', '--password-stdin'],
      `${password}\n`,
    );
    assert.equal(added.code, 0, added.stderr);
    const generated = await operatorCli([
      'users',
      'add',
      `portal@${name}.test`,
      '--tenant',
      name,
      '--role',
      'client',
      '--client-id',
      'acme-co',
    ]);
    assert.equal(generated.code, 0, generated.stderr);
    const portalPassword = generated.stdout.trim().split('\n').at(-1)!;
    const noClient = await operatorCli(['users', 'add', `x@${name}.test`, '--tenant', name, '--role', 'client']);
    assert.equal(noClient.code, 1);
    assert.match(noClient.stderr, /--client-id/);
    assert.deepEqual(
      (await operatorCli(['users', 'list', '--tenant', name])).stdout
        .trim()
        .split('\n')
        .map((line) => line.split(/ +/).slice(0, 2)),
      [
        [`ops@${name}.test`, 'admin'],
        [`portal@${name}.test`, 'client'],
      ],
    );
    for (const [email, secret] of [
      [`ops@${name}.test`, password],
      [`portal@${name}.test`, portalPassword],
    ] as const) {
      const first = await fetch(`${server.url}/ui/api/session`);
      const cookie = first.headers
        .getSetCookie()
        .map((line) => line.split(';')[0])
        .join('; ');
      const csrf = ((await first.json()) as { csrfToken: string }).csrfToken;
      const signIn = await fetch(`${server.url}/ui/api/session`, {
        method: 'POST',
        headers: { cookie, origin: server.url, 'x-csrf-token': csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: secret }),
      });
      assert.equal(signIn.status, 200, `${email} signs in to the web UI`);
    }

    // The tenant's admin rotates keys with the key the operator handed over.
    const asTenant = (args: string[]) => operatorCli(args, undefined, tenantKey);
    const issued = await asTenant(['api-keys', 'create', '--name', 'ci reader', '--role', 'viewer', '--json']);
    assert.equal(issued.code, 0, issued.stderr);
    const viewer = JSON.parse(issued.stdout) as { key: { id: string }; apiKey: string };
    assert.match(
      (await asTenant(['api-keys', 'list'])).stdout,
      new RegExp(`^${viewer.key.id} +viewer +ci reader`, 'm'),
    );
    const revoked = await asTenant(['api-keys', 'revoke', viewer.key.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    const refused = await fetch(`${server.url}/api/v1/installs`, {
      headers: { authorization: `Bearer ${viewer.apiKey}` },
    });
    assert.equal(refused.status, 401, 'a revoked key is refused at once');
    const lastAdmin = await asTenant(['api-keys', 'revoke', tenantKey.split('_')[2]!]);
    assert.equal(lastAdmin.code, 1);
    assert.match(lastAdmin.stderr, /last active admin key/);
    // The operator's way back in for a tenant without a working admin key.
    const recovery = await operatorCli(['tenants', 'add-key', name, '--name', 'recovery', '--role', 'admin', '--json']);
    assert.equal(recovery.code, 0, recovery.stderr);
    const recoveryKey = (JSON.parse(recovery.stdout) as { apiKey: string }).apiKey;

    for (const secret of [tenantKey, password, portalPassword, viewer.apiKey, recoveryKey])
      assert.ok(!server.output().includes(secret), 'no key or password is logged');
  });

  test('a guest that loops forever is stopped at its deadline and the runner keeps serving', async () => {
    await deployExtension(client, path.join(repo, 'test/fixtures/looper'));
    const kills = await timeoutKills();
    const response = await call('looper/loop');
    assert.equal(response.status, 504);
    assert.equal(response.json().error.code, 'ALGA_TIMEOUT');
    // The runner stopped it at the execution deadline (the gateway's own, 5 s later, would answer 504 too).
    assert.equal(await timeoutKills(), kills + 1, 'the runner killed the guest at its deadline');
    for (let i = 0; i < 3; i++) {
      const ok = await call('looper/ok');
      assert.equal(ok.status, 200);
      // A fresh instance per request: module state never carries over.
      assert.deepEqual(ok.json(), { ok: true, calls: 1 });
    }
  });

  test("every request sees fresh randomness, not the build snapshot's RNG state", async () => {
    const [a, b] = [(await call('looper/random')).json(), (await call('looper/random')).json()];
    assert.notDeepEqual(a.math, b.math);
    assert.notEqual(a.math[0], a.math[1]);
    assert.notEqual(a.uuid, b.uuid);
    assert.match(a.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notDeepEqual(a.bytes, b.bytes);
  });

  test("the guest reads the host's clock: two requests a second apart see a second pass", async () => {
    const before = Date.now();
    const first = (await call('looper/clock')).json();
    await sleep(1000);
    const second = (await call('looper/clock')).json();
    // Not the instant the component was built: the host's time of each request.
    assert.ok(first.wall >= before - 1, `${first.wall} < ${before}`);
    assert.ok(second.wall - first.wall >= 990, `the guest clock advanced ${second.wall - first.wall} ms`);
    assert.equal(new Date(second.iso).getTime() - second.wall < 1000, true);
    assert.ok(first.mono >= 0 && second.mono >= 0);
  });

  test('a guest awaits its setTimeout, and a timer it leaves pending never fires into the next request', async () => {
    const timer = await call('looper/timer');
    assert.equal(timer.status, 200, timer.text);
    assert.equal(timer.json().fired, true);
    assert.ok(timer.json().waited >= 9, `waited ${timer.json().waited} ms`);
    assert.equal((await call('looper/leave-timer')).status, 200);
    const later = await call('looper/left-timer');
    assert.deepEqual(later.json(), { leftTimerFired: 0 });
    assert.doesNotMatch(runner.output(), /the left timer fired/);
  });

  test('a route the manifest does not declare is a 404', async () => {
    const response = await call('secrets-demo/not-declared');
    assert.equal(response.status, 404);
    assert.equal(response.json().error.code, 'ALGA_ROUTE_NOT_FOUND');
  });

  test('both processes serve /metrics after traffic, with every series deploy/monitoring names', async () => {
    const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();
    const [serverText, runnerText] = await Promise.all([scrape(server.url), scrape(runner.url)]);
    const count = (text: string, series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    assert.ok(count(serverText, 'alga_gateway_requests_total{entry="api",outcome="ok",status_class="2xx"}') >= 3);
    assert.ok(
      count(serverText, 'alga_gateway_requests_total{entry="api",outcome="ALGA_UNAUTHENTICATED",status_class="4xx"}') >=
        1,
    );
    assert.ok(count(runnerText, 'alga_runner_executions_total{outcome="ok"}') >= 3);
    // The alert rules and the dashboard query only series the processes export.
    const declared = new Set([...`${serverText}\n${runnerText}`.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1]!));
    for (const file of ['alerts.yaml', 'grafana-dashboard.json']) {
      const text = await readFile(path.join(repo, 'deploy/monitoring', file), 'utf8');
      const named = new Set(
        [...text.matchAll(/\b(alga_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, '')),
      );
      assert.ok(named.size > 5, file);
      for (const name of named) assert.ok(declared.has(name), `${file} names ${name}, which neither process exports`);
    }
    // The gateway probes the runner's /readyz every 2 s: at debug, those lines stay out of an info log.
    assert.ok(!/"url":"\/readyz"/.test(runner.output()), 'runner logs readiness probes at info');
  });

  test('the secret value appears in no log line and no response', () => {
    const encoded = [CANARY, Buffer.from(CANARY).toString('base64'), Buffer.from(CANARY).toString('hex')];
    for (const [name, text] of [
      ['runner output', runner.output()],
      ['server output', server.output()],
      ['responses', responses.join('\n')],
    ] as const) {
      for (const form of encoded)
        assert.ok(!text.includes(form), `${name} contains the secret (${form === CANARY ? 'plain' : 'encoded'})`);
    }
  });
});

/**
 * Resolves once `check` holds, with no deadline of its own (the test runner's timeout is the backstop);
 * fails at once, with its output, if the process that should make it true has exited.
 */
async function waitFor(check: () => boolean, service: ServiceProcess): Promise<void> {
  while (!check()) {
    if (service.child.exitCode !== null || service.child.signalCode !== null)
      throw new Error(`${service.name} exited before the condition was met:\n${service.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
