/**
 * Issue 19, "what it must show": fixtures written in the reference host's
 * style, built with its recipe (esbuild, componentize-js against its world,
 * every WASI feature off), packed as its `bundle.tar.zst`, published and
 * installed without any edit through the reference's routes and the CLI,
 * then called through the gateway.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import { componentImports } from '../../packages/server/src/publish/component.ts';
import { referencePack, referenceRecipeBuild } from '../fixtures/reference/recipe.ts';
import { NO_DEADLINE_MS } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = (name: string) => path.join(repo, 'test/fixtures/reference', name);
const ALGA = path.join(repo, 'packages/cli/bin/alga.js');
const SECRET = `ref-key-${Math.random().toString(36).slice(2)}`;

describe('reference-style extensions, built and packed as the reference builds them', () => {
  let work: string;
  let platform: Platform;
  let apiKey: string;
  const bundles = new Map<string, Buffer>();

  const api = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${platform.server.url}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined || Buffer.isBuffer(body) ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  before(async () => {
    // Built before the platform starts: componentize-js is the slow part.
    for (const name of ['secrets-reader', 'host-bindings', 'ui-proxy-caller', 'ui-only']) {
      bundles.set(name, await referencePack(fixture(name), await referenceRecipeBuild(fixture(name))));
    }
    work = await mkdtemp(path.join(tmpdir(), 'alga-ref-recipe-'));
    platform = await startPlatform({
      readyTimeoutMs: NO_DEADLINE_MS,
      dataDir: path.join(work, 'data'),
      serverEnv: { DATABASE_URL: '' },
    });
    apiKey = String(platform.credentials.apiKey);
  });

  after(async () => {
    await platform?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the recipe gives components that import only unversioned alga:extension interfaces, no WASI', async () => {
    const imports = await componentImports(new Uint8Array(await referenceRecipeBuild(fixture('secrets-reader'))));
    assert.ok(imports.length > 0);
    for (const name of imports) assert.match(name, /^alga:extension\/[a-z-]+$/, name);
    assert.ok(imports.includes('alga:extension/storage'), 'the whole world is imported, storage included');
  });

  test('bundle.tar.zst publishes through the reference upload-proxy + finalize pair, wildcard resolved', async () => {
    const archive = bundles.get('secrets-reader')!;
    const { createHash } = await import('node:crypto');
    const declaredHash = createHash('sha256').update(archive).digest('hex');
    const upload = await api(
      'POST',
      `/api/ext-bundles/upload-proxy?filename=bundle.tar.zst&size=${archive.length}&declaredHash=${declaredHash}`,
      archive,
      { 'content-type': 'application/octet-stream', 'x-alga-admin': 'true' },
    );
    assert.equal(upload.status, 200, upload.text);
    const key = (upload.json()['upload'] as { key: string }).key;
    const finalize = await api('POST', '/api/ext-bundles/finalize', { key, declaredHash });
    assert.equal(finalize.status, 200, finalize.text);
    const body = finalize.json() as { extension: { id: string }; version: { version: string }; warnings?: string[] };
    assert.equal(body.extension.id, 'com.alga.fixture.secrets-reader');
    assert.equal(body.version.version, '0.1.0');
    assert.ok(
      body.warnings?.some((w) => /imported, not requested/.test(w) || /storage/.test(w)),
      body.warnings?.join('\n'),
    );
  });

  test('the others publish through POST /api/v1/extensions/publish and alga extension publish <bundle.tar.zst>', async () => {
    for (const name of ['host-bindings', 'ui-only']) {
      const published = await api('POST', '/api/v1/extensions/publish', bundles.get(name)!, {
        'content-type': 'application/zstd',
      });
      assert.ok(published.status === 201 || published.status === 200, `${name}: ${published.text}`);
    }
    const file = path.join(work, 'bundle.tar.zst');
    await writeFile(file, bundles.get('ui-proxy-caller')!);
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [ALGA, 'extension', 'publish', file, '--no-install'], {
        env: {
          ...process.env,
          XDG_CONFIG_HOME: path.join(work, 'config-home'),
          ALGA_SERVER_URL: '',
          ALGA_API_BASE_URL: platform.server.url,
          ALGA_API_KEY: apiKey,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((JSON.parse(run.stdout) as { registryId: string }).registryId, 'com.alga.fixture.ui-proxy-caller');
  });

  test('they install through the reference install route, and the secret ALGA_API_KEY is set as a custom key', async () => {
    for (const [registryId, version] of [
      ['com.alga.fixture.secrets-reader', '0.1.0'],
      ['com.alga.fixture.host-bindings', '1.0.0'],
      ['com.alga.fixture.ui-proxy-caller', '0.2.0'],
      ['com.alga.fixture.ui-only', '1.3.0'],
    ] as const) {
      const installed = await api('POST', '/api/v1/extensions/install', { registryId, version });
      assert.equal(installed.status, 202, `${registryId}: ${installed.text}`);
    }
    const secret = await api('PUT', '/api/v1/installs/com.alga.fixture.secrets-reader/secrets/ALGA_API_KEY', {
      value: SECRET,
    });
    assert.ok(secret.status < 300, secret.text);
  });

  test('through the gateway, with no api section, any path reaches the one handler; the secret is read, never echoed', async () => {
    const reader = await api('GET', '/api/ext/com.alga.fixture.secrets-reader/any/deep/path?x=1');
    assert.equal(reader.status, 200, reader.text);
    const body = reader.json();
    assert.equal(body['apiKeyLength'], SECRET.length);
    assert.deepEqual(body['keys'], ['ALGA_API_KEY']);
    assert.match(String(body['url']), /\/any\/deep\/path/);
    assert.ok(!reader.text.includes(SECRET));
    assert.ok(!platform.server.output().includes(SECRET));
    for (const runner of platform.runners) assert.ok(!runner.output().includes(SECRET));

    const noted = await api('POST', '/api/ext/com.alga.fixture.host-bindings/notes', Buffer.from('hello'));
    assert.equal(noted.status, 200, noted.text);
    const note = noted.json();
    assert.equal(note['last'], 'hello', 'HostBindings storage through createHostBindings');
    assert.equal(note['method'], 'POST');
    assert.match(String(note['scheduler']), /^refused: /);
    const removed = await api('DELETE', '/api/ext/com.alga.fixture.host-bindings/notes/1');
    assert.equal(removed.status, 204, removed.text);

    const proxied = await api('GET', '/api/ext/com.alga.fixture.ui-proxy-caller/run?route=/api/v1/platform-reports');
    assert.equal(proxied.status, 200, proxied.text);
    const result = proxied.json()['result'] as { ok: boolean; error?: string };
    // No platform API base is configured here: the call answers one of the WIT variants, never a trap.
    assert.ok(
      result.ok || ['route-not-found', 'denied', 'bad-request', 'internal'].includes(String(result.error)),
      proxied.text,
    );

    const uiOnly = await api('GET', '/api/ext/com.alga.fixture.ui-only/');
    assert.equal(uiOnly.status, 404, uiOnly.text);
  });
});
