import assert from 'node:assert/strict';
import { test } from 'node:test';
// The published reference SDK, installed from the registry under an alias (package.json devDependencies).
import * as published from 'alga-reference-sdk';
import * as ours from './index.ts';
import * as reference from './reference.ts';
import { installHost } from './host.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array | null | undefined) => (data ? new TextDecoder().decode(data) : data);

/** What a call did: its value, or the message it failed with. */
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    return { value: await call() };
  } catch (error) {
    return { error: error instanceof Error ? error.message : error };
  }
}

test('every runtime export of the published 0.3.0 exists in ours, at the root and under /reference', () => {
  const names = Object.keys(published).sort();
  assert.ok(names.length >= 4, `0.3.0 exports: ${names.join(', ')}`);
  for (const name of names) {
    assert.equal(typeof (ours as Record<string, unknown>)[name], 'function', `root export ${name}`);
    assert.equal(typeof (reference as Record<string, unknown>)[name], 'function', `/reference export ${name}`);
  }
});

test('jsonResponse and emptyResponse build the same responses as 0.3.0', () => {
  const bodies: unknown[] = [{ a: 1 }, [1, 'x'], 'text', 42, null, true, bytes('raw')];
  const inits: Array<Parameters<typeof published.jsonResponse>[1]> = [
    undefined,
    {},
    { status: 201 },
    { headers: [] },
    { status: 418, headers: [{ name: 'x-a', value: 'b' }] },
    { body: bytes('ignored') },
  ];
  for (const body of bodies) {
    for (const init of inits) {
      assert.deepEqual(
        ours.jsonResponse(body, init),
        published.jsonResponse(body, init),
        JSON.stringify({ body, init }),
      );
    }
  }
  const raw = bytes('same bytes');
  assert.equal(ours.jsonResponse(raw).body, raw, 'bytes pass through untouched');
  assert.deepEqual(ours.emptyResponse(), published.emptyResponse());
  assert.deepEqual(ours.emptyResponse(404), published.emptyResponse(404));
});

test('callProxyJson sends, parses and fails as 0.3.0 does', async () => {
  const answers = ['', '{"ok":true}', '[1,2]', 'not json'];
  const payloads: unknown[] = [undefined, null, { q: 1 }, 'str'];
  for (const answer of answers) {
    for (const payload of payloads) {
      for (const spelling of ['callRoute', 'call', 'both'] as const) {
        const make = () => {
          const seen: unknown[] = [];
          const fn = function (this: unknown, route: string, sent?: Uint8Array | null) {
            seen.push({ self: this === proxy, route, sent: sent === undefined ? 'undefined' : text(sent) });
            return Promise.resolve(bytes(answer));
          };
          const proxy: Record<string, unknown> = {};
          if (spelling !== 'call') proxy.callRoute = fn;
          if (spelling !== 'callRoute') proxy.call = fn;
          return { proxy: proxy as unknown as reference.UiProxyHost, seen };
        };
        const a = make();
        const b = make();
        assert.deepEqual(
          await outcome(() => ours.callProxyJson(a.proxy, '/api/v1/x', payload)),
          await outcome(() => published.callProxyJson(b.proxy, '/api/v1/x', payload)),
          JSON.stringify({ answer, payload, spelling }),
        );
        assert.deepEqual(a.seen, b.seen);
      }
    }
  }
  const empty = {} as reference.UiProxyHost;
  assert.deepEqual(
    await outcome(() => ours.callProxyJson(empty, '/r')),
    await outcome(() => published.callProxyJson(empty, '/r')),
  );
});

/** Calls every method of every interface of two bindings with the same arguments and compares the outcomes. */
async function compareBindings(mine: reference.HostBindings, theirs: reference.HostBindings, label: string) {
  assert.deepEqual(Object.keys(mine).sort(), Object.keys(theirs).sort(), `${label}: interfaces`);
  const args: Record<string, unknown[]> = {
    get: ['ns', 'key'],
    put: [{ namespace: 'ns', key: 'k', value: bytes('v') }],
    delete: ['ns', 'k'],
    list: ['ns'],
    fetch: [{ method: 'GET', url: 'https://example.com', headers: [] }],
    callRoute: ['/api/x', bytes('{}')],
    call: ['/api/x', bytes('{}')],
    create: [{ endpoint: '/sync', cron: '* * * * *' }],
    update: ['s-1', {}],
    info: ['hello'],
    warn: ['careful'],
    error: ['broken'],
  };
  for (const [iface, methods] of Object.entries(theirs) as [string, Record<string, unknown>][]) {
    const mineMethods = (mine as unknown as Record<string, Record<string, unknown>>)[iface]!;
    assert.deepEqual(Object.keys(mineMethods).sort(), Object.keys(methods).sort(), `${label}: ${iface} methods`);
    for (const [name, fn] of Object.entries(methods)) {
      if (typeof fn !== 'function') continue;
      const callArgs = args[name] ?? [];
      assert.deepEqual(
        await outcome(() => (mineMethods[name] as (...a: unknown[]) => unknown)(...callArgs)),
        await outcome(() => (fn as (...a: unknown[]) => unknown)(...callArgs)),
        `${label}: ${iface}.${name}`,
      );
    }
  }
}

test('createMockHostBindings: the same defaults, the same logging lines, the same merging of overrides', async (t) => {
  const lines: unknown[][] = [];
  for (const level of ['info', 'warn', 'error'] as const) {
    t.mock.method(console, level, (...args: unknown[]) => lines.push([level, ...args]));
  }
  await compareBindings(ours.createMockHostBindings(), published.createMockHostBindings(), 'defaults');
  // compareBindings calls ours, then theirs: lines alternate.
  assert.ok(lines.length >= 6, 'the mock logged');
  assert.deepEqual(
    lines.filter((_, i) => i % 2 === 0),
    lines.filter((_, i) => i % 2 === 1),
    'the same log lines',
  );

  const overrides = (): Partial<reference.HostBindings> => ({
    secrets: { get: async (key: string) => `secret:${key}` } as reference.SecretsHost,
    context: { get: async () => ({ tenantId: 't-1', extensionId: 'e-1' }) },
    uiProxy: { call: async (route: string) => bytes(`via call ${route}`) } as unknown as reference.UiProxyHost,
    user: { getUser: async () => ({ ...(await published.createMockHostBindings().user.getUser()), userId: 'u-9' }) },
  });
  const mine = ours.createMockHostBindings(overrides());
  const theirs = published.createMockHostBindings(overrides());
  await compareBindings(mine, theirs, 'overrides');
  // As in 0.3.0, a `call` override does not replace the default `callRoute` (which rejects).
  assert.equal(text(await mine.uiProxy.call!('/r')), 'via call /r');

  const onlyRoute = { callRoute: async (route: string) => bytes(route) } as reference.UiProxyHost;
  await compareBindings(
    ours.createMockHostBindings({ uiProxy: onlyRoute }),
    published.createMockHostBindings({ uiProxy: onlyRoute }),
    'callRoute only',
  );
});

test('normalizeUserData takes v1 and v2 records, extra fields as a record or as pairs', () => {
  const base = {
    tenantId: 't',
    clientName: 'Acme',
    userId: 'u',
    userEmail: 'u@acme.test',
    userName: 'U',
    userType: 'msp',
  };
  assert.deepEqual(ours.normalizeUserData(base), { ...base, clientId: null, additionalFields: {} });
  const pairs = ours.normalizeUserData({
    ...base,
    clientId: 'c-1',
    additionalFields: [
      ['b', '2'],
      ['a', 1],
    ],
  });
  const record = ours.normalizeUserData({ ...base, clientId: 'c-1', additionalFields: { b: '2', a: 1 } });
  assert.deepEqual(pairs, record);
  assert.deepEqual(pairs.additionalFields, { a: '1', b: '2' });
  assert.equal(pairs.clientId, 'c-1');
  assert.deepEqual(ours.normalizeUserData({}).userEmail, '');
});

/** Stand-ins for the `alga:extension/*` imports, failing the way componentize-js bindings do. */
function fakeImports(): { imports: reference.HostImports; calls: string[] } {
  const calls: string[] = [];
  const witError = (payload: string) => Object.assign(new Error(payload), { payload });
  const store = new Map<string, { value: Uint8Array; revision: bigint }>();
  return {
    calls,
    imports: {
      context: { getContext: () => ({ tenantId: 't-1', extensionId: 'e-1', installId: 'i-1' }) },
      secrets: {
        get: (key) => {
          if (key === 'ALGA_API_KEY') return 'k-123';
          throw witError('missing');
        },
        listKeys: () => ['ALGA_API_KEY'],
      },
      http: {
        fetch: (request) => {
          calls.push(
            `fetch ${request.method} ${request.url} body=${String(request.body === undefined ? 'none' : text(request.body))}`,
          );
          return { status: 200, headers: [], body: bytes('pong') };
        },
      },
      storage: {
        get: (namespace, key) => {
          const hit = store.get(`${namespace}/${key}`);
          if (!hit) throw witError('missing');
          return { namespace, key, ...hit };
        },
        put: (entry) => {
          const revision = (store.get(`${entry.namespace}/${entry.key}`)?.revision ?? 0n) + 1n;
          store.set(`${entry.namespace}/${entry.key}`, { value: entry.value, revision });
          return { ...entry, revision };
        },
        delete: (namespace, key) => void store.delete(`${namespace}/${key}`),
        listEntries: (namespace) =>
          [...store]
            .filter(([k]) => k.startsWith(`${namespace}/`))
            .map(([k, v]) => ({ namespace, key: k.slice(namespace.length + 1), ...v })),
      },
      logging: {
        logInfo: (m) => void calls.push(`info ${m}`),
        logWarn: (m) => void calls.push(`warn ${m}`),
        logError: (m) => void calls.push(`error ${m}`),
      },
      uiProxy: {
        callRoute: (route, payload) => {
          calls.push(`proxy ${route} ${payload === undefined ? 'GET' : 'POST'}`);
          if (route === '/missing') throw witError('route-not-found');
          return bytes('{"rows":[]}');
        },
      },
      user: {
        getUser: () => ({
          tenantId: 't-1',
          clientName: 'Acme',
          userId: 'u',
          userEmail: 'e',
          userName: 'n',
          userType: 'msp',
        }),
      },
    },
  };
}

test('createHostBindings wires HostBindings to the imported interfaces', async () => {
  const { imports, calls } = fakeImports();
  const host = ours.createHostBindings(imports);
  assert.equal((await host.context.get()).installId, 'i-1');
  assert.equal(await host.secrets.get('ALGA_API_KEY'), 'k-123');
  assert.deepEqual(await host.secrets.list(), ['ALGA_API_KEY']);
  const missing = await host.secrets.get('nope').catch((error: unknown) => error);
  assert.equal(
    (missing as { payload?: unknown }).payload,
    'missing',
    'WIT errors keep their case, as on the reference host',
  );

  assert.equal(
    text((await host.http.fetch({ method: 'GET', url: 'https://x.test/', headers: [], body: null })).body),
    'pong',
  );
  assert.deepEqual(calls.splice(0), ['fetch GET https://x.test/ body=none']);

  assert.equal(await host.storage.get('ns', 'k'), null, "a missing entry is null, as HostBindings' type says");
  await host.storage.put({ namespace: 'ns', key: 'k', value: bytes('v1') });
  assert.equal(text(await host.storage.get('ns', 'k')), 'v1');
  assert.deepEqual(
    (await host.storage.list('ns')).map((e) => [e.key, text(e.value), e.revision]),
    [['k', 'v1', 1]],
  );
  await host.storage.delete('ns', 'k');
  assert.deepEqual(await host.storage.list('ns'), []);

  assert.deepEqual(await ours.callProxyJson(host.uiProxy, '/api/v1/reports', { a: 1 }), { rows: [] });
  await host.uiProxy.call!('/api/v1/reports');
  const notFound = await host.uiProxy.callRoute('/missing').catch((error: unknown) => error);
  assert.equal((notFound as { payload?: unknown }).payload, 'route-not-found');
  assert.deepEqual(calls.splice(0), ['proxy /api/v1/reports POST', 'proxy /api/v1/reports GET', 'proxy /missing GET']);

  await host.logging.info('hi');
  await host.logging.error('oops');
  assert.deepEqual(calls.splice(0), ['info hi', 'error oops']);
  assert.equal((await host.user.getUser()).clientName, 'Acme');
  await assert.rejects(host.scheduler.list(), /not provided by this platform/);
});

test('createHostBindings without arguments reads the imports the entry installed, per request; a missing import names itself', async () => {
  const { imports } = fakeImports();
  const host = ours.createHostBindings();
  installHost({});
  await assert.rejects(host.secrets.get('ALGA_API_KEY'), /alga:extension\/secrets is not imported.*cap:secrets\.get/);
  await host.logging.info('dropped without the import');
  installHost(imports as unknown as Parameters<typeof installHost>[0]);
  assert.equal(await host.secrets.get('ALGA_API_KEY'), 'k-123');
  installHost({});
});

test('a reference-style handler runs against createHostBindings and answers a WIT-shaped response', async () => {
  const handler: ours.ReferenceHandler = async (request, host) => {
    const key = await host.secrets.get('ALGA_API_KEY');
    await host.logging.info(`called ${request.http.url}`);
    return request.http.method === 'DELETE'
      ? ours.emptyResponse()
      : ours.jsonResponse({ path: request.http.url, keyLength: key.length });
  };
  const { imports } = fakeImports();
  const request = { context: { tenantId: 't', extensionId: 'e' }, http: { method: 'GET', url: '/x', headers: [] } };
  const response = reference.toWitResponse(await handler(request, ours.createHostBindings(imports)));
  assert.equal(response.status, 200);
  assert.deepEqual(JSON.parse(text(response.body)!), { path: '/x', keyLength: 5 });
  const empty = reference.toWitResponse(
    await handler({ ...request, http: { ...request.http, method: 'DELETE' } }, ours.createHostBindings(imports)),
  );
  assert.deepEqual(empty, { status: 204, headers: [], body: undefined });
});
