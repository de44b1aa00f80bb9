/**
 * Issue 19: the reference CLI's spellings against the real server and runner.
 * A fixture written in the reference host's style (reference manifest with a
 * wildcard version and no api/settings, unversioned imports) goes through
 * `alga extension publish <dir>` → install → a secret named as the reference
 * names it → `alga extension uninstall`, with the reference CLI's variables.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import { runToExit } from '../../scripts/lib/processes.ts';
import { NO_DEADLINE_MS } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ALGA = path.join(repo, 'packages/cli/bin/alga.js');
const FIXTURE = path.join(repo, 'test/fixtures/reference/secrets-reader');
const EXT = 'com.alga.fixture.secrets-reader';

describe('the reference CLI spellings', () => {
  let work: string;
  let platform: Platform;
  let env: NodeJS.ProcessEnv;

  function alga(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}) {
    return runToExit(process.execPath, [ALGA, ...args], {
      cwd: options.cwd ?? work,
      // A private config home; only the reference CLI's variables say where the server is.
      env: {
        ...process.env,
        XDG_CONFIG_HOME: path.join(work, 'config-home'),
        ALGA_SERVER_URL: '',
        ALGA_API_KEY: '',
        ...options.env,
      },
      ...(options.input === undefined ? {} : { input: options.input }),
    });
  }

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'alga-ref-cli-'));
    platform = await startPlatform({
      readyTimeoutMs: NO_DEADLINE_MS,
      dataDir: path.join(work, 'data'),
      serverEnv: { DATABASE_URL: '' },
    });
    env = {
      ALGA_API_BASE_URL: platform.server.url,
      ALGA_API_KEY: platform.credentials.apiKey,
      // The reference CLI's variable, naming the key's own tenant: sent as x-tenant-id and accepted.
      ALGA_TENANT_ID: platform.credentials.tenantId,
    };
  });

  after(async () => {
    await platform?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('create component, component create and create extension scaffold a project', async () => {
    for (const [args, name] of [
      [['create', 'component', 'ref-one'], 'ref-one'],
      [['component', 'create', 'ref-two', '--directory', 'elsewhere/ref-two'], 'elsewhere/ref-two'],
      [['create', 'extension', 'ref-three', '--template', 'component-basic'], 'ref-three'],
    ] as const) {
      const run = await alga([...args]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(existsSync(path.join(work, name, 'manifest.json')), name);
    }
    const refused = await alga(['create', 'component', 'ref-four', '--template', 'ui-gallery']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /No template "ui-gallery" here; this CLI ships "component-basic"\./);
  });

  test('extension publish <dir> builds, publishes with the wildcard resolved, and installs with --yes', async () => {
    const run = await alga(['extension', 'publish', FIXTURE, '--yes'], { env });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(result['registryId'], EXT);
    assert.equal(result['versionId'], '0.1.0', 'the reference resolves X.Y.* to X.Y.0 first');
    assert.match(String(result['contentHash']), /^sha256:[0-9a-f]{64}$/);
    assert.equal(typeof result['installId'], 'string');
    assert.match(run.stderr, /warning: .*no "api" section/);
  });

  test('without a terminal or --yes the install is skipped with a warning, as the reference treats a failed install', async () => {
    const run = await alga(['extension', 'publish', FIXTURE], { env });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(result['versionId'], '0.1.1', 'the next wildcard publish takes the next patch');
    assert.equal(result['installId'], null);
    assert.match(run.stderr, /warning: published, but not installed: Installing grants capabilities; .*--yes/);
  });

  test('the other reference fixtures go through alga build → extension publish <dir> → install, and answer through the gateway', async () => {
    const fixtures = path.join(repo, 'test/fixtures/reference');
    for (const [name, version] of [
      ['host-bindings', '1.0.0'],
      ['ui-proxy-caller', '0.2.0'],
      ['full-world', '2.0.0'],
    ] as const) {
      const run = await alga(['extension', 'publish', path.join(fixtures, name), '--yes'], { env });
      assert.equal(run.code, 0, `${name}: ${run.stderr}`);
      const result = JSON.parse(run.stdout) as Record<string, unknown>;
      assert.deepEqual([result['registryId'], result['versionId']], [`com.alga.fixture.${name}`, version]);
      assert.equal(typeof result['installId'], 'string', name);
    }
    const gateway = async (method: string, route: string, body?: string) => {
      const response = await fetch(`${platform.server.url}/api/ext/${route}`, {
        method,
        headers: { authorization: `Bearer ${platform.credentials.apiKey}` },
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      assert.equal(response.status, 200, `${route}: ${text}`);
      return JSON.parse(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const noted = await gateway('POST', 'com.alga.fixture.host-bindings/notes', 'hello');
    assert.equal(noted['last'], 'hello', 'handler(request, host) with HostBindings over storage');
    assert.match(String(noted['scheduler']), /^refused: /);
    // No ui-proxy base is configured on this platform: the reference's answer for that.
    const proxied = await gateway('GET', 'com.alga.fixture.ui-proxy-caller/run?route=/api/v1/platform-reports');
    assert.deepEqual(proxied['result'], { ok: false, error: 'route-not-found' });
    const whole = await gateway('GET', 'com.alga.fixture.full-world/whole');
    assert.deepEqual(whole['secret'], { err: 'missing' });
    assert.deepEqual(whole['storage'], { err: 'denied' }, 'imported, not requested');
    assert.deepEqual(whole['scheduler'].listSchedules, { err: 'denied' });
    assert.equal(whole['invoicing'].ok?.success, false);
    assert.deepEqual(whole['clients'].list, { err: 'not-allowed' });
    assert.deepEqual(whole['services'].get, { err: 'not-allowed' });
  });

  test('extension install <registryId> --version switches the install; a missing version is asked for', async () => {
    const missing = await alga(['extension', 'install', EXT, '--yes'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Which version\? Pass --version/);
    const run = await alga(['extension', 'install', EXT, '-v', '0.1.1', '--yes', '--timeout', '60000'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`Installed ${EXT.replace(/\./g, '\\.')}@0\\.1\\.1`));
  });

  test('the flags stand in for the variables', async () => {
    const run = await alga(
      [
        'extension',
        'install',
        EXT,
        '--version',
        '0.1.1',
        '--yes',
        '--url',
        platform.server.url,
        '--api-key',
        String(platform.credentials.apiKey),
      ],
      {},
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Installed .*@0\.1\.1/, "--version is the command's, not the program's");
  });

  test("--tenant (or ALGA_TENANT_ID) naming another tenant than the key's is refused, naming the remedy", async () => {
    for (const run of [
      await alga(['extension', 'install', EXT, '--version', '0.1.1', '--yes', '--tenant', 'other-tenant'], { env }),
      await alga(['extension', 'uninstall', EXT], { env: { ...env, ALGA_TENANT_ID: 'other-tenant' } }),
    ]) {
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stderr, /x-tenant-id names tenant "other-tenant", but this API key belongs to another tenant/);
    }
  });

  test('extension uninstall removes the install', async () => {
    const run = await alga(['extension', 'uninstall', EXT], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`Uninstalled ${EXT.replace(/\./g, '\\.')}`));
    const again = await alga(['extension', 'uninstall', EXT], { env });
    assert.equal(again.code, 1, 'nothing left to uninstall');
  });
});
