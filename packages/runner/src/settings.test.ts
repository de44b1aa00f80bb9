import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import {
  QUEUE_PER_WORKER,
  readSettings,
  resolveSettings,
  SettingsError,
  settingsReference,
  unknownVariables,
} from './settings.ts';

const required = {
  ALGA_BUNDLE_DIR: '/var/bundles',
  ALGA_TRANSIT_KEY_FILE: '/etc/alga/transit.key',
  ALGA_SERVICE_VERIFY_KEY_FILE: '/etc/alga/service-verify.pem',
};

describe('the runner process reads its settings from the environment', () => {
  it('applies the documented defaults', () => {
    const config = readSettings(required);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8081);
    assert.equal(config.bundleDir, '/var/bundles');
    assert.equal(config.transitKeyFile, '/etc/alga/transit.key');
    assert.ok(config.workers >= 1 && config.workers <= 2);
    assert.equal(config.queueLimit, config.workers * QUEUE_PER_WORKER);
    assert.equal(config.defaultTimeoutMs, 5000);
    assert.equal(config.maxTimeoutMs, 30000);
    assert.equal(config.secretCacheTtlMs, 60000);
    assert.equal(config.serviceVerifyKeyFile, '/etc/alga/service-verify.pem');
    assert.equal(config.defaultMemoryMb, 128);
    assert.equal(config.maxMemoryMb, 512);
    assert.equal(config.uiProxyRoutes.size, 0);
    assert.equal(config.logLevel, 'info');
  });

  it('reads the memory caps and the ui-proxy route table', () => {
    const config = readSettings({
      ...required,
      RUNNER_DEFAULT_MEMORY_MB: '64',
      RUNNER_MAX_MEMORY_MB: '256',
      RUNNER_UI_PROXY_ROUTES: JSON.stringify({ sync: 'https://host.example/hooks/sync' }),
    });
    assert.equal(config.defaultMemoryMb, 64);
    assert.equal(config.maxMemoryMb, 256);
    assert.equal(config.uiProxyRoutes.get('sync')?.href, 'https://host.example/hooks/sync');
  });

  it('refuses an invalid ui-proxy route table and a default memory cap above the maximum', () => {
    assert.throws(
      () => readSettings({ ...required, RUNNER_UI_PROXY_ROUTES: '{"a":"file:///etc/passwd"}' }),
      /RUNNER_UI_PROXY_ROUTES: route "a"/,
    );
    assert.throws(
      () => readSettings({ ...required, RUNNER_DEFAULT_MEMORY_MB: '1024', RUNNER_MAX_MEMORY_MB: '512' }),
      /RUNNER_MAX_MEMORY_MB/,
    );
  });

  it('reads every variable', () => {
    const config = readSettings({
      ...required,
      RUNNER_HOST: '0.0.0.0',
      RUNNER_PORT: '0',
      RUNNER_WORKERS: '4',
      RUNNER_DEFAULT_TIMEOUT_MS: '100',
      RUNNER_MAX_TIMEOUT_MS: '200',
      RUNNER_SECRET_CACHE_TTL_MS: '300',
      LOG_LEVEL: 'debug',
    });
    assert.deepEqual(
      [
        config.host,
        config.port,
        config.workers,
        config.defaultTimeoutMs,
        config.maxTimeoutMs,
        config.secretCacheTtlMs,
        config.logLevel,
      ],
      ['0.0.0.0', 0, 4, 100, 200, 300, 'debug'],
    );
  });

  it('reports every problem at once, naming each variable', () => {
    assert.throws(
      () => readSettings({ RUNNER_PORT: '70000', RUNNER_WORKERS: 'two', LOG_LEVEL: 'loud' }),
      (error: unknown) => {
        assert.ok(error instanceof SettingsError);
        const text = error.problems.join('\n');
        for (const name of [
          'ALGA_BUNDLE_DIR',
          'ALGA_TRANSIT_KEY_FILE',
          'ALGA_SERVICE_VERIFY_KEY_FILE',
          'RUNNER_PORT',
          'RUNNER_WORKERS',
          'LOG_LEVEL',
        ]) {
          assert.match(text, new RegExp(name));
        }
        return true;
      },
    );
  });

  it('checks the engine settings with the rest, before anything starts', () => {
    assert.doesNotThrow(() => readSettings({ ...required, RUNNER_INSTANCE_MODE: 'fresh', RUNNER_INLINE_FUEL: '0' }));
    assert.throws(
      () => readSettings({ ...required, RUNNER_INSTANCE_MODE: 'sometimes', RUNNER_INLINE_FUEL: '-1' }),
      (error: unknown) => {
        assert.ok(error instanceof SettingsError);
        assert.equal(error.problems.length, 2);
        assert.match(error.problems[0]!, /RUNNER_INSTANCE_MODE must be reset or fresh, got "sometimes"/);
        assert.match(error.problems[1]!, /RUNNER_INLINE_FUEL must be an integer between 0 and 1000000000, got "-1"/);
        return true;
      },
    );
    assert.throws(() => readSettings({ ...required, RUNNER_INLINE_FUEL: '1.5' }), /RUNNER_INLINE_FUEL/);
  });

  it('names the runner variables it does not know, so a stale or misspelt one is not silently ignored', () => {
    assert.deepEqual(unknownVariables({ ...required, RUNNER_WORKERS: '2', RUNNER_BUSY_POLL_US: '250', RUNER_X: '1' }), [
      'RUNNER_BUSY_POLL_US',
    ]);
  });

  it('refuses a default timeout above the maximum', () => {
    assert.throws(() => readSettings({ ...required, RUNNER_DEFAULT_TIMEOUT_MS: '40000' }), /RUNNER_MAX_TIMEOUT_MS/);
  });

  it('defaults to the local keyring and the bundle directory, and opens no private range', () => {
    const config = readSettings(required);
    assert.equal(config.transit, 'local');
    assert.equal(config.bundleStoreKind, 'dir');
    assert.equal(config.httpAllowPrivate.size, 0);
  });

  it('ALGA_TRANSIT=vault needs the Vault settings instead of a key file, and names each missing one', () => {
    const vault = {
      ALGA_BUNDLE_DIR: '/var/bundles',
      ALGA_SERVICE_VERIFY_KEY_FILE: '/etc/alga/service-verify.pem',
      ALGA_TRANSIT: 'vault',
    };
    assert.throws(
      () => readSettings(vault),
      /ALGA_TRANSIT=vault needs VAULT_ADDR, VAULT_TRANSIT_KEY, VAULT_TOKEN_FILE/,
    );
    const config = readSettings({
      ...vault,
      VAULT_ADDR: 'https://vault.internal:8200',
      VAULT_TRANSIT_KEY: 'alga-ext',
      VAULT_TOKEN_FILE: '/etc/alga/vault/token',
    });
    assert.equal(config.transit, 'vault');
    assert.equal(config.transitKeyFile, '');
    assert.throws(() => readSettings({ ...required, ALGA_TRANSIT: 'kms' }), /ALGA_TRANSIT must be "local" or "vault"/);
  });

  it('ALGA_BUNDLE_STORE=s3 needs no bundle directory but its endpoint and bucket; other stores are refused', () => {
    const s3 = {
      ALGA_TRANSIT_KEY_FILE: '/etc/alga/transit.key',
      ALGA_SERVICE_VERIFY_KEY_FILE: '/etc/alga/service-verify.pem',
      ALGA_BUNDLE_STORE: 's3',
    };
    assert.throws(() => readSettings(s3), /ALGA_BUNDLE_STORE=s3 needs S3_ENDPOINT, S3_BUCKET/);
    const config = readSettings({ ...s3, S3_ENDPOINT: 'https://minio.internal:9000', S3_BUCKET: 'bundles' });
    assert.equal(config.bundleStoreKind, 's3');
    assert.equal(config.bundleDir, '');
    assert.throws(
      () => readSettings({ ...required, ALGA_BUNDLE_STORE: 'ftp' }),
      /ALGA_BUNDLE_STORE must be dir or s3, got "ftp"/,
    );
  });

  it('RUNNER_HTTP_ALLOW_PRIVATE opens the listed CIDRs and refuses text that is not one', () => {
    const config = readSettings({ ...required, RUNNER_HTTP_ALLOW_PRIVATE: '127.0.0.0/8, 10.1.0.0/16' });
    assert.equal(config.httpAllowPrivate.size, 2);
    assert.throws(
      () => readSettings({ ...required, RUNNER_HTTP_ALLOW_PRIVATE: '127.0.0.1' }),
      /RUNNER_HTTP_ALLOW_PRIVATE: Not a CIDR range: "127.0.0.1"/,
    );
  });
});

describe('embedders get the same settings as the process', () => {
  it("fills in every default the process reads, the providers' sections included", () => {
    const {
      host: _host,
      port: _port,
      bundleStoreKind: _kind,
      bundleDir: _dir,
      transit: _transit,
      ...read
    } = readSettings(required);
    const { transitKeyFile: _key, serviceVerifyKeyFile: _verify, trustPolicyFile: _trust, ...fromEnvironment } = read;
    const resolved = resolveSettings();
    assert.deepEqual(
      { ...fromEnvironment, httpAllowPrivate: String(fromEnvironment.httpAllowPrivate) },
      { ...resolved, httpAllowPrivate: String(resolved.httpAllowPrivate) },
    );
    assert.equal(resolved.queueLimit, resolved.workers * QUEUE_PER_WORKER);
    assert.equal(resolved.secretCacheTtlMs, 60_000);
    assert.equal(resolved.uiProxyRoutes.size, 0);
  });

  it('keeps what the embedder gives and derives the queue from the workers it asked for', () => {
    const resolved = resolveSettings({
      workers: 3,
      inlineFuel: 0,
      uiProxyRoutes: new Map([['a', new URL('http://x/')]]),
    });
    assert.equal(resolved.queueLimit, 3 * QUEUE_PER_WORKER);
    assert.equal(resolved.inlineFuel, 0);
    assert.equal(resolved.uiProxyRoutes.get('a')?.href, 'http://x/');
    assert.equal(resolveSettings({ workers: 3, queueLimit: 1 }).queueLimit, 1);
  });

  it('refuses contradictory values from an embedder as from the environment', () => {
    assert.throws(() => resolveSettings({ defaultMemoryMb: 1024, maxMemoryMb: 512 }), SettingsError);
  });

  it('every variable an operator can set is in docs/operations.md', async () => {
    const operations = await readFile(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    const missing = settingsReference()
      .map(({ env }) => env)
      .filter((env) => !operations.includes(`\`${env}\``));
    assert.deepEqual(missing, []);
  });
});
