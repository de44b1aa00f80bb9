/**
 * The http provider in-process (no guest): a node:http server on 127.0.0.1
 * plays the remote API. Every network test targets loopback only; the
 * operator escape hatch (allowPrivate) is what lets the allowed path reach it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ExecuteRequest } from '@alga-psa/protocol';
import { buildConnector } from 'undici';
import type { HttpResponse } from '../../../generated/interfaces/alga-extension-types.js';
import { createDispatcher, WitErr } from '../../host-calls/index.ts';
import { testProviders } from '../../testing/providers.ts';
import { fakeTracing, testScope, type TestScope } from '../../testing/scope.ts';
import { NO_DEADLINE_MS, until } from '../../testing/wait.ts';
import type { Provider } from '../types.ts';
import { defaultConnector } from './transport.ts';
import { DEFAULT_TIMEOUT_MS, httpImpl, type Connector, type HttpProviderOptions, type Resolver } from './index.ts';

const TOKEN = 'Bearer sk-live-TOPSECRET-1234';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  port: number;
  origin: string;
  connections: number;
  requests: Seen[];
  close(): Promise<void>;
}

async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void,
): Promise<TestServer> {
  const state = { connections: 0, requests: [] as Seen[] };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const seen: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      state.requests.push(seen);
      handler(req, res, seen);
    });
  });
  server.on('connection', () => {
    state.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    get connections() {
      return state.connections;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The remote API the tests talk to. */
function routes(req: IncomingMessage, res: ServerResponse, seen: Seen): void {
  const url = new URL(seen.url, 'http://x');
  switch (url.pathname) {
    case '/hello':
      res.setHeader('x-reply', 'yes');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end('hello world');
      return;
    case '/empty':
      res.statusCode = 204;
      res.end();
      return;
    case '/redirect':
      res.statusCode = Number(url.searchParams.get('status') ?? 302);
      res.setHeader('location', url.searchParams.get('to') ?? '/hello');
      res.end('moved');
      return;
    case '/loop':
      res.statusCode = 302;
      res.setHeader('location', '/loop');
      res.end();
      return;
    case '/big':
      res.setHeader('content-length', url.searchParams.get('n')!);
      res.end(Buffer.alloc(Number(url.searchParams.get('n')), 0x61));
      return;
    case '/big-chunked': {
      // No content-length: the cap has to trip while streaming.
      const n = Number(url.searchParams.get('n'));
      for (let sent = 0; sent < n; sent += 256) res.write(Buffer.alloc(Math.min(256, n - sent), 0x62));
      res.end();
      return;
    }
    case '/drip': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('.'), 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    default:
      // `/echo` and every other path: what the server saw.
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
  }
}

interface Counting {
  provider: ReturnType<typeof httpImpl>;
  resolved: string[];
  connects: string[];
}

/** A provider whose resolver and connector record every use. */
function counting(options: HttpProviderOptions & { hosts?: Record<string, string[]>; ca?: string } = {}): Counting {
  const resolved: string[] = [];
  const connects: string[] = [];
  const base = options.ca ? buildConnector({ allowH2: false, timeout: 2000, ca: options.ca }) : defaultConnector(2000);
  const connector: Connector = (opts, callback) => {
    connects.push(opts.hostname);
    base(opts, callback);
  };
  const resolve: Resolver = async (hostname) => {
    resolved.push(hostname);
    const addresses = options.hosts?.[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  const { hosts: _hosts, ca: _ca, ...rest } = options;
  return { provider: httpImpl({ resolve, connector, ...rest }), resolved, connects };
}

function scopeWith(allowedHosts: string[] | undefined, extra: Partial<ExecuteRequest> = {}): TestScope {
  return testScope({
    providers: ['cap:http.fetch'],
    ...(allowedHosts ? { egress: { allowed_hosts: allowedHosts } } : {}),
    ...extra,
  });
}

interface Req {
  method?: string;
  url: string;
  headers?: Array<{ name: string; value: string }>;
  body?: Uint8Array;
}

async function call(provider: Counting['provider'], t: TestScope, req: Req): Promise<HttpResponse | WitErr> {
  const request = { method: req.method ?? 'GET', url: req.url, headers: req.headers ?? [], body: req.body };
  return (await provider.functions.fetch(t.scope, request as never)) as HttpResponse | WitErr;
}

function ok(result: HttpResponse | WitErr): HttpResponse {
  assert.ok(!(result instanceof WitErr), `expected a response, got ${JSON.stringify(result)}`);
  return result;
}

function text(body: Uint8Array | undefined): string {
  return Buffer.from(body ?? new Uint8Array()).toString('utf8');
}

function warned(t: TestScope, pattern: RegExp): boolean {
  return t.logs.some((line) => line.level === 40 && pattern.test(String(line.msg)));
}

const LOOPBACK = ['127.0.0.0/8'];

describe('http provider', () => {
  let api: TestServer;
  let other: TestServer;
  const scopes: TestScope[] = [];

  before(async () => {
    api = await startServer(routes);
    other = await startServer(routes);
  });
  after(async () => {
    await api.close();
    await other.close();
  });
  afterEach(() => {
    // No log line of any test may carry the guest's bearer token.
    for (const t of scopes.splice(0)) {
      t.close();
      assert.ok(!JSON.stringify(t.logs).includes('TOPSECRET'), 'a log line contained the Authorization value');
    }
  });

  function scope(allowedHosts: string[] | undefined, extra: Partial<ExecuteRequest> = {}): TestScope {
    const t = scopeWith(allowedHosts, extra);
    scopes.push(t);
    return t;
  }

  describe('allowed requests', () => {
    it('fetches from an allowed host: status, headers (repeated ones kept) and body', async () => {
      const { provider, connects } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const res = ok(
        await call(provider, t, { url: `${api.origin}/hello`, headers: [{ name: 'authorization', value: TOKEN }] }),
      );
      assert.equal(res.status, 200);
      assert.equal(text(res.body), 'hello world');
      assert.ok(res.body instanceof Uint8Array);
      assert.deepEqual(
        res.headers.filter((h) => h.name === 'set-cookie').map((h) => h.value),
        ['a=1', 'b=2'],
      );
      assert.ok(res.headers.some((h) => h.name === 'x-reply' && h.value === 'yes'));
      assert.deepEqual(connects, ['127.0.0.1']);
    });

    it('sends method, body and headers; strips hop-by-hop headers and never forwards the guest Host', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const res = ok(
        await call(provider, t, {
          method: 'post',
          url: `${api.origin}/echo?q=1`,
          headers: [
            { name: 'X-Custom', value: 'v' },
            { name: 'Host', value: 'evil.example' },
            { name: 'Connection', value: 'x-private' },
            { name: 'X-Private', value: 'hop' },
            { name: 'Keep-Alive', value: 'timeout=5' },
            { name: 'Proxy-Authorization', value: TOKEN },
            { name: 'Transfer-Encoding', value: 'chunked' },
            { name: 'Content-Length', value: '999' },
          ],
          body: new TextEncoder().encode('payload'),
        }),
      );
      const seen = JSON.parse(text(res.body)) as Seen;
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/echo?q=1');
      assert.equal(seen.body, 'payload');
      assert.equal(seen.headers['x-custom'], 'v');
      assert.equal(seen.headers.host, `127.0.0.1:${api.port}`);
      for (const name of ['x-private', 'keep-alive', 'proxy-authorization', 'transfer-encoding']) {
        assert.equal(seen.headers[name], undefined, name);
      }
      assert.equal(seen.headers['content-length'], '7');
    });

    it('returns an empty body for an empty response, as the reference host does', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const res = ok(await call(provider, scope([api.origin]), { url: `${api.origin}/empty` }));
      assert.equal(res.status, 204);
      assert.equal(res.body?.byteLength, 0);
    });

    it('connects to the vetted address only (pinning), keeping the hostname as Host', async () => {
      // "localtest.example" exists nowhere but in the injected resolver: reaching the
      // server proves the connection went to the address that was vetted.
      const { provider, resolved, connects } = counting({
        allowPrivate: LOOPBACK,
        hosts: { 'localtest.example': ['127.0.0.1'] },
      });
      const t = scope([`http://localtest.example:${api.port}`]);
      const res = ok(await call(provider, t, { url: `http://LocalTest.Example:${api.port}/echo` }));
      const seen = JSON.parse(text(res.body)) as Seen;
      assert.equal(seen.headers.host, `localtest.example:${api.port}`);
      assert.deepEqual(resolved, ['localtest.example']);
      assert.deepEqual(connects, ['127.0.0.1']);
    });
    it('falls back to the next vetted address when the first does not accept the connection', async () => {
      const { provider, connects } = counting({
        allowPrivate: LOOPBACK,
        hosts: { 'two.example': ['127.0.0.2', '127.0.0.1'] },
      });
      // Only 127.0.0.1 listens on this port: 127.0.0.2 refuses the connection.
      const t = scope([`http://two.example:${api.port}`]);
      assert.equal(ok(await call(provider, t, { url: `http://two.example:${api.port}/hello` })).status, 200);
      assert.deepEqual(connects, ['127.0.0.2', '127.0.0.1']);
    });
  });

  describe('deny by default', () => {
    it('answers not-allowed without any network activity when cap:http.fetch is not granted', async () => {
      const before = api.connections;
      const { provider, resolved, connects } = counting({ allowPrivate: LOOPBACK });
      const dispatch = createDispatcher(
        testProviders().map((p): Provider => (p.iface === 'http' ? { ...p, ...(provider as unknown as Provider) } : p)),
      );
      const t = testScope({ providers: ['cap:context.read'], egress: { allowed_hosts: [api.origin] } });
      scopes.push(t);
      const outcome = await dispatch(t.scope, 'http', 'fetch', [
        { method: 'GET', url: `${api.origin}/hello`, headers: [], body: undefined },
      ]);
      assert.deepEqual(outcome, { kind: 'err', payload: 'not-allowed' });
      assert.equal(api.connections, before);
      assert.deepEqual(resolved, []);
      assert.deepEqual(connects, []);
    });

    it('answers not-allowed when allowedHosts is empty or absent (never allow-all)', async () => {
      const before = api.connections;
      const { provider, connects } = counting({ allowPrivate: LOOPBACK });
      for (const hosts of [[], undefined]) {
        const t = scope(hosts);
        assert.deepEqual(await call(provider, t, { url: `${api.origin}/hello` }), new WitErr('not-allowed'));
        assert.ok(warned(t, new RegExp(`add "http://127.0.0.1:${api.port}" to allowedHosts in manifest.json`)));
      }
      assert.equal(api.connections, before);
      assert.deepEqual(connects, []);
    });

    it('refuses a host that is not listed and logs the exact entry to add', async () => {
      const { provider, resolved, connects } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin, 'https://api.example.com']);
      const headers = [{ name: 'Authorization', value: TOKEN }];
      assert.deepEqual(
        await call(provider, t, { url: `http://localhost:${api.port}/x`, headers }),
        new WitErr('not-allowed'),
      );
      assert.ok(warned(t, new RegExp(`add "http://localhost:${api.port}" to allowedHosts in manifest.json`)));
      assert.deepEqual(
        await call(provider, t, { url: 'https://API.other.example/v1?key=abc', headers }),
        new WitErr('not-allowed'),
      );
      assert.ok(warned(t, /add "api\.other\.example" to allowedHosts in manifest\.json/));
      assert.deepEqual(await call(provider, t, { url: 'https://api.example.com:8443/' }), new WitErr('not-allowed'));
      assert.ok(warned(t, /add "api\.example\.com:8443" to allowedHosts/));
      assert.ok(!JSON.stringify(t.logs).includes('key=abc'), 'query strings stay out of the log');
      assert.deepEqual(resolved, []);
      assert.deepEqual(connects, []);
    });

    it('matches scheme and port exactly: a bare entry means https only', async () => {
      const { provider, connects } = counting({ allowPrivate: LOOPBACK });
      const t = scope([`127.0.0.1:${api.port}`]);
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/hello` }), new WitErr('not-allowed'));
      assert.ok(warned(t, new RegExp(`add "http://127.0.0.1:${api.port}"`)));
      const t2 = scope(['http://127.0.0.1']);
      assert.deepEqual(await call(provider, t2, { url: `${api.origin}/hello` }), new WitErr('not-allowed'));
      assert.deepEqual(connects, []);
    });

    it('matches path prefixes by whole segments', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([`${api.origin}/v1`]);
      for (const path of ['/v1', '/v1/', '/v1/users?x=1']) {
        assert.equal(ok(await call(provider, t, { url: `${api.origin}${path}` })).status, 200, path);
      }
      for (const path of ['/v10', '/v1x', '/V1', '/', '/v1/../admin', '/v1/%2e%2e/admin']) {
        assert.deepEqual(await call(provider, t, { url: `${api.origin}${path}` }), new WitErr('not-allowed'), path);
      }
    });

    it('answers invalid-url for unparseable, non-http(s), credentialed or oversized URLs', async () => {
      const { provider, resolved, connects } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const bad = [
        'not a url',
        'ftp://127.0.0.1/x',
        'file:///etc/passwd',
        'javascript:alert(1)',
        `http://user:pass@127.0.0.1:${api.port}/`,
        `http://@127.0.0.1:${api.port}/`,
        `${api.origin}/${'a'.repeat(8 * 1024)}`,
      ];
      for (const url of bad) assert.deepEqual(await call(provider, t, { url }), new WitErr('invalid-url'), url);
      assert.deepEqual(resolved, []);
      assert.deepEqual(connects, []);
    });

    it('refuses a request body over the cap and invalid headers before connecting', async () => {
      const { provider, connects } = counting({ allowPrivate: LOOPBACK, maxRequestBytes: 16 });
      const t = scope([api.origin]);
      const body = new Uint8Array(17);
      assert.deepEqual(
        await call(provider, t, { method: 'POST', url: `${api.origin}/echo`, body }),
        new WitErr('not-allowed'),
      );
      const injected = [{ name: 'x-a', value: 'v\r\nHost: evil' }];
      assert.deepEqual(
        await call(provider, t, { url: `${api.origin}/echo`, headers: injected }),
        new WitErr('transport'),
      );
      assert.deepEqual(
        await call(provider, t, { method: 'CONNECT', url: `${api.origin}/` }),
        new WitErr('not-allowed'),
      );
      assert.deepEqual(connects, []);
    });
  });

  describe('SSRF defence', () => {
    // Each URL is in allowedHosts, so only the address check stands in the way.
    const literals = [
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://2852039166/',
      'http://0251.0376.0251.0376/',
      'http://0xa9fea9fe/',
      'http://10.0.0.1/',
      'http://172.16.5.4/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[::]/',
      'http://224.0.0.1/',
      'http://[fe80::1]/',
      'http://[fc00::1]/',
      'http://[fd00:ec2::254]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[::127.0.0.1]/',
    ];

    it('refuses private, metadata and special-purpose IP literals in every spelling, before connecting', async () => {
      // Even with loopback opened for development, none of these are reachable.
      const { provider, resolved, connects } = counting({ allowPrivate: LOOPBACK });
      for (const url of literals) {
        const t = scope([/^http:\/\/[^/]+/.exec(url)![0]]);
        assert.deepEqual(await call(provider, t, { url }), new WitErr('not-allowed'), url);
        assert.ok(warned(t, /private address/), url);
      }
      assert.deepEqual(resolved, [], 'IP literals are never resolved');
      assert.deepEqual(connects, [], 'no connection was attempted');
    });

    it('refuses loopback spellings of the test server itself: 127.1, [::ffff:127.0.0.1], [::1], 0x7f.1', async () => {
      const before = api.connections;
      const { provider, connects } = counting();
      for (const host of ['127.1', '[::ffff:127.0.0.1]', '[::1]', '0x7f.1', '127.0.0.1']) {
        const url = `http://${host}:${api.port}/hello`;
        const t = scope([`http://${host}:${api.port}`]);
        assert.deepEqual(await call(provider, t, { url }), new WitErr('not-allowed'), url);
        assert.ok(warned(t, /resolves to a private address \((127\.0\.0\.1|::1): loopback\)/), url);
      }
      assert.equal(api.connections, before, 'the test server saw no connection');
      assert.deepEqual(connects, []);
    });

    it('refuses a hostname that resolves to 127.0.0.1 before connecting', async () => {
      const before = api.connections;
      const { provider, resolved, connects } = counting({ hosts: { 'localtest.example': ['127.0.0.1'] } });
      const t = scope([`http://localtest.example:${api.port}`]);
      const result = await call(provider, t, {
        url: `http://localtest.example:${api.port}/hello`,
        headers: [{ name: 'authorization', value: TOKEN }],
      });
      assert.deepEqual(result, new WitErr('not-allowed'));
      assert.ok(warned(t, /localtest\.example:\d+ resolves to a private address \(127\.0\.0\.1: loopback\)/));
      assert.deepEqual(resolved, ['localtest.example']);
      assert.deepEqual(connects, []);
      assert.equal(api.connections, before);
    });

    it('refuses when ANY resolved address is private, and when a mapped IPv6 hides one', async () => {
      const { provider, connects } = counting({
        hosts: {
          'mixed.example': ['93.184.216.34', '127.0.0.1'],
          'mapped.example': ['::ffff:169.254.169.254'],
          'nat64.example': ['64:ff9b::c0a8:101'],
        },
      });
      for (const host of ['mixed.example', 'mapped.example', 'nat64.example']) {
        const t = scope([`https://${host}`]);
        assert.deepEqual(await call(provider, t, { url: `https://${host}/` }), new WitErr('not-allowed'), host);
      }
      assert.deepEqual(connects, []);
    });

    it('answers transport when the host does not resolve', async () => {
      const { provider, connects } = counting();
      const t = scope(['https://nowhere.example']);
      assert.deepEqual(await call(provider, t, { url: 'https://nowhere.example/' }), new WitErr('transport'));
      assert.ok(t.logs.some((line) => line.code === 'ENOTFOUND'));
      assert.deepEqual(connects, []);
    });
  });

  describe('redirects', () => {
    it('follows a same-origin redirect and keeps Authorization', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const res = ok(
        await call(provider, t, {
          url: `${api.origin}/redirect?to=/echo`,
          headers: [{ name: 'authorization', value: TOKEN }],
        }),
      );
      const seen = JSON.parse(text(res.body)) as Seen;
      assert.equal(seen.url, '/echo');
      assert.equal(seen.headers.authorization, TOKEN);
    });

    it('drops Authorization and Cookie on a cross-origin hop', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin, other.origin]);
      const to = encodeURIComponent(`${other.origin}/echo`);
      const res = ok(
        await call(provider, t, {
          url: `${api.origin}/redirect?to=${to}`,
          headers: [
            { name: 'Authorization', value: TOKEN },
            { name: 'Cookie', value: 'session=1' },
            { name: 'X-Keep', value: 'k' },
          ],
        }),
      );
      const seen = JSON.parse(text(res.body)) as Seen;
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers.cookie, undefined);
      assert.equal(seen.headers['x-keep'], 'k');
    });

    it('turns 303 into a GET without body, and keeps method and body on 307 and 308', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const body = new TextEncoder().encode('data');
      const headers = [{ name: 'content-type', value: 'text/plain' }];
      const after303 = JSON.parse(
        text(
          ok(
            await call(provider, t, {
              method: 'POST',
              url: `${api.origin}/redirect?status=303&to=/echo`,
              headers,
              body,
            }),
          ).body,
        ),
      ) as Seen;
      assert.equal(after303.method, 'GET');
      assert.equal(after303.body, '');
      assert.equal(after303.headers['content-type'], undefined);
      for (const status of [307, 308]) {
        const seen = JSON.parse(
          text(
            ok(
              await call(provider, t, {
                method: 'PUT',
                url: `${api.origin}/redirect?status=${status}&to=/echo`,
                headers,
                body,
              }),
            ).body,
          ),
        ) as Seen;
        assert.equal(seen.method, 'PUT', String(status));
        assert.equal(seen.body, 'data', String(status));
      }
    });

    it('refuses a redirect to a host that is not in allowedHosts (localhost), before connecting to it', async () => {
      // Loopback is open for development, so only the allowlist re-check stands in the way.
      const { provider, resolved, connects } = counting({
        allowPrivate: LOOPBACK,
        hosts: { localhost: ['127.0.0.1'] },
      });
      const t = scope([api.origin]);
      const requestsBefore = api.requests.length;
      const to = encodeURIComponent(`http://localhost:${api.port}/echo`);
      const result = await call(provider, t, {
        url: `${api.origin}/redirect?to=${to}`,
        headers: [{ name: 'authorization', value: TOKEN }],
      });
      assert.deepEqual(result, new WitErr('not-allowed'));
      assert.ok(warned(t, new RegExp(`add "http://localhost:${api.port}" to allowedHosts in manifest.json`)));
      assert.equal(api.requests.length, requestsBefore + 1, 'only the first hop reached the server');
      assert.deepEqual(resolved, []);
      assert.deepEqual(connects, ['127.0.0.1']);
    });

    it('refuses a redirect to a private address even when that address is in allowedHosts', async () => {
      // The redirect target is listed; the SSRF re-check on the second hop refuses it.
      const { provider, connects } = counting({ allowPrivate: ['127.0.0.1/32'] });
      const t = scope([api.origin, 'http://169.254.169.254', `http://127.0.0.2:${api.port}`]);
      for (const to of [
        'http://169.254.169.254/latest/meta-data/',
        'http://[::ffff:a9fe:a9fe]/',
        `http://127.0.0.2:${api.port}/`,
      ]) {
        connects.length = 0;
        const result = await call(provider, t, { url: `${api.origin}/redirect?to=${encodeURIComponent(to)}` });
        assert.deepEqual(result, new WitErr('not-allowed'), to);
        assert.deepEqual(connects, ['127.0.0.1'], `${to}: only the first hop connected`);
      }
      assert.ok(warned(t, /private address \(169\.254\.169\.254: cloud metadata address\)/));
    });

    it('refuses a redirect to a non-http scheme, and stops after 5 hops with transport', async () => {
      const { provider, connects } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const result = await call(provider, t, {
        url: `${api.origin}/redirect?to=${encodeURIComponent('file:///etc/passwd')}`,
      });
      assert.deepEqual(result, new WitErr('not-allowed'));
      connects.length = 0;
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/loop` }), new WitErr('transport'));
      assert.equal(connects.length, 6, 'the first request and 5 redirect hops');
      assert.ok(warned(t, /more than 5 redirects/));
    });
  });

  describe('limits', () => {
    it('aborts a response larger than the cap with transport (declared or streamed)', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK, maxResponseBytes: 1024 });
      const t = scope([api.origin]);
      assert.equal(text(ok(await call(provider, t, { url: `${api.origin}/big?n=1024` })).body).length, 1024);
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/big?n=1025` }), new WitErr('transport'));
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/big-chunked?n=4096` }), new WitErr('transport'));
      assert.ok(t.logs.some((line) => line.reason === 'response too large'));
    });

    it('aborts a slow-drip response at the time cap with transport', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK, timeoutMs: 150 });
      const t = scope([api.origin]);
      const started = Date.now();
      assert.deepEqual(
        await call(provider, t, { url: `${api.origin}/drip`, headers: [{ name: 'authorization', value: TOKEN }] }),
        new WitErr('transport'),
      );
      const elapsed = Date.now() - started;
      // Not before the cap; and the configured cap, not the provider's default (the drip never ends by itself).
      assert.ok(elapsed >= 140 && elapsed < DEFAULT_TIMEOUT_MS, `took ${elapsed} ms`);
      assert.ok(t.logs.some((line) => line.reason === 'time limit reached'));
    });

    it("never waits beyond the execution's own timeout", async () => {
      // The provider's own cap is one no test could wait for: only the execution's 120 ms can end the drip.
      const { provider } = counting({ allowPrivate: LOOPBACK, timeoutMs: NO_DEADLINE_MS });
      const t = scope([api.origin], { limits: { timeout_ms: 120 } });
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/drip` }), new WitErr('transport'));
      assert.ok(t.logs.some((line) => line.reason === 'time limit reached'));
    });

    it('aborts an in-flight call when the execution ends', async () => {
      // No time cap could end the drip: only the execution's end does.
      const { provider } = counting({ allowPrivate: LOOPBACK, timeoutMs: NO_DEADLINE_MS });
      const t = scope([api.origin]);
      const before = api.requests.length;
      const pending = call(provider, t, { url: `${api.origin}/drip` });
      // The execution ends while the upstream is dripping its answer.
      await until(() => api.requests.slice(before).some((seen) => seen.url === '/drip'));
      t.close();
      assert.deepEqual(await pending, new WitErr('transport'));
      assert.ok(t.logs.some((line) => line.reason === 'execution ended'));
    });

    it('allows 50 subrequests per execution; the 51st is not-allowed and logged', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([api.origin]);
      const before = api.requests.length;
      for (let i = 0; i < 50; i++)
        assert.equal(ok(await call(provider, t, { url: `${api.origin}/hello` })).status, 200);
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/hello` }), new WitErr('not-allowed'));
      assert.ok(warned(t, /already made 50 outbound requests/));
      assert.equal(api.requests.length - before, 50);
      // The counter lives in the execution's state: a new execution starts again.
      assert.equal(ok(await call(provider, scope([api.origin]), { url: `${api.origin}/hello` })).status, 200);
    });

    it('counts redirect hops as subrequests', async () => {
      const { provider } = counting({ allowPrivate: LOOPBACK, maxSubrequests: 2 });
      const t = scope([api.origin]);
      assert.equal(ok(await call(provider, t, { url: `${api.origin}/redirect?to=/hello` })).status, 200);
      assert.deepEqual(await call(provider, t, { url: `${api.origin}/hello` }), new WitErr('not-allowed'));
    });
  });

  describe('TLS through a pinned address', () => {
    let dir: string | undefined;
    let cert = '';
    let tls: { port: number; servernames: string[]; close(): Promise<void> } | undefined;

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'alga-http-tls-'));
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=localtest.example',
            '-addext',
            'subjectAltName=DNS:localtest.example',
            '-keyout',
            path.join(dir, 'key.pem'),
            '-out',
            path.join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
      } catch {
        return; // no openssl: the tests below skip
      }
      cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
      const servernames: string[] = [];
      const server = createHttpsServer({ key: readFileSync(path.join(dir, 'key.pem')), cert }, (req, res) => {
        servernames.push(String((req.socket as TLSSocket).servername));
        res.end(`host=${req.headers.host}`);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      tls = {
        port: (server.address() as AddressInfo).port,
        servernames,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    });
    after(async () => {
      await tls?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('keeps SNI and certificate validation on the hostname while connecting to the pinned IP', async (ctx) => {
      if (!tls) return ctx.skip('openssl is not available');
      const { provider, connects } = counting({
        allowPrivate: LOOPBACK,
        ca: cert,
        hosts: { 'localtest.example': ['127.0.0.1'], 'wrong-name.example': ['127.0.0.1'] },
      });
      const t = scope([`localtest.example:${tls.port}`, `wrong-name.example:${tls.port}`]);
      const res = ok(await call(provider, t, { url: `https://localtest.example:${tls.port}/` }));
      assert.equal(text(res.body), `host=localtest.example:${tls.port}`);
      assert.deepEqual(tls.servernames, ['localtest.example']);
      assert.deepEqual(connects, ['127.0.0.1']);
      // Same IP, but the certificate does not name this host: the handshake must fail.
      assert.deepEqual(
        await call(provider, t, { url: `https://wrong-name.example:${tls.port}/` }),
        new WitErr('transport'),
      );
      assert.ok(t.logs.some((line) => line.code === 'ERR_TLS_CERT_ALTNAME_INVALID'));
    });
  });

  describe('transport errors', () => {
    it('answers transport on a refused connection and logs only the error class', async () => {
      const closed = await startServer(routes);
      const port = closed.port;
      await closed.close();
      const { provider } = counting({ allowPrivate: LOOPBACK });
      const t = scope([`http://127.0.0.1:${port}`]);
      const result = await call(provider, t, {
        url: `http://127.0.0.1:${port}/x?token=abc`,
        headers: [{ name: 'authorization', value: TOKEN }],
        body: new TextEncoder().encode('BODY-SECRET'),
        method: 'POST',
      });
      assert.deepEqual(result, new WitErr('transport'));
      const line = t.logs.find((entry) => entry.msg === 'http.fetch failed: transport error');
      assert.ok(line);
      assert.equal(line.code, 'ECONNREFUSED');
      const all = JSON.stringify(t.logs);
      for (const leak of ['TOPSECRET', 'BODY-SECRET', 'token=abc', 'authorization'])
        assert.ok(!all.includes(leak), leak);
    });
  });
});

describe('http provider, tracing', () => {
  let api: TestServer;
  before(async () => {
    api = await startServer(routes);
  });
  after(() => api.close());

  const guestTraceparent = { name: 'traceparent', value: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` };

  it('sends the upstream span as traceparent when the operator turns it on, replacing the guest’s', async () => {
    const fake = fakeTracing();
    const trace = fake.trace();
    const t = testScope({ providers: ['cap:http.fetch'], egress: { allowed_hosts: [api.origin] } }, trace);
    const { provider } = counting({ allowPrivate: LOOPBACK, propagateTrace: true });
    ok(await call(provider, t, { url: `${api.origin}/hello?token=${TOKEN}`, headers: [guestTraceparent] }));
    t.close();
    const upstream = fake.spans.find((span) => span.kind === 'client')!;
    assert.equal(upstream.name, 'GET');
    assert.equal(upstream.parent, fake.spans[0], 'under the execution when no host call span is current');
    assert.ok(upstream.ended);
    assert.equal(upstream.attributes['http.response.status_code'], 200);
    assert.equal(upstream.attributes['server.address'], '127.0.0.1');
    // Neither the path nor the query (which holds the token here) is on the span.
    assert.ok(!JSON.stringify(fake.spans).includes('TOPSECRET') && !JSON.stringify(fake.spans).includes('/hello'));
    const sent = api.requests.at(-1)!.headers['traceparent'];
    assert.equal(sent, `00-${'1'.repeat(32)}-${String(fake.spans.indexOf(upstream)).padStart(16, '0')}-01`);
  });

  it('by default sends no traceparent of its own (the guest’s header is the guest’s business)', async () => {
    const fake = fakeTracing();
    const t = testScope({ providers: ['cap:http.fetch'], egress: { allowed_hosts: [api.origin] } }, fake.trace());
    const { provider } = counting({ allowPrivate: LOOPBACK });
    ok(await call(provider, t, { url: `${api.origin}/hello` }));
    assert.equal(api.requests.at(-1)!.headers['traceparent'], undefined);
    ok(await call(provider, t, { url: `${api.origin}/hello`, headers: [guestTraceparent] }));
    assert.equal(api.requests.at(-1)!.headers['traceparent'], guestTraceparent.value);
    t.close();
    assert.equal(fake.spans.filter((span) => span.kind === 'client').length, 2, 'still one span per request');
  });

  it('with tracing off sends no traceparent even when propagation is on', async () => {
    const t = testScope({ providers: ['cap:http.fetch'], egress: { allowed_hosts: [api.origin] } });
    const { provider } = counting({ allowPrivate: LOOPBACK, propagateTrace: true });
    ok(await call(provider, t, { url: `${api.origin}/hello` }));
    t.close();
    assert.equal(api.requests.at(-1)!.headers['traceparent'], undefined);
  });

  it('the dispatcher wraps each host call in a span under the execution, with the WIT error name only', async () => {
    const fake = fakeTracing();
    const t = testScope({ providers: [], egress: { allowed_hosts: [api.origin] } }, fake.trace());
    const dispatch = createDispatcher([...testProviders()] as Provider[]);
    const outcome = await dispatch(t.scope, 'http', 'fetch', [{ method: 'GET', url: `${api.origin}/hello` }]);
    t.close();
    assert.equal(outcome.kind, 'err');
    const host = fake.spans.find((span) => span.name === 'host http.fetch')!;
    assert.equal(host.parent, fake.spans[0]);
    assert.deepEqual(host.attributes, {
      'alga.host.interface': 'http',
      'alga.host.function': 'fetch',
      'alga.host.outcome': 'err',
      'alga.host.error': 'not-allowed',
    });
    assert.ok(host.ended);
  });
});
