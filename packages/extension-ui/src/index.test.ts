import assert from 'node:assert/strict';
import { test } from 'node:test';
import { callProxyJson, ProxyCallError } from './index.ts';

type Call = { url: string; init: RequestInit };

function stubFetch(status: number, body: unknown, calls: Call[]): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as typeof fetch;
}

function fakeDocument(metas: Record<string, string>, search = '') {
  return {
    location: { search },
    querySelector: (selector: string) => {
      const name = /name="([^"]+)"/.exec(selector)?.[1] ?? '';
      return name in metas ? { getAttribute: () => metas[name]! } : null;
    },
  } as never;
}

test('posts JSON to /api/ext-proxy/<id>/<route> same-origin with the CSRF meta token', async () => {
  const calls: Call[] = [];
  const result = await callProxyJson<{ ok: boolean }>(
    '/stats',
    { range: '7d' },
    {
      fetch: stubFetch(200, { ok: true }, calls),
      document: fakeDocument({ 'alga-csrf-token': 'csrf-1' }, '?ext=my-ext'),
    },
  );
  assert.deepEqual(result, { ok: true });
  assert.equal(calls[0]?.url, '/api/ext-proxy/my-ext/stats');
  assert.equal(calls[0]?.init.method, 'POST');
  assert.equal(calls[0]?.init.credentials, 'same-origin');
  assert.equal(calls[0]?.init.body, '{"range":"7d"}');
  const headers = calls[0]?.init.headers as Record<string, string>;
  assert.equal(headers['x-alga-csrf'], 'csrf-1');
  assert.equal(headers['content-type'], 'application/json');
});

test('without a payload it is a GET and the id may come from a meta tag', async () => {
  const calls: Call[] = [];
  await callProxyJson('items/1', undefined, {
    fetch: stubFetch(200, [], calls),
    document: fakeDocument({ 'alga-extension-id': 'ext-2' }),
  });
  assert.equal(calls[0]?.url, '/api/ext-proxy/ext-2/items/1');
  assert.equal(calls[0]?.init.method, 'GET');
  assert.equal(calls[0]?.init.body, undefined);
});

test('a host error becomes a ProxyCallError with status and code', async () => {
  await assert.rejects(
    callProxyJson('/x', undefined, {
      extensionId: 'e',
      fetch: stubFetch(403, { error: { code: 'ALGA_FORBIDDEN', message: 'no' } }, []),
      document: fakeDocument({}),
    }),
    (error: unknown) => error instanceof ProxyCallError && error.status === 403 && error.code === 'ALGA_FORBIDDEN',
  );
});

test('no extension id is a clear error', async () => {
  await assert.rejects(
    callProxyJson('/x', undefined, { fetch: stubFetch(200, {}, []), document: fakeDocument({}) }),
    /no extension id/,
  );
});
