import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

const required = {
  ALGA_BUNDLE_DIR: '/var/bundles',
  ALGA_TRANSIT_KEY_FILE: '/etc/alga/transit.key',
  ALGA_SERVICE_VERIFY_KEY_FILE: '/etc/alga/service-verify.pem',
};

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(required);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8081);
    assert.equal(config.bundleDir, '/var/bundles');
    assert.equal(config.transitKeyFile, '/etc/alga/transit.key');
    assert.ok(config.workers >= 1 && config.workers <= 2);
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
    const config = loadConfig({
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
      () => loadConfig({ ...required, RUNNER_UI_PROXY_ROUTES: '{"a":"file:///etc/passwd"}' }),
      /RUNNER_UI_PROXY_ROUTES route "a"/,
    );
    assert.throws(
      () => loadConfig({ ...required, RUNNER_DEFAULT_MEMORY_MB: '1024', RUNNER_MAX_MEMORY_MB: '512' }),
      /RUNNER_MAX_MEMORY_MB/,
    );
  });

  it('reads every variable', () => {
    const config = loadConfig({
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
      () => loadConfig({ RUNNER_PORT: '70000', RUNNER_WORKERS: 'two', LOG_LEVEL: 'loud' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
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

  it('refuses a default timeout above the maximum', () => {
    assert.throws(() => loadConfig({ ...required, RUNNER_DEFAULT_TIMEOUT_MS: '40000' }), /RUNNER_MAX_TIMEOUT_MS/);
  });
});
