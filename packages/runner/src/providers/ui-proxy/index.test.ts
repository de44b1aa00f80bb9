/** The ui-proxy provider against a real local HTTP server on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { NO_DEADLINE_MS } from '../../testing/wait.ts';
import { WitErr } from '../../host-calls/index.ts';
import { parseUiProxyRoutes, uiProxyImpl } from './index.ts';

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
});
