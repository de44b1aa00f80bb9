/**
 * The HTTP surface of an in-process runner: validation and error mapping.
 * These need no real component (see engine/engine.test.ts for those).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseContentHash } from '@alga-psa/bundle-store';
import { createHarness, envelopeFor, executeRequest, type Harness } from './testing/harness.ts';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT built by hand, to forge what ServiceTokenSigner never would (past expiry, alg none). */
function forge(claims: Record<string, unknown>, key?: KeyObject, alg = 'EdDSA'): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: 'alga-server', aud: 'alga-runner', iat: now, exp: now + 30, ...claims };
  const input = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}`;
  return `${input}.${key ? sign(null, Buffer.from(input), key).toString('base64url') : ''}`;
}

describe('runner HTTP API', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ workers: 1 });
  });
  after(async () => {
    await h?.close();
  });

  const absent = `sha256:${'a'.repeat(64)}`;

  it('answers /healthz with status ok', async () => {
    const res = await h.runner.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('rejects a malformed execute request with 400 ALGA_VALIDATION_FAILED naming the field', async () => {
    const { context: _context, ...withoutContext } = executeRequest(absent);
    for (const [payload, field] of [
      [withoutContext, 'body'],
      [{ ...executeRequest(absent), providers: 'cap:log.emit' }, 'body.providers'],
      [executeRequest('md5:abc'), 'body.context.content_hash'],
      [{ ...executeRequest(absent), egress: { allowed_hosts: 'api.example.com' } }, 'body.egress.allowed_hosts'],
    ] as const) {
      const res = await h.runner.app.inject({
        method: 'POST',
        url: '/v1/execute',
        headers: { authorization: `Bearer ${await h.token(executeRequest(absent))}` },
        payload,
      });
      assert.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80));
      assert.equal(res.json().error.code, 'ALGA_VALIDATION_FAILED');
      assert.equal(res.json().error.details[0].field, field);
    }
  });

  it('rejects a body that is not JSON with 400 ALGA_BAD_REQUEST', async () => {
    const res = await h.runner.app.inject({
      method: 'POST',
      url: '/v1/execute',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token(executeRequest(absent))}` },
      payload: '{not json',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'ALGA_BAD_REQUEST');
  });

  it('rejects an unknown capability id with 400 ALGA_UNKNOWN_CAPABILITY naming it', async () => {
    const res = await h.execute(executeRequest(absent, { providers: ['cap:log.emit', 'cap:teleport'] }));
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'ALGA_UNKNOWN_CAPABILITY');
    assert.match(res.json().error.message, /cap:teleport/);
  });

  it('answers 404 ALGA_BUNDLE_NOT_FOUND for an absent bundle, with the request id', async () => {
    const res = await h.execute(executeRequest(absent));
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'ALGA_BUNDLE_NOT_FOUND');
    assert.equal(res.json().error.requestId, 'req-1');
  });

  it('answers 422 ALGA_BUNDLE_HASH_MISMATCH when the stored bytes do not match their hash', async () => {
    const hash = await h.bundleStore.put(new Uint8Array([0, 97, 115, 109]));
    await writeFile(path.join(h.bundleStore.root, 'sha256', parseContentHash(hash), 'component.wasm'), 'tampered');
    const res = await h.execute(executeRequest(hash));
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'ALGA_BUNDLE_HASH_MISMATCH');
  });

  it('answers 422 ALGA_INVALID_COMPONENT for bytes that are not a component', async () => {
    const hash = await h.bundleStore.put(new TextEncoder().encode('not wasm at all'));
    const res = await h.execute(executeRequest(hash));
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'ALGA_INVALID_COMPONENT');
  });

  it('logs health, readiness and metrics probes at debug level only, so they stay out of an info log', async () => {
    const before = h.logs.length;
    for (const url of ['/healthz', '/readyz', '/metrics']) await h.runner.app.inject({ method: 'GET', url });
    const probes = h.logs.slice(before).filter((line) => typeof line.level === 'number' && line.level >= 30);
    assert.deepEqual(probes, []);
    await h.runner.app.inject({ method: 'GET', url: '/nope' });
    assert.ok(h.logs.length > before, 'other requests are still logged');
  });

  it('answers unknown routes with 404 ALGA_NOT_FOUND', async () => {
    const res = await h.runner.app.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'ALGA_NOT_FOUND');
  });

  it('never logs the secret envelope, the server token or the authorization header', async () => {
    const envelope = await envelopeFor(h.keyring, { api_key: 'zzz' });
    await h.execute(executeRequest(absent, { secret_envelope: envelope }), 'top-secret-token');
    await h.execute(executeRequest(absent, { secret_envelope: envelope, server_token: 'server-token-value' }));
    h.runner.app.log.info(
      { req: { headers: { authorization: 'Bearer top-secret-token' } }, body: { secret_envelope: envelope } },
      'probe',
    );
    h.runner.app.log.info({ body: { server_token: 'server-token-value' } }, 'probe');
    const all = JSON.stringify(h.logs);
    assert.ok(!all.includes('top-secret-token'));
    assert.ok(!all.includes('server-token-value'));
    assert.ok(!all.includes(envelope.ciphertexts.api_key!));
  });
});

describe('runner service-token check on /v1/execute', () => {
  let h: Harness;
  let serverKey: KeyObject;
  const absent = `sha256:${'a'.repeat(64)}`;
  const payload = executeRequest(absent);

  before(async () => {
    h = await createHarness({ workers: 1 });
    serverKey = createPrivateKey(await readFile(path.join(h.dir, 'service', 'service-signing.pem'), 'utf8'));
  });
  after(async () => {
    await h?.close();
  });

  const refused = async (token: string | null, status: number, code: string) => {
    const res = await h.execute(payload, token);
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().error.code, code);
  };

  it('lets a valid token for this tenant and install through (to the bundle lookup)', async () => {
    assert.equal((await h.execute(payload)).statusCode, 404);
  });

  it('refuses a request without a token with 401 ALGA_UNAUTHENTICATED', async () => {
    await refused(null, 401, 'ALGA_UNAUTHENTICATED');
    await refused('', 401, 'ALGA_UNAUTHENTICATED');
  });

  it('refuses an expired token with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { tid: 'tenant-1', iid: 'install-1', scope: 'execute', iat: now - 40, exp: now - 10 };
    await refused(forge(claims, serverKey), 401, 'ALGA_UNAUTHENTICATED');
  });

  it('refuses a token for another audience (alga-server) with 401', async () => {
    const token = await h.token(payload, { audience: 'alga-server' });
    await refused(token, 401, 'ALGA_UNAUTHENTICATED');
  });

  it('refuses an unsigned token (alg none) with 401', async () => {
    await refused(
      forge({ tid: 'tenant-1', iid: 'install-1', scope: 'execute' }, undefined, 'none'),
      401,
      'ALGA_UNAUTHENTICATED',
    );
  });

  it('refuses a token signed by another key with 401', async () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    await refused(forge({ tid: 'tenant-1', iid: 'install-1', scope: 'execute' }, other), 401, 'ALGA_UNAUTHENTICATED');
  });

  it('refuses a token that lives longer than 60 s, even when correctly signed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { tid: 'tenant-1', iid: 'install-1', scope: 'execute', iat: now - 120, exp: now + 600 };
    await refused(forge(claims, serverKey), 401, 'ALGA_UNAUTHENTICATED');
  });

  it('refuses a token for another tenant or another install with 403 ALGA_FORBIDDEN', async () => {
    await refused(await h.token(payload, { tenantId: 'tenant-2' }), 403, 'ALGA_FORBIDDEN');
    await refused(await h.token(payload, { installId: 'install-2' }), 403, 'ALGA_FORBIDDEN');
  });

  it('refuses a token without the execute scope with 403', async () => {
    await refused(await h.token(payload, { scope: ['storage'] }), 403, 'ALGA_FORBIDDEN');
  });
});

describe('runner /v1/execute over a socket (the hand-written route, execute-route.ts)', () => {
  let h: Harness;
  let url: string;
  const absent = `sha256:${'a'.repeat(64)}`;
  const payload = executeRequest(absent);
  const limit = 4096;

  before(async () => {
    h = await createHarness({ workers: 1, bodyLimit: limit });
    url = await h.runner.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await h?.close();
  });

  const post = async (body: BodyInit | undefined, headers: Record<string, string> = {}) => {
    const res = await fetch(`${url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    return { status: res.status, body: (await res.json()) as { error: { code: string; requestId?: string } } };
  };
  const withToken = async (claims = {}) => ({ authorization: `Bearer ${await h.token(payload, claims)}` });

  it('refuses a missing token with 401 and a token without the execute scope with 403, before reading the body', async () => {
    assert.deepEqual((await post('{not json')).status, 401);
    assert.equal((await post('{not json')).body.error.code, 'ALGA_UNAUTHENTICATED');
    const scoped = await post('{not json', await withToken({ scope: ['prepare'] }));
    assert.deepEqual([scoped.status, scoped.body.error.code], [403, 'ALGA_FORBIDDEN']);
    const elsewhere = await post(JSON.stringify(payload), await withToken({ installId: 'install-2' }));
    assert.deepEqual([elsewhere.status, elsewhere.body.error.code], [403, 'ALGA_FORBIDDEN']);
  });

  it('refuses a body over the limit with 413, by its Content-Length and when it arrives chunked', async () => {
    const big = JSON.stringify({ ...payload, config: { pad: 'x'.repeat(limit) } });
    const declared = await post(big, await withToken());
    assert.deepEqual([declared.status, declared.body.error.code], [413, 'ALGA_PAYLOAD_TOO_LARGE']);
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1024)));
        controller.close();
      },
    });
    const chunked = await post(stream, await withToken());
    assert.deepEqual([chunked.status, chunked.body.error.code], [413, 'ALGA_PAYLOAD_TOO_LARGE']);
  });

  it('refuses a body that is not JSON or poisons a prototype with 400 ALGA_BAD_REQUEST, and another content type with 415', async () => {
    const auth = await withToken();
    for (const body of [
      '{not json',
      '{"__proto__": {"admin": true}}',
      '{"constructor": {"prototype": {"admin": true}}}',
      '',
    ]) {
      const res = await post(body, { ...auth, 'content-type': 'application/json' });
      assert.deepEqual([res.status, res.body.error.code], [400, 'ALGA_BAD_REQUEST'], body);
    }
    const text = await post(JSON.stringify(payload), { ...auth, 'content-type': 'text/plain' });
    assert.deepEqual([text.status, text.body.error.code], [415, 'ALGA_UNSUPPORTED_MEDIA_TYPE']);
  });

  it('refuses a body the schema refuses with 400 ALGA_VALIDATION_FAILED, naming the request id', async () => {
    const res = await post(JSON.stringify({ ...payload, providers: 'cap:log.emit' }), await withToken());
    assert.deepEqual([res.status, res.body.error.code], [400, 'ALGA_VALIDATION_FAILED']);
    assert.equal(res.body.error.requestId, payload.context.request_id);
  });

  it('answers exactly as through Fastify (inject), and leaves every other route to Fastify', async () => {
    const auth = await withToken();
    for (const body of [
      JSON.stringify(payload),
      '{not json',
      JSON.stringify({ ...payload, providers: ['cap:nope'] }),
    ]) {
      const socket = await post(body, auth);
      const injected = await h.runner.app.inject({
        method: 'POST',
        url: '/v1/execute',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: body,
      });
      assert.deepEqual([socket.status, socket.body], [injected.statusCode, injected.json()]);
    }
    assert.equal((await post(JSON.stringify(payload), auth)).body.error.code, 'ALGA_BUNDLE_NOT_FOUND');
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const wrongMethod = await fetch(`${url}/v1/execute`);
    assert.deepEqual(
      [wrongMethod.status, ((await wrongMethod.json()) as { error: { code: string } }).error.code],
      [404, 'ALGA_NOT_FOUND'],
    );
  });

  it('writes the access line of a refused request at info, with its own request id', async () => {
    const before = h.logs.length;
    await post('{}');
    const line = h.logs.slice(before).find((l) => l.msg === 'request completed');
    assert.ok(line, 'no access line');
    assert.equal(line.level, 30);
    assert.match(String(line.reqId), /^req-/);
    assert.deepEqual(line.res, { statusCode: 401 });
    assert.equal((line.req as { url: string }).url, '/v1/execute');
  });
});

describe('runner readiness and metrics', () => {
  it('answers /readyz ready, degraded when only transit fails, and 503 naming what fails when bundles do', async () => {
    const h = await createHarness({ workers: 1 });
    try {
      const ready = await h.runner.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { status: 'ready' });
    } finally {
      await h.close();
    }
    const vaultDown = await createHarness({
      workers: 1,
      decrypter: { decrypt: () => Promise.reject(new Error('down')), ready: () => Promise.reject(new Error('sealed')) },
    });
    try {
      const res = await vaultDown.runner.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'degraded', degraded: ['transit'] });
    } finally {
      await vaultDown.close();
    }
    const broken = await createHarness({
      workers: 1,
      bundleStore: {
        put: () => Promise.reject(new Error('read-only')),
        get: () => Promise.reject(Object.assign(new Error('EACCES: /secret/path'), { code: 'EACCES' })),
      },
      decrypter: { decrypt: () => Promise.reject(new Error('down')), ready: () => Promise.reject(new Error('sealed')) },
    });
    try {
      const res = await broken.runner.app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'unavailable', failing: ['bundle-store', 'transit'] });
      assert.doesNotMatch(res.body, /secret\/path|sealed/);
    } finally {
      await broken.close();
    }
  });

  it('serves Prometheus metrics whose labels carry outcomes only, never tenant or install ids', async () => {
    const h = await createHarness({ workers: 1 });
    try {
      await h.execute(executeRequest(`sha256:${'b'.repeat(64)}`));
      const res = await h.runner.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/plain/);
      assert.match(res.body, /alga_runner_executions_total\{outcome="ALGA_BUNDLE_NOT_FOUND"\} 1/);
      for (const name of [
        'alga_runner_execution_duration_seconds',
        'alga_runner_secret_cache_lookups_total',
        'alga_runner_secret_decrypts_total',
        'alga_runner_limit_kills_total',
        'alga_runner_worker_restarts_total',
        'alga_runner_queue_depth',
      ]) {
        assert.match(res.body, new RegExp(`# TYPE ${name} `));
      }
      assert.doesNotMatch(res.body, /tenant-1|install-1|ext-1/);
    } finally {
      await h.close();
    }
  });
});
