/** The ui-proxy provider against a real local HTTP server on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { LocalKeyring } from '@alga-psa/transit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { envelopeFor } from '../../testing/harness.ts';
import { testScope } from '../../testing/scope.ts';
import { NO_DEADLINE_MS } from '../../testing/wait.ts';
import { WitErr } from '../../host-calls/index.ts';
import { parseUiProxyBase, parseUiProxyRoutes, pathRouteUrl, uiProxyImpl } from './index.ts';

interface Seen {
  url: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('ui-proxy provider', () => {
  let server: Server;
  let origin: string;
  const seen: Seen[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ url: req.url!, method: req.method!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === '/ok') res.end(`echo:${Buffer.concat(chunks).toString()}`);
        else if (req.url === '/invalid') res.writeHead(422).end('no');
        else if (req.url === '/broken') res.writeHead(500).end('oops');
        else if (req.url === '/huge') res.end(Buffer.alloc(1024 * 1024 + 1, 97));
        // Never answers: only the provider's time cap ends the call (the server's close ends the socket).
        else if (req.url === '/slow') return;
        // Path routes' status table: /ext-backend/<extension>/status/<code> answers <code>.
        else if (/^\/ext-backend\/ext-1\/status\/\d{3}$/.test(req.url!))
          res.writeHead(Number(req.url!.slice(-3))).end('s');
        // Redirects: /ext-backend/ext-1/redirect/<code>?to=<location> answers <code> with that Location.
        else if (/^\/ext-backend\/ext-1\/redirect\/\d{3}\?to=/.test(req.url!)) {
          const url = new URL(req.url!, 'http://x');
          res.writeHead(Number(url.pathname.slice(-3)), { location: url.searchParams.get('to')! }).end('moved');
        } else if (req.url === '/ext-backend/ext-1/loop') res.writeHead(307, { location: 'loop' }).end();
        else if (req.url === '/ext-backend/ext-1/landed')
          res.end(`landed:${req.method}:${Buffer.concat(chunks).toString()}`);
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** Calls that should be answered get no time cap a slow machine could reach; the timeout test sets one. */
  const provider = (timeoutMs = NO_DEADLINE_MS) =>
    uiProxyImpl({
      routes: parseUiProxyRoutes(
        JSON.stringify({
          sync: `${origin}/ok`,
          invalid: `${origin}/invalid`,
          broken: `${origin}/broken`,
          huge: `${origin}/huge`,
          slow: `${origin}/slow`,
          closed: 'http://127.0.0.1:1/',
        }),
      ),
      timeoutMs,
    });
  const call = (route: string, payload?: string, timeoutMs?: number) => {
    const t = testScope({ providers: ['cap:ui.proxy'] });
    const bytes = payload === undefined ? undefined : new TextEncoder().encode(payload);
    return provider(timeoutMs).functions.callRoute(t.scope, route, bytes) as Promise<Uint8Array | WitErr>;
  };

  it('POSTs the payload to the configured URL with request id, tenant and install, and returns the body', async () => {
    seen.length = 0;
    const result = await call('sync', '{"a":1}');
    assert.ok(result instanceof Uint8Array);
    assert.equal(Buffer.from(result).toString(), 'echo:{"a":1}');
    assert.equal(seen[0]?.method, 'POST');
    assert.equal(seen[0]?.headers['x-request-id'], 'req-1');
    assert.equal(seen[0]?.headers['x-alga-tenant-id'], 'tenant-1');
    assert.equal(seen[0]?.headers['x-alga-install-id'], 'install-1');
  });

  it('answers route-not-found for a route the operator did not configure, without any request', async () => {
    seen.length = 0;
    assert.deepEqual(await call('nope'), new WitErr('route-not-found'));
    assert.deepEqual(await call('__proto__'), new WitErr('route-not-found'));
    assert.equal(seen.length, 0);
  });

  it('answers bad-request for a 4xx answer and internal for a 5xx', async () => {
    assert.deepEqual(await call('invalid', 'x'), new WitErr('bad-request'));
    assert.deepEqual(await call('broken', 'x'), new WitErr('internal'));
  });

  it('answers internal for an answer over 1 MiB, a timeout and a refused connection', async () => {
    assert.deepEqual(await call('huge'), new WitErr('internal'));
    assert.deepEqual(await call('slow', undefined, 300), new WitErr('internal'));
    assert.deepEqual(await call('closed'), new WitErr('internal'));
  });

  it('answers denied without any request when cap:ui.proxy is not granted', () => {
    seen.length = 0;
    assert.deepEqual(provider().denied('callRoute', testScope().scope), new WitErr('denied'));
    assert.equal(seen.length, 0);
  });

  it('refuses a route table that is not an object of http(s) URLs, naming each bad route', () => {
    assert.throws(() => parseUiProxyRoutes('[1]'), /JSON object/);
    assert.throws(() => parseUiProxyRoutes('{not json'), /JSON object/);
    assert.throws(
      () => parseUiProxyRoutes(JSON.stringify({ a: 'ftp://x', b: 'http://u:p@host/', c: 5 })),
      (error: Error) =>
        /"a"/.test(error.message) && /"b".*credentials/.test(error.message) && /"c"/.test(error.message),
    );
    assert.equal(parseUiProxyRoutes(undefined).size, 0);
  });

  describe('path routes (the reference host semantics)', () => {
    let dir: string;
    let keyring: LocalKeyring;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'alga-ui-proxy-'));
      keyring = await LocalKeyring.open(path.join(dir, 'transit.key'), { create: true });
    });
    after(() => rm(dir, { recursive: true, force: true }));

    const pathProvider = () =>
      uiProxyImpl({
        routes: parseUiProxyRoutes(JSON.stringify({ sync: `${origin}/ok` })),
        apiBase: parseUiProxyBase(`${origin}/platform/`),
        extensionBase: parseUiProxyBase(`${origin}/ext-backend`),
        decrypter: keyring,
        timeoutMs: NO_DEADLINE_MS,
      });

    it('sends /api/… to the platform API base and other paths below the extension id, POST with a payload, else GET', async () => {
      seen.length = 0;
      const t = testScope({
        providers: ['cap:ui.proxy'],
        user: { user_id: 'u-1', user_email: 'ada@example.com' },
        secret_envelope: await envelopeFor(keyring, { api_key: 'key-for-upstream' }),
      });
      const impl = pathProvider();
      const payload = new TextEncoder().encode('{"__method":"DELETE"}');
      await impl.functions.callRoute(t.scope, '/api/v1/platform-reports?x=1&y=2', payload);
      await impl.functions.callRoute(t.scope, 'reports//list', undefined);
      assert.deepEqual(
        seen.map((s) => [s.method, s.url]),
        [
          ['POST', '/platform/api/v1/platform-reports?x=1&y=2'],
          ['GET', '/ext-backend/ext-1/reports/list'],
        ],
      );
      const [post] = seen;
      assert.equal(post!.body, '{"__method":"DELETE"}');
      assert.equal(post!.headers['content-type'], 'application/json');
      assert.equal(post!.headers['x-api-key'], 'key-for-upstream');
      assert.equal(post!.headers['x-alga-tenant'], 'tenant-1');
      assert.equal(post!.headers['x-alga-extension'], 'ext-1');
      assert.equal(post!.headers['x-ext-install-id'], 'install-1');
      assert.equal(post!.headers['x-ext-version-id'], 'ver-1');
      assert.equal(post!.headers['x-user-id'], 'u-1');
      assert.equal(post!.headers['x-user-email'], 'ada@example.com');
      assert.ok(t.scope.masked.has('key-for-upstream'), 'the key is masked in every line of the execution');
      // The upstream answered 404 for both (its handler only knows /ok): the reference's table says route-not-found.
    });

    it('maps the upstream status as the reference does: 401/403/429 denied, 404 route-not-found, 4xx bad-request, 5xx internal', async () => {
      const impl = pathProvider();
      const expected: Array<[number, string]> = [
        [401, 'denied'],
        [403, 'denied'],
        [429, 'denied'],
        [404, 'route-not-found'],
        [400, 'bad-request'],
        [422, 'bad-request'],
        [500, 'internal'],
        [503, 'internal'],
      ];
      for (const [status, variant] of expected) {
        const t = testScope({ providers: ['cap:ui.proxy'] });
        assert.deepEqual(
          await impl.functions.callRoute(t.scope, `status/${status}`, undefined),
          new WitErr(variant),
          String(status),
        );
      }
      const ok = await impl.functions.callRoute(
        testScope({ providers: ['cap:ui.proxy'] }).scope,
        'status/201',
        undefined,
      );
      assert.equal(Buffer.from(ok as Uint8Array).toString(), 's');
    });

    it("follows redirects that stay below the route's base, as the reference client does: 301/302/303 turn a POST into a GET, 307/308 keep it", async () => {
      const impl = pathProvider();
      const secret_envelope = await envelopeFor(keyring, { api_key: 'key-for-upstream' });
      const payload = new TextEncoder().encode('{"a":1}');
      const expected: Array<[number, string]> = [
        [301, 'landed:GET:'],
        [302, 'landed:GET:'],
        [303, 'landed:GET:'],
        [307, 'landed:POST:{"a":1}'],
        [308, 'landed:POST:{"a":1}'],
      ];
      for (const [status, answer] of expected) {
        seen.length = 0;
        const t = testScope({ providers: ['cap:ui.proxy'], secret_envelope });
        const result = await impl.functions.callRoute(t.scope, `redirect/${status}?to=../landed`, payload);
        assert.equal(Buffer.from(result as Uint8Array).toString(), answer, String(status));
        assert.equal(seen.length, 2);
        assert.equal(seen[1]!.headers['x-api-key'], 'key-for-upstream', 'the key goes to the hop below the same base');
      }
    });

    it("does not follow a redirect off the route's base (another origin, another extension, an encoded climb) or past 10 hops: internal", async () => {
      const impl = pathProvider();
      const secret_envelope = await envelopeFor(keyring, { api_key: 'key-for-upstream' });
      const port = new URL(origin).port;
      for (const location of [
        `http://localhost:${port}/ext-backend/ext-1/landed`,
        '/ext-backend/ext-2/landed',
        '/ext-backend/ext-1/..%2F..%2Fplatform/api/v1/x',
        '/platform/api/v1/x',
      ]) {
        seen.length = 0;
        const t = testScope({ providers: ['cap:ui.proxy'], secret_envelope });
        const route = `redirect/302?to=${encodeURIComponent(location)}`;
        assert.deepEqual(await impl.functions.callRoute(t.scope, route, undefined), new WitErr('internal'), location);
        assert.equal(seen.length, 1, `${location}: only the first request was made`);
      }
      seen.length = 0;
      const t = testScope({ providers: ['cap:ui.proxy'] });
      assert.deepEqual(await impl.functions.callRoute(t.scope, 'loop', undefined), new WitErr('internal'));
      assert.equal(seen.length, 11, 'the first request and 10 redirects followed');
    });

    it('sends no x-api-key when the api_key secret is egress-bound (it goes only to its egress hosts, through http)', async () => {
      seen.length = 0;
      const t = testScope({
        providers: ['cap:ui.proxy'],
        secret_envelope: await envelopeFor(keyring, { api_key: 'bound-key' }),
        secret_egress: { api_key: ['api.example.com'] },
      });
      await pathProvider().functions.callRoute(t.scope, '/api/v1/x', undefined);
      assert.equal(seen[0]!.headers['x-api-key'], undefined);
      assert.ok(!t.scope.masked.has('bound-key'), 'not even decrypted');
    });

    it('sends no x-api-key without the api_key secret, and a named route still wins over a path', async () => {
      seen.length = 0;
      const t = testScope({ providers: ['cap:ui.proxy'] });
      const impl = pathProvider();
      await impl.functions.callRoute(t.scope, 'anything', undefined);
      const named = await impl.functions.callRoute(t.scope, 'sync', new TextEncoder().encode('n'));
      assert.equal(seen[0]!.headers['x-api-key'], undefined);
      assert.equal(Buffer.from(named as Uint8Array).toString(), 'echo:n');
    });

    it('never leaves its base: dot segments (also encoded) and an empty route are bad-request, without a request', async () => {
      seen.length = 0;
      const bases = { apiBase: new URL('http://api.internal/base'), extensionBase: new URL('http://ext.internal/') };
      for (const route of [
        '',
        '   ',
        '/api/../admin',
        'a/%2e%2e/b',
        'x/%2E/y',
        'a\\..\\b',
        '%zz',
        'a/..%2F..%2Fadmin',
      ]) {
        assert.equal(pathRouteUrl(route, 'ext-1', bases), 'bad-request', JSON.stringify(route));
      }
      assert.equal(
        pathRouteUrl('http://evil.example/x', 'ext-1', bases)?.toString(),
        'http://ext.internal/ext-1/http:/evil.example/x',
      );
      assert.equal(
        pathRouteUrl('api/v1/x?q=a b', 'com.alga x', bases)?.toString(),
        'http://api.internal/base/api/v1/x?q=a%20b',
      );
      assert.equal(pathRouteUrl('/r', 'com.alga x', bases)?.toString(), 'http://ext.internal/com.alga%20x/r');
      const t = testScope({ providers: ['cap:ui.proxy'] });
      assert.deepEqual(
        await pathProvider().functions.callRoute(t.scope, '/api/../x', undefined),
        new WitErr('bad-request'),
      );
      assert.equal(seen.length, 0);
    });

    it('without the base a path needs, it is route-not-found; a bad base stops the runner at start', async () => {
      assert.equal(pathRouteUrl('/api/x', 'e', { extensionBase: new URL('http://ext/') }), undefined);
      assert.equal(pathRouteUrl('/x', 'e', { apiBase: new URL('http://api/') }), undefined);
      assert.throws(() => parseUiProxyBase('ftp://x'), /http\(s\)/);
      assert.throws(() => parseUiProxyBase('http://u:p@x/'), /credentials/);
      assert.throws(() => parseUiProxyBase('http://x/?a=1'), /query/);
      assert.equal(parseUiProxyBase(''), undefined);
    });
  });
});
