/**
 * Issue 19, "what it must show": fixtures written in the reference host's
 * style, built with its recipe (esbuild, componentize-js against its world,
 * every WASI feature off), packed as its `bundle.tar.zst`, published and
 * installed without any edit through the reference's routes and the CLI,
 * then called through the gateway.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import { runToExit } from '../../scripts/lib/processes.ts';
import { componentImports } from '../../packages/server/src/publish/component.ts';
import { referencePack, referenceRecipeBuild } from '../fixtures/reference/recipe.ts';
import { NO_DEADLINE_MS } from '../adversarial/lib/system.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = (name: string) => path.join(repo, 'test/fixtures/reference', name);
const ALGA = path.join(repo, 'packages/cli/bin/alga.js');
const SECRET = `ref-key-${Math.random().toString(36).slice(2)}`;
const PROXY_KEY = `proxy-key-${Math.random().toString(36).slice(2)}`;

interface Seen {
  method: string;
  path: string;
  apiKey: string | undefined;
  extension: string | undefined;
  body: string;
}

/**
 * One loopback server standing in for the platform API (under /platform),
 * an extension's own backend (under /ext) and an egress target (/egress).
 * `/platform/api/v1/status/<code>` answers that status.
 */
async function startUpstream(): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const read = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const server = createServer((request, response) => {
    void read(request).then((body) => {
      const path = request.url ?? '/';
      const header = (name: string) => request.headers[name] as string | undefined;
      seen.push({
        method: request.method ?? '',
        path,
        apiKey: header('x-api-key'),
        extension: header('x-alga-extension'),
        body,
      });
      const status = /^\/platform\/api\/v1\/status\/(\d{3})/.exec(path);
      if (status) {
        response.writeHead(Number(status[1]), { 'content-type': 'application/json' }).end('{"error":"as asked"}');
        return;
      }
      const where = path.startsWith('/platform/') ? 'api' : path.startsWith('/ext/') ? 'extension' : 'egress';
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ where, method: request.method, path, body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('reference-style extensions, built and packed as the reference builds them', () => {
  let work: string;
  let platform: Platform;
  let apiKey: string;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
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
    for (const name of ['secrets-reader', 'host-bindings', 'ui-proxy-caller', 'ui-only', 'full-world']) {
      bundles.set(name, await referencePack(fixture(name), await referenceRecipeBuild(fixture(name))));
    }
    work = await mkdtemp(path.join(tmpdir(), 'alga-ref-recipe-'));
    upstream = await startUpstream();
    platform = await startPlatform({
      readyTimeoutMs: NO_DEADLINE_MS,
      dataDir: path.join(work, 'data'),
      serverEnv: { DATABASE_URL: '' },
      runnerEnv: {
        // ui-proxy path routes (REFERENCE-HOST.md §4) and http.fetch reach the test's loopback upstream.
        RUNNER_UI_PROXY_API_BASE: `${upstream.url}/platform`,
        RUNNER_UI_PROXY_EXTENSION_BASE: `${upstream.url}/ext`,
        RUNNER_HTTP_ALLOW_PRIVATE: '127.0.0.1/32',
      },
    });
    apiKey = String(platform.credentials.apiKey);
  });

  after(async () => {
    await platform?.stop();
    upstream?.server.close();
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
    for (const name of ['host-bindings', 'ui-only', 'full-world']) {
      const published = await api('POST', '/api/v1/extensions/publish', bundles.get(name)!, {
        'content-type': 'application/zstd',
      });
      assert.ok(published.status === 201 || published.status === 200, `${name}: ${published.text}`);
    }
    const file = path.join(work, 'bundle.tar.zst');
    await writeFile(file, bundles.get('ui-proxy-caller')!);
    const run = await runToExit(process.execPath, [ALGA, 'extension', 'publish', file, '--no-install'], {
      cwd: work,
      env: {
        ...process.env,
        XDG_CONFIG_HOME: path.join(work, 'config-home'),
        ALGA_SERVER_URL: '',
        ALGA_API_BASE_URL: platform.server.url,
        ALGA_API_KEY: apiKey,
      },
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
      ['com.alga.fixture.full-world', '2.0.0'],
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

    const uiOnly = await api('GET', '/api/ext/com.alga.fixture.ui-only/');
    assert.equal(uiOnly.status, 404, uiOnly.text);
  });

  test('ui-proxy path routes: /api/… reaches the platform API base, others the extension base, failures map as the reference maps them', async () => {
    const call = async (route: string, payload?: unknown) => {
      const answer = await api(
        payload === undefined ? 'GET' : 'POST',
        `/api/ext/com.alga.fixture.ui-proxy-caller/run?route=${encodeURIComponent(route)}`,
        payload === undefined ? undefined : payload,
      );
      assert.equal(answer.status, 200, answer.text);
      return answer.json()['result'] as { ok: boolean; body?: string; error?: string };
    };
    const api1 = await call('/api/v1/platform-reports?limit=5');
    assert.ok(api1.ok, JSON.stringify(api1));
    const reached = JSON.parse(api1.body!) as { where: string; method: string; path: string };
    assert.deepEqual(
      [reached.where, reached.method, reached.path],
      ['api', 'GET', '/platform/api/v1/platform-reports?limit=5'],
      'no extension prefix under the API base; the query is kept',
    );

    const own = await call('/reports/7', { __method: 'PUT', title: 'x' });
    assert.ok(own.ok, JSON.stringify(own));
    const ownReached = JSON.parse(own.body!) as { where: string; method: string; path: string; body: string };
    assert.equal(ownReached.where, 'extension');
    assert.equal(ownReached.method, 'POST', 'a payload makes it a POST; __method rides inside for the platform');
    assert.match(ownReached.path, /^\/ext\/[^/]+\/reports\/7$/, 'below /<extension id>/ on the extension base');
    assert.deepEqual(JSON.parse(ownReached.body), { __method: 'PUT', title: 'x' });
    const hit = upstream.seen.find((entry) => entry.path === ownReached.path)!;
    assert.equal(
      ownReached.path,
      `/ext/${encodeURIComponent(hit.extension!)}/reports/7`,
      'the id in the path is x-alga-extension',
    );

    // The reference's status → variant table (REFERENCE-HOST.md §4).
    for (const [status, variant] of [
      ['401', 'denied'],
      ['403', 'denied'],
      ['429', 'denied'],
      ['404', 'route-not-found'],
      ['400', 'bad-request'],
      ['422', 'bad-request'],
      ['500', 'internal'],
      ['503', 'internal'],
    ] as const) {
      assert.deepEqual(await call(`/api/v1/status/${status}`), { ok: false, error: variant }, `upstream ${status}`);
    }
    assert.deepEqual(await call('/reports/../../platform/api/v1/x'), { ok: false, error: 'bad-request' });
  });

  test('built against the full twelve-interface world: it instantiates; provided interfaces work, the PSA ones refuse with their own variant', async () => {
    const ext = 'com.alga.fixture.full-world';
    for (const [name, value] of [
      ['ALGA_API_KEY', SECRET],
      ['api_key', PROXY_KEY],
    ]) {
      const set = await api('PUT', `/api/v1/installs/${ext}/secrets/${name}`, { value });
      assert.ok(set.status < 300, set.text);
    }
    const granted = await api('PUT', `/api/v1/installs/${ext}/egress`, { hosts: [upstream.url] });
    assert.equal(granted.status, 200, granted.text);

    const answer = await api(
      'GET',
      `/api/ext/${ext}/whole?egress=${encodeURIComponent(`${upstream.url}/egress/ping`)}`,
    );
    assert.equal(answer.status, 200, answer.text);
    assert.ok(!answer.text.includes(SECRET) && !answer.text.includes(PROXY_KEY));
    const body = answer.json() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    // Provided: context, secrets (a custom key), http (per-install grant), ui-proxy (x-api-key from api_key).
    assert.equal(typeof body['context'].tenantId, 'string');
    assert.deepEqual(body['secret'], { ok: SECRET.length });
    assert.deepEqual([...(body['keys'] as string[])].sort(), ['ALGA_API_KEY', 'api_key']);
    assert.equal(body['http'].ok?.status, 200, JSON.stringify(body['http']));
    assert.equal(JSON.parse(body['http'].ok.body as string).where, 'egress');
    assert.equal(JSON.parse(body['uiProxy'].ok as string).path, '/platform/api/v1/full-world');
    const proxiedCall = upstream.seen.find((entry) => entry.path === '/platform/api/v1/full-world')!;
    assert.equal(proxiedCall.apiKey, PROXY_KEY, 'the install secret api_key goes as x-api-key');
    // Imported, not requested: the deny path, no backend touched.
    assert.deepEqual(body['storage'], { err: 'denied' });
    // user and user-v2 answer their own variants (an API key has no signed-in user here).
    for (const key of ['user', 'userV2']) {
      assert.ok(
        body[key].ok !== undefined || ['not-available', 'not-allowed'].includes(body[key].err as string),
        `${key}: ${JSON.stringify(body[key])}`,
      );
    }
    // Not provided here: each answers its own refusal, never a trap.
    assert.deepEqual(body['scheduler'].listSchedules, { err: 'denied' });
    assert.deepEqual(body['scheduler'].getSchedule, { err: 'denied' });
    assert.deepEqual(body['scheduler'].getEndpoints, { err: 'denied' });
    for (const call of ['createSchedule', 'updateSchedule', 'deleteSchedule']) {
      assert.equal(body['scheduler'][call].ok?.success, false, `${call}: ${JSON.stringify(body['scheduler'][call])}`);
    }
    assert.equal(body['invoicing'].ok?.success, false, JSON.stringify(body['invoicing']));
    assert.deepEqual(body['clients'], { list: { err: 'not-allowed' }, get: { err: 'not-allowed' } });
    assert.deepEqual(body['services'], { list: { err: 'not-allowed' }, get: { err: 'not-allowed' } });
    for (const runner of platform.runners) {
      assert.ok(!runner.output().includes(SECRET) && !runner.output().includes(PROXY_KEY));
    }
  });
});
