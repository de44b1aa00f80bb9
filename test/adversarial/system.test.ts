/**
 * Adversarial cases through the real processes (server, runner, hostile
 * guest component, loopback upstream). Cases already proven in-process by a
 * unit test are not repeated here; docs/security.md points at those tests.
 * What this file adds is the same promises held end to end: a hostile guest
 * cannot take down the runner, leak the canary secret, escape egress rules
 * or reach another tenant, whatever the gateway's clients send.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spanAttribute, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '@alga-psa/protocol/testing';
import { RUNNER_API_PREFIX } from '@alga-psa/protocol';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { canaryForms, canaryRun, recordArtifact, scanForCanary } from './lib/canary.ts';
import {
  DRIP_LIFETIME_MS,
  gatewayCall,
  rawExchange,
  repo,
  startSystem,
  startUpstream,
  until,
  type System,
  type Upstream,
} from './lib/system.ts';

const { canary } = canaryRun();
const FIXTURE = path.join(repo, 'test/fixtures/hostile');
const UI_PASSWORD = 'correct horse battery staple 1';

/** Sums a Prometheus counter over all its label sets. */
const counter = (metrics: string, name: string): number =>
  metrics
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);

const hasCanary = (text: string): boolean => canaryForms(canary).some((form) => text.includes(form));

describe('adversarial: hostile guests and clients against the real processes', () => {
  let sys: System;
  let upstream: Upstream;
  /** Both processes export every span of this file here (tracing on, short batch delay). */
  let otlp: OtlpReceiver;
  let keyB: string;
  const call = (extPath: string, init?: Parameters<typeof gatewayCall>[3]) =>
    gatewayCall(sys.server.url, keyB, `hostile${extPath}`, init);
  const runnerMetrics = async () => {
    const text = await (await fetch(`${sys.runners[0]!.url}/metrics`)).text();
    await recordArtifact('metrics', 'adversarial-runner.prom', text);
    return text;
  };

  before(async () => {
    upstream = await startUpstream();
    otlp = await startOtlpReceiver();
    // Tracing on for the whole file: every hostile case below also runs through the span code, and the
    // final scan reads every exported span for the canary.
    const tracing = {
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    sys = await startSystem({
      name: 'adversarial',
      // Only the fixture upstream's exact address: every other private address stays refused.
      runnerEnv: {
        RUNNER_HTTP_ALLOW_PRIVATE: '127.0.0.1/32',
        RUNNER_DEFAULT_MEMORY_MB: '128',
        RUNNER_HTTP_TRACEPARENT: 'on',
        ...tracing,
      },
      serverEnv: { ALGA_GATEWAY_RATE_LIMIT: '0', ALGA_HEADERS_TIMEOUT_MS: '2000', ...tracing },
      uiPassword: UI_PASSWORD,
    });
    keyB = sys.tenants[1].apiKey;
    await deployExtension(sys.tenants[1].client, FIXTURE);
    await sys.tenants[1].client.setSecret('hostile', 'canary', canary);
    await sys.tenants[1].client.setSecret('hostile', 'bound', canary);
  });

  after(async () => {
    await sys?.stop();
    await upstream?.close();
    await otlp?.close();
  });

  describe('guests', () => {
    test('a pure-wasm infinite loop is stopped at its deadline (504) and the runner keeps serving', async () => {
      const looped = await call('/loop');
      assert.equal(looped.status, 504, looped.text);
      assert.equal(looped.json().error && (looped.json().error as { code: string }).code, 'ALGA_TIMEOUT');
      assert.equal((await call('/ok')).status, 200);
    });

    test('a promise chain that never yields to the host is stopped at its deadline too', async () => {
      assert.equal((await call('/spin')).status, 504);
      assert.equal((await call('/ok')).status, 200);
    });

    test('memory growth toward 4 GiB is stopped at the memory cap and the runner keeps serving', async () => {
      const grown = await call('/grow');
      // StarlingMonkey turns a refused memory.grow into either a catchable "out of memory" (the
      // SDK answers 500) or a trap (502 ALGA_MEMORY_LIMIT); both mean the cap held.
      assert.ok([500, 502].includes(grown.status), `status ${grown.status}: ${grown.text}`);
      if (grown.status === 502) assert.equal((grown.json().error as { code: string }).code, 'ALGA_MEMORY_LIMIT');
      assert.equal((await call('/ok')).status, 200);
    });

    test('unbounded recursion becomes an error answer, never a dead runner', async () => {
      const recursed = await call('/recurse');
      assert.ok([500, 502].includes(recursed.status), `status ${recursed.status}: ${recursed.text}`);
      assert.equal((await call('/ok')).status, 200);
    });

    test('a secret key the manifest does not declare is "missing" and nothing is decrypted for it', async () => {
      const before = counter(await runnerMetrics(), 'alga_runner_secret_decrypts_total');
      const undeclared = await call('/secret-status?key=not_declared');
      assert.equal(undeclared.status, 503);
      assert.equal(undeclared.json().code, 'missing');
      assert.equal(counter(await runnerMetrics(), 'alga_runner_secret_decrypts_total'), before);
    });
  });

  describe('secret leaks', () => {
    test('a secret logged in four encodings, thrown in an error or raised in a trap is masked in every log', async () => {
      assert.equal((await call('/secret-in-logs')).status, 200);
      assert.equal((await call('/secret-in-error')).status, 500);
      const trapped = await call('/secret-in-trap');
      assert.equal(trapped.status, 502, trapped.text);
      assert.ok(!hasCanary(trapped.text), 'the 502 body does not carry the trap message');
      // The shipped guest logs (what admins read) are masked too, and are artifacts for the final scan.
      // The runner gathers an install's lines for a short window before shipping them, so the
      // requests' lines may come in different batches: wait until the first's and the error's are there.
      let shipped = '';
      await until(async () => {
        shipped = JSON.stringify(await sys.tenants[1].client.logs('hostile', { limit: 1000 }));
        return /leaking /.test(shipped) && /cannot continue with/.test(shipped);
      });
      await recordArtifact('db', 'adversarial-install-logs.json', shipped);
      assert.ok(!hasCanary(shipped), 'shipped guest logs hold no form of the secret');
      // The uncaught error's line names it, with the secret in its message masked (the built guest's stacks list only frames).
      assert.match(shipped, /Unhandled error: Error: cannot continue with \[REDACTED\]/);
      for (const proc of [...sys.runners, sys.server]) {
        assert.ok(!hasCanary(proc.output()), `${proc.name} logged the secret`);
      }
    });

    test('a secret returned in a response header is masked; only the body it was put in carries it', async () => {
      const inHeader = await call('/secret-in-header');
      assert.equal(inHeader.status, 200);
      const headers = JSON.stringify([...inHeader.headers]);
      assert.ok(!hasCanary(headers), 'a response header carried the secret');
      // Deliberately returned in a body: the one place it may appear, so this response is not kept as an artifact.
      const inBody = await call('/secret-in-body', { record: false });
      assert.equal(inBody.json().canary, canary);
    });
  });

  describe('secret handles', () => {
    const reversedCanary = [...canary].reverse().join('');
    const handleCall = async (query: Record<string, string>) => {
      const response = await call(`/handle?${new URLSearchParams(query).toString()}`);
      assert.equal(response.status, 200, response.text);
      assert.ok(!hasCanary(response.text) && !response.text.includes(reversedCanary), 'the guest got the value');
      return response.json() as {
        get: string;
        handle: string;
        fetch: { ok: boolean; code?: string; secret?: string; status?: number; echoed?: string[] };
      };
    };

    test('the allowed host receives the real value in URL, headers and body; the guest only ever holds a handle, and echoes come back masked', async () => {
      const first = await handleCall({ url: `${upstream.url}/echo` });
      assert.equal(first.get, 'handle-required', 'ctx.secrets.get refuses an egress-bound secret');
      assert.match(first.handle, /^alga-secret-handle:[A-Za-z0-9_-]{43}$/);
      assert.equal(first.fetch.ok, true, JSON.stringify(first.fetch));
      const got = upstream.received.at(-1)!;
      assert.ok(got.text.includes(`"authorization":"Bearer ${canary}"`), 'header value substituted');
      assert.ok(got.text.includes(`"x-token":"${canary}"`), 'second header substituted');
      assert.ok(got.text.includes(`token=${encodeURIComponent(canary)}`), 'query substituted');
      assert.ok(got.text.includes(`{"token":"${canary}","split":["${canary}"]}`), 'body substituted');
      assert.ok(!got.text.includes('alga-secret-handle:'), 'no handle reached the upstream');
      // The upstream echoed the value in its body and a header: the guest saw [REDACTED] instead.
      assert.ok(first.fetch.echoed![0]!.includes('[REDACTED]'));
      assert.ok(first.fetch.echoed![3]!.includes('Bearer [REDACTED]'));

      // A handle from another execution is just text: it reaches the upstream as itself.
      const second = await handleCall({ url: `${upstream.url}/echo`, stale: first.handle });
      assert.notEqual(second.handle, first.handle, 'one handle per execution');
      const stale = upstream.received.at(-1)!;
      assert.ok(stale.text.includes(`"x-stale":"${first.handle}"`), 'the stale handle was not substituted');
    });

    test('a handle bound for a host outside its egress list is refused naming the secret: header, query, body, or behind a redirect', async () => {
      const before = upstream.received.length;
      // In allowedHosts but not in the secret's egress: refused for the handle before address vetting.
      const outside = 'http://127.0.0.2:41911/echo';
      for (const where of ['header', 'query', 'body']) {
        const refused = await handleCall({ url: outside, where });
        assert.deepEqual(refused.fetch, { ok: false, code: 'secret-not-allowed', secret: 'bound' }, where);
      }
      // The first hop is allowed (it gets the value); its 307 to another host keeps the body and is refused.
      const redirected = await handleCall({
        url: `${upstream.url}/redirect-to?to=${encodeURIComponent(outside)}`,
        where: 'body',
      });
      assert.deepEqual(redirected.fetch, { ok: false, code: 'secret-not-allowed', secret: 'bound' });
      const arrived = upstream.received.slice(before);
      assert.deepEqual(
        arrived.map((r) => r.path),
        ['/redirect-to'],
        'nothing reached the host outside the list',
      );
      // Logs: the guest logged the handle and its transforms; no process or shipped line holds the value.
      let shipped = '';
      await until(async () => {
        shipped = JSON.stringify(await sys.tenants[1].client.logs('hostile', { limit: 1000 }));
        return /handle form /.test(shipped);
      });
      await recordArtifact('db', 'adversarial-handle-logs.json', shipped);
      assert.ok(
        !hasCanary(shipped) && !shipped.includes(reversedCanary),
        'shipped guest logs hold no form of the value',
      );
      for (const proc of [...sys.runners, sys.server]) {
        assert.ok(!hasCanary(proc.output()), `${proc.name} logged the secret`);
      }
    });
  });

  describe('egress', () => {
    test('1,000 outbound calls in one execution: 50 reach the upstream, the other 950 are refused', async () => {
      const before = upstream.hits.get('/ok') ?? 0;
      const fanout = await call(`/fanout?n=1000&url=${encodeURIComponent(`${upstream.url}/ok`)}`);
      assert.equal(fanout.status, 200, fanout.text);
      assert.deepEqual(fanout.json().outcomes, { 'status-200': 50, 'not-allowed': 950 });
      assert.equal((upstream.hits.get('/ok') ?? 0) - before, 50);
    });

    test('SSRF: metadata, private and loopback addresses in any spelling are refused before connecting', async () => {
      const port = upstream.port;
      for (const url of [
        'http://169.254.169.254/latest/meta-data/',
        'http://10.0.0.1/',
        `http://127.0.0.2:${port}/ok`,
        `http://2130706434:${port}/ok`,
        `http://0x7f.0.0.2:${port}/ok`,
        `http://[::ffff:127.0.0.2]:${port}/ok`,
        `http://localhost:${port}/ok`,
        `http://user:pass@127.0.0.1:${port}/ok`,
      ]) {
        const answer = await call(`/fetch?url=${encodeURIComponent(url)}`);
        assert.equal(answer.status, 200);
        assert.ok(['not-allowed', 'invalid-url'].includes(answer.json().code as string), `${url} → ${answer.text}`);
      }
    });

    test('a redirect to the metadata address or to an unlisted loopback address is refused', async () => {
      for (const target of ['/redirect-metadata', '/redirect-loopback']) {
        const answer = await call(`/fetch?url=${encodeURIComponent(upstream.url + target)}`);
        assert.equal(answer.json().code, 'not-allowed', `${target} → ${answer.text}`);
      }
    });

    test('a declared 5 GB answer and an endless stream both stop at the 5 MiB cap', async () => {
      const huge = await call(`/fetch?url=${encodeURIComponent(`${upstream.url}/huge`)}`);
      assert.equal(huge.json().code, 'transport', huge.text);
      const streamed = await call(`/fetch?url=${encodeURIComponent(`${upstream.url}/stream`)}`);
      assert.equal(streamed.json().code, 'transport', streamed.text);
      // The cap plus what socket buffers held when the runner hung up; far below the 256 MiB on offer.
      assert.ok(upstream.streamed.bytes < 32 * 1024 * 1024, `upstream wrote ${upstream.streamed.bytes} bytes`);
    });

    test('a slow-drip answer is cut at the execution deadline and its connection closed', async () => {
      upstream.streamed.closedAt = undefined;
      const started = Date.now();
      const dripped = await call(`/fetch?url=${encodeURIComponent(`${upstream.url}/drip`)}`);
      assert.ok([200, 504].includes(dripped.status), dripped.text);
      if (dripped.status === 200) assert.equal(dripped.json().code, 'transport');
      // The close reaches the upstream's socket a moment later; left alone, the upstream would drip on
      // for DRIP_LIFETIME_MS, so a close before that is the runner's.
      await until(() => upstream.streamed.closedAt !== undefined);
      assert.ok(upstream.streamed.closedAt! - started < DRIP_LIFETIME_MS, 'the runner closed the dripping connection');
    });
  });

  describe('gateway and runner front doors', () => {
    test("tenant A's credentials on tenant B's install: 404 everywhere, and nothing runs or decrypts", async () => {
      const before = await runnerMetrics();
      const keyA = sys.tenants[0].apiKey;
      const viaGateway = await gatewayCall(sys.server.url, keyA, 'hostile/secret-status');
      assert.equal(viaGateway.status, 404);
      assert.equal((viaGateway.json().error as { code: string }).code, 'ALGA_NOT_FOUND');
      const viaApi = await fetch(`${sys.server.url}/api/v1/installs/hostile`, {
        headers: { authorization: `Bearer ${keyA}` },
      });
      assert.equal(viaApi.status, 404);

      // The web UI addresses installs by id: B's id with A's session is the same 404 as a made-up one.
      const installIdB = (await sys.tenants[1].client.getInstall('hostile')).install.id;
      const session = await signIn(sys.server.url, 'admin@a.test', UI_PASSWORD);
      for (const id of [installIdB, '00000000-0000-4000-8000-000000000000']) {
        const read = await session.request('GET', `/ui/api/installs/${id}/settings`);
        assert.equal(read.status, 404, `GET settings of ${id}`);
        const write = await session.request('PUT', `/ui/api/installs/${id}/settings`, {
          config: {},
          secrets: { set: { canary: 'overwritten' }, clear: [] },
        });
        assert.equal(write.status, 404, `PUT settings of ${id}`);
      }
      const afterwards = await runnerMetrics();
      for (const name of ['alga_runner_executions_total', 'alga_runner_secret_decrypts_total']) {
        assert.equal(counter(afterwards, name), counter(before, name), `${name} moved`);
      }
      const still = await call('/secret-status');
      assert.equal(still.json().length, canary.length, "B's secret was not overwritten");
    });

    test('the runner process refuses expired, wrong-audience, alg:none and foreign-key tokens with 401', async () => {
      const key = createPrivateKey(await readFile(sys.serviceKeys.privateKeyFile, 'utf8'));
      const now = Math.floor(Date.now() / 1000);
      const base = {
        iss: 'alga-server',
        aud: 'alga-runner',
        tid: 't',
        iid: 'i',
        scope: 'execute',
        iat: now,
        exp: now + 30,
      };
      const tokens = {
        expired: forge({ ...base, iat: now - 40, exp: now - 10 }, key),
        'wrong audience': forge({ ...base, aud: 'alga-server' }, key),
        'alg none': forge(base, undefined, 'none'),
        garbage: 'not.a.token',
      };
      for (const [name, token] of Object.entries(tokens)) {
        const response = await fetch(`${sys.runners[0]!.url}/v1/execute`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
        });
        assert.equal(response.status, 401, name);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ALGA_UNAUTHENTICATED');
      }
    });

    test('a 100 MB Content-Length is answered 413 before the body is read', async () => {
      const head =
        `POST /api/ext/hostile/body HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${keyB}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`;
      // A trickle of body (1 KiB every 50 ms): a server that waited for 100 MB would see 256 KiB after 12.8 s,
      // long before it could have it all; the client gives up only after a minute.
      const result = await rawExchange(sys.server.url, head, () => Buffer.alloc(1024, 1), {
        intervalMs: 50,
        giveUpMs: 60_000,
      });
      assert.match(result.answer, /^HTTP\/1\.1 413 /, result.answer.slice(0, 200));
      assert.ok(result.sentBytes < 256 * 1024, `the client had sent ${result.sentBytes} bytes`);
    });

    test('a chunked body without a length is cut off at the 1 MiB cap while it streams', async () => {
      const head =
        `POST /api/ext/hostile/body HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${keyB}\r\n` +
        `Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const chunk = Buffer.concat([
        Buffer.from(`${(256 * 1024).toString(16)}\r\n`),
        Buffer.alloc(256 * 1024, 1),
        Buffer.from('\r\n'),
      ]);
      const result = await rawExchange(sys.server.url, head, (sent) => (sent < 100 * 1024 * 1024 ? chunk : undefined), {
        intervalMs: 10,
        giveUpMs: 60_000,
      });
      assert.ok(/^HTTP\/1\.1 413 /.test(result.answer) || result.closedByServer, result.answer.slice(0, 200));
      assert.ok(result.sentBytes < 16 * 1024 * 1024, `the client could send ${result.sentBytes} bytes`);
    });

    test('a slowloris client that never finishes its headers is disconnected by the server', async () => {
      // ALGA_HEADERS_TIMEOUT_MS is 2 s here: Node answers 408 and closes, checked about once a second.
      // The client gives up after 50 s, before Node's own default (60 s) could be what closed it.
      const result = await rawExchange(
        sys.server.url,
        'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n',
        () => Buffer.from('X-Slow: 1\r\n'),
        { intervalMs: 300, giveUpMs: 50_000 },
      );
      assert.ok(
        result.closedByServer || /^HTTP\/1\.1 408 /.test(result.answer),
        `still open after ${result.elapsedMs} ms`,
      );
    });
  });

  describe('tracing', () => {
    test('one request that reads a secret, writes storage and calls an upstream is one span tree, without the canary', async () => {
      const STORAGE_CALL = `PUT ${RUNNER_API_PREFIX}/storage/:namespace/*`;
      // A new secret version: the runner's cache misses, so the read is a host call with a decrypt under it.
      await sys.tenants[1].client.setSecret('hostile', 'canary', canary);
      const target = encodeURIComponent(`${upstream.url}/traced`);
      const answer = await call(`/roundtrip?key=traced-${Date.now()}&url=${target}`);
      assert.equal(answer.status, 200, answer.text);
      const requestId = answer.headers.get('x-request-id');
      assert.ok(requestId);

      // Spans arrive in batches (OTEL_BSP_SCHEDULE_DELAY); the gateway's ends last. Wait for the whole tree.
      const expected = [
        'POST /v1/execute',
        'guest execute',
        'host secrets.get',
        'secrets decrypt',
        'host storage.put',
        STORAGE_CALL,
        // The SDK calls WIT 0.3.0's fetch-v2 when the host has it.
        'host http.fetchV2',
        'GET',
      ];
      // Each process exports a span after its children (a batch holds spans in the order they ended), so once
      // the gateway's span and the runner's request span are in, the whole tree is: wait for those two only,
      // so a broken tree fails below with names instead of waiting forever.
      const byRequest = (service: string) =>
        otlp.spans.find(
          (s) => s.service === service && s.kind === 2 && spanAttribute(s, 'alga.request_id') === requestId,
        );
      await until(() => byRequest('alga-server') !== undefined && byRequest('alga-runner') !== undefined);
      const root = byRequest('alga-server');
      const trace = otlp.spans.filter((s) => s.traceId === root!.traceId);
      assert.equal(byRequest('alga-runner')!.traceId, root!.traceId, "the runner continued the gateway's trace");
      for (const name of expected)
        assert.ok(
          trace.some((s) => s.name === name),
          `no span named ${name}`,
        );
      const one = (name: string, service: string, kind?: number) => {
        const found = trace.filter((s) => s.name === name && s.service === service && (kind ? s.kind === kind : true));
        assert.equal(found.length, 1, `${service} ${name}: ${found.length} spans`);
        return found[0]!;
      };
      // OTLP kinds: 1 internal, 2 server, 3 client.
      const gateway = root!;
      assert.match(gateway.name, /^GET \/api\/ext\//);
      assert.equal(gateway.service, 'alga-server');
      assert.ok(!gateway.parentSpanId, 'the gateway span starts the trace');
      const runnerCall = one('POST /v1/execute', 'alga-server', 3);
      const runner = one('POST /v1/execute', 'alga-runner', 2);
      const guest = one('guest execute', 'alga-runner');
      const secret = one('host secrets.get', 'alga-runner');
      const decrypt = one('secrets decrypt', 'alga-runner');
      const storage = one('host storage.put', 'alga-runner');
      // The storage call continues on the server, under the runner's client span for it.
      const storageCall = one(STORAGE_CALL, 'alga-runner', 3);
      const storageServer = one(STORAGE_CALL, 'alga-server', 2);
      const fetchCall = one('host http.fetchV2', 'alga-runner');
      const outbound = one('GET', 'alga-runner', 3);
      const parentOf = new Map<ReceivedSpan, ReceivedSpan>([
        [runnerCall, gateway],
        [runner, runnerCall],
        [guest, runner],
        [secret, guest],
        [decrypt, secret],
        [storage, guest],
        [storageCall, storage],
        [storageServer, storageCall],
        [fetchCall, guest],
        [outbound, fetchCall],
      ]);
      for (const [child, parent] of parentOf) {
        assert.equal(child.parentSpanId, parent.spanId, `${child.service} ${child.name} is under ${parent.name}`);
      }
      assert.equal(spanAttribute(secret, 'alga.host.outcome'), 'ok');
      assert.equal(
        spanAttribute(storageServer, 'http.response.status_code'),
        spanAttribute(storageCall, 'http.response.status_code'),
      );
      assert.equal(spanAttribute(outbound, 'http.response.status_code'), '200');
      // The operator turned RUNNER_HTTP_TRACEPARENT on: the upstream continues the trace under the outbound span.
      assert.equal(upstream.lastHeaders.get('/traced')?.['traceparent'], `00-${gateway.traceId}-${outbound.spanId}-01`);
      // Not in any span exported so far, in any form (the final scan reads them all again).
      assert.ok(!otlp.bodies.some(hasCanary), 'an exported span holds the canary');
    });
  });

  test('no log, response, metric or database row of this file holds the canary (own artifacts)', async () => {
    await runnerMetrics();
    const serverUrl = sys.server.url;
    assert.ok(serverUrl);
    await sys.server.stop();
    const db = await sys.openDb();
    try {
      for (const table of ['audit_log', 'install_logs', 'install_secrets', 'install_config']) {
        const { rows } = await db.query(`SELECT * FROM ${table}`);
        await recordArtifact('db', `adversarial-${table}.json`, JSON.stringify(rows));
      }
    } finally {
      await db.close();
    }
    // Every span both processes exported so far (the stopped server flushed its last batch on SIGTERM).
    await recordArtifact('traces', 'adversarial-otlp.json', otlp.bodies.join('\n'));
    const { files, hits } = await scanForCanary(canaryRun().dir, canary);
    assert.ok(files > 5, `only ${files} artifacts were written`);
    assert.deepEqual(hits, []);
  });
});

/** A JWT built by hand, to forge what the server's signer never would (past expiry, alg none). */
function forge(payload: Record<string, unknown>, key?: KeyObject, alg = 'EdDSA'): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64({ alg, typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${key ? sign(null, Buffer.from(input), key).toString('base64url') : ''}`;
}

/** A minimal browser: cookie jar, CSRF token, same-origin Origin header on writes. */
async function signIn(serverUrl: string, email: string, password: string) {
  const cookies = new Map<string, string>();
  let csrf = '';
  const request = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(`${serverUrl}${url}`, {
      method,
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(method === 'GET' ? {} : { origin: serverUrl, 'x-csrf-token': csrf }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...value] = pair!.split('=');
      cookies.set(name!.trim(), value.join('='));
    }
    const text = await response.text();
    await recordArtifact('responses', 'ui.log', JSON.stringify({ method, url, status: response.status, body: text }));
    return { status: response.status, json: () => JSON.parse(text) as Record<string, unknown> };
  };
  csrf = (await request('GET', '/ui/api/session')).json().csrfToken as string;
  const signedIn = await request('POST', '/ui/api/session', { email, password });
  assert.equal(signedIn.status, 200, 'sign-in');
  csrf = signedIn.json().csrfToken as string;
  return { request };
}
