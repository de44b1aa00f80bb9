/**
 * Hostile input against every route the server registers (issue 21, item 3):
 * NUL, %-escapes that are not UTF-8, 10 KB segments and other hostile text in
 * each path parameter and in the query string (and strings of the same kind
 * in JSON bodies), sent as an admin API key, a signed-in admin and a
 * runner's service token. No answer is a 5xx, every refusal is a registry
 * error body, and URL text the database cannot hold is a 400 (404 where no
 * route matches) — on each engine. The routes come from the server itself,
 * so a route added later is driven too.
 */
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CSRF_HEADER, isErrorCode } from '@alga-psa/protocol';
import { createUser } from './auth/session.ts';
import { startRunnerApiServer, type RunnerApiTestContext } from './runner-api/testing.ts';
import type { ServedRoute } from './server.ts';
import { testEngines } from './testing/databases.ts';
import { startEchoRunner } from './testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest } from './testing/fixtures.ts';

/**
 * A stand-in for packages/web/dist, so the page routes answer as in a deployment whether or not
 * this checkout has built the UI (unbuilt, they answer a deliberate 503 that says so).
 */
async function builtWebRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'alga-web-root-'));
  await mkdir(path.join(root, 'assets'));
  await writeFile(path.join(root, 'index.html'), '<!doctype html><title>Alga</title>');
  return root;
}

/** Requests per route and engine: enough to mix every kind of input and credential, bounded for speed. */
const RUNS_PER_ROUTE = 12;
const ORIGIN = 'http://localhost';
const TEN_KB = 10 * 1024;

const percentEncoded = (bytes: Uint8Array) =>
  [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0').toUpperCase()}`).join('');

/** A cursor that decodes to a key with a NUL: the storage listing's only nested input. */
const nulCursor = Buffer.from(JSON.stringify({ v: 1, ns: 'ns', k: 'a\u0000b' })).toString('base64url');

/** Raw (already URL-encoded) text for one path segment or query value. */
const hostilePiece = fc.oneof(
  fc.constantFrom(
    '%00',
    'a%00b',
    '%C3%28', // a lead byte without its continuation
    '%FF',
    '%ED%A0%80', // a UTF-16 surrogate, encoded as UTF-8
    '%F4%90%80%80', // past U+10FFFF
    '%C0%AF', // over-long "/"
    '%E2%80%AE', // right-to-left override
    '%EF%BF%BF',
    '%F0%9F%92%A9',
    '%0D%0A',
    '%1B%5B2J',
    '%7F',
    '%2F',
    '%5C',
    '%2E%2E',
    '..',
    '.',
    '%25',
    '%',
    '%zz',
    '%27%20OR%201%3D1--',
    "'",
    '%22',
    '%3Cscript%3E',
    '__proto__',
    'constructor',
    '-1',
    '0',
    '99999999999999999999999',
    '1e309',
    'NaN',
    '%20',
    '+',
    nulCursor,
  ),
  // Arbitrary bytes: mostly not UTF-8 at all.
  fc.uint8Array({ minLength: 1, maxLength: 12 }).map(percentEncoded),
  // Arbitrary text, properly encoded.
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map((text) => {
    try {
      return encodeURIComponent(text);
    } catch {
      return percentEncoded(Buffer.from(text));
    }
  }),
);

const hostile = fc.oneof(
  { weight: 6, arbitrary: hostilePiece },
  { weight: 2, arbitrary: fc.array(hostilePiece, { minLength: 2, maxLength: 4 }).map((parts) => parts.join('')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('a', '%00', '%FF', '%C3%A9').map((unit) => unit.repeat(TEN_KB / unit.length)),
  },
);

/** Decoded text for JSON bodies: NUL, lone surrogates and the like inside otherwise plain strings. */
const hostileText = fc.oneof(
  fc.constantFrom(
    'a\u0000b',
    '\u0000',
    '\ud800',
    'x\udfffy',
    '\u202e',
    "'; DROP TABLE installs; --",
    'é'.repeat(TEN_KB),
  ),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)), maxLength: 12 }),
);

/** Field names the server's bodies use, so hostile values also reach past schema validation. */
const bodyField = fc.constantFrom(
  'extensionId',
  'version',
  'grant',
  'consent',
  'config',
  'secrets',
  'set',
  'clear',
  'value',
  'manifest',
  'contentHash',
  'metadata',
  'email',
  'password',
  'enabled',
  'lines',
  'value_b64',
);

type Credential = 'api key' | 'session' | 'service token';
const CREDENTIALS: Credential[] = ['api key', 'session', 'service token'];

/** The decoded text of a %-encoded string, or undefined when it is not UTF-8. */
function decoded(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

const unstorable = (text: string) => text.includes('\0') || /\p{Cs}/u.test(text);

type Segment = { fixed: string } | { param: string };

/** `/api/v1/installs/:extensionId/secrets/:key` → its fixed and parameter segments (`*` is a parameter too). */
function segmentsOf(url: string): Segment[] {
  return url
    .split('/')
    .map((part) => (part === '*' ? { param: '*' } : part.includes(':') ? { param: part } : { fixed: part }));
}

for (const engine of testEngines()) {
  describe(`hostile input on every route (${engine.name})`, () => {
    let ctx: RunnerApiTestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    let contentHash: string;
    /** The store-ext install the service tokens name (it changes when a request uninstalled it). */
    let storeInstallId: string;
    /** Values any parameter may take besides hostile ones, so hostile input also reaches past the id lookups. */
    let valid: string[] = [];
    const session = { cookie: '', csrf: '' };
    /** Whether a request since the last `restore` may have changed something (anything but GET and HEAD). */
    let changed = true;

    const inject = (method: string, url: string, headers: Record<string, string>, payload?: object) =>
      ctx.server.app.inject({
        method: method as 'GET',
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
      });

    async function signIn(): Promise<void> {
      const cookies: Record<string, string> = {};
      const start = await inject('GET', '/ui/api/session', { host: 'localhost' });
      for (const set of start.cookies) cookies[set.name] = set.value;
      const cookie = () =>
        Object.entries(cookies)
          .map(([name, value]) => `${name}=${value}`)
          .join('; ');
      const signedIn = await inject(
        'POST',
        '/ui/api/session',
        { host: 'localhost', origin: ORIGIN, cookie: cookie(), 'x-csrf-token': start.json().csrfToken },
        { email: 'admin@a.test', password: 'admin-pass-1' },
      );
      assert.equal(signedIn.statusCode, 200, signedIn.body);
      for (const set of signedIn.cookies) cookies[set.name] = set.value;
      session.cookie = cookie();
      session.csrf = signedIn.json().csrfToken;
    }

    /** Puts back what the previous route's requests may have undone: both installs, enabled, and the session. */
    async function restore(): Promise<void> {
      if (!changed) return;
      changed = false;
      const ids: string[] = [];
      for (const extensionId of ['hello-ext', 'store-ext']) {
        const installed = await install(ctx, extensionId);
        assert.ok(installed.statusCode < 300, installed.body);
        ids.push(installed.json().install.id);
        const enabled = await inject('POST', `/api/v1/installs/${extensionId}/enable`, { authorization: ctx.adminA });
        assert.equal(enabled.statusCode, 200, enabled.body);
      }
      storeInstallId = ids[1]!;
      const current = await inject('GET', '/ui/api/session', { host: 'localhost', cookie: session.cookie });
      if (!current.json().user) await signIn();
      valid = ['hello-ext', 'store-ext', ...ids, contentHash, 'api_token', 'greeting', 'ns', 'hello', 'items/7', 'k'];
    }

    async function headersFor(credential: Credential): Promise<Record<string, string>> {
      switch (credential) {
        case 'api key':
          return { authorization: ctx.adminA };
        case 'session':
          return {
            host: 'localhost',
            origin: ORIGIN,
            cookie: session.cookie,
            'x-csrf-token': session.csrf,
            [CSRF_HEADER]: '1',
          };
        case 'service token':
          return { authorization: await ctx.token(storeInstallId) };
      }
    }

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startRunnerApiServer(await engine.open(), {
        runnerUrl: runner.url,
        web: { webRoot: await builtWebRoot() },
      });
      contentHash = await publish(ctx, sampleManifest());
      await createUser(ctx.db, {
        tenantId: ctx.tenantA,
        email: 'admin@a.test',
        role: 'admin',
        password: 'admin-pass-1',
      });
      await restore();
    });
    after(() => closeAll(ctx, runner));

    test('the URLs of the report answer 400 ALGA_BAD_REQUEST, not 500', async () => {
      const urls = [
        '/api/ext/adv%00x/ok',
        '/api/ext-proxy/a%00b/ok',
        '/api/v1/installs/a%00b',
        '/api/v1/installs/a%00b/secrets',
        '/api/v1/installs/a%00b/logs',
        '/api/v1/installs/hello-ext/logs?after=%00',
        '/api/v1/installs/a%C3%28b',
        '/api/v1/installs/%FF',
        `/api/v1/installs/${'a'.repeat(TEN_KB)}`,
        `/api/ext/${'a'.repeat(TEN_KB)}/ok`,
        '/ui/api/installs/%00/settings',
        '/ui/api/extensions/%00/consent',
      ];
      for (const url of urls) {
        for (const credential of ['api key', 'session'] as const) {
          const response = await inject('GET', url, await headersFor(credential));
          assert.equal(response.statusCode, 400, `${url.slice(0, 80)}: ${response.body.slice(0, 200)}`);
          assert.equal(response.json().error.code, 'ALGA_BAD_REQUEST');
          assert.ok(response.headers['x-request-id']);
        }
      }
    });

    test('JSON bodies whose strings hold a NUL or half a surrogate pair answer 400 ALGA_BAD_REQUEST', async () => {
      const cases: [string, string, Credential, object][] = [
        ['POST', '/api/v1/installs', 'api key', { extensionId: 'a\u0000b' }],
        ['PUT', '/api/v1/installs/hello-ext/config', 'api key', { config: { greeting: 'Hi\u0000' } }],
        ['PUT', '/api/v1/installs/hello-ext/config', 'api key', { config: { ['greeting\ud800']: 'Hi' } }],
        ['POST', '/ui/api/session', 'session', { email: 'admin@a.test\u0000', password: 'x' }],
        ['POST', '/ui/api/installs', 'session', { extensionId: 'hello-ext\u0000', consent: [] }],
      ];
      for (const [method, url, credential, payload] of cases) {
        const response = await inject(method, url, await headersFor(credential), payload);
        assert.equal(response.statusCode, 400, `${method} ${url}: ${response.body.slice(0, 200)}`);
        assert.equal(response.json().error.code, 'ALGA_BAD_REQUEST');
      }
    });

    test('bytes sent to a JSON route are refused with 415 before validation, and over 1 MiB with 413, never buffered to the archive limit', async () => {
      const bytes = (size: number, type: string) =>
        ctx.server.app.inject({
          method: 'PUT',
          url: '/api/v1/installs/hello-ext/config',
          headers: { authorization: ctx.adminA, 'content-type': type },
          payload: Buffer.alloc(size),
        });
      for (const type of ['application/octet-stream', 'application/gzip', 'application/wasm']) {
        const small = await bytes(512 * 1024, type);
        assert.equal(small.statusCode, 415, `${type}: ${small.body.slice(0, 200)}`);
        assert.equal(small.json().error.code, 'ALGA_UNSUPPORTED_MEDIA_TYPE');
        assert.match(small.json().error.message, /application\/json/);
        const large = await bytes(2 * 1024 * 1024, type);
        assert.equal(large.statusCode, 413, type);
      }
      // The bundle route keeps its own, larger limit: 2 MiB of bytes reach it and are judged as a component.
      const blob = Buffer.alloc(2 * 1024 * 1024, 1);
      const upload = await ctx.server.app.inject({
        method: 'PUT',
        url: `/api/v1/bundles/sha256:${createHash('sha256').update(blob).digest('hex')}`,
        headers: { authorization: ctx.adminA, 'content-type': 'application/octet-stream' },
        payload: blob,
      });
      assert.equal(upload.json().error.code, 'ALGA_INVALID_COMPONENT', upload.body.slice(0, 200));
      const unknown = await bytes(10, 'text/x-unknown');
      assert.deepEqual([unknown.statusCode, unknown.json().error.code], [415, 'ALGA_UNSUPPORTED_MEDIA_TYPE']);
    });

    test('a storage cursor that smuggles a NUL key is refused as foreign, not a 500', async () => {
      const response = await inject(
        'GET',
        `/api/internal/ext-runner/storage/ns?cursor=${nulCursor}`,
        await headersFor('service token'),
      );
      assert.equal(response.statusCode, 400, response.body);
    });

    test('every registered route answers hostile path parameters, query strings and bodies without a 5xx', async (t) => {
      const routes: readonly ServedRoute[] = ctx.server.routes;
      assert.ok(routes.length > 30, `only ${routes.length} routes registered`);
      for (const route of routes) {
        await t.test(`${route.method} ${route.url}`, async () => {
          await restore();
          const segments = segmentsOf(route.url);
          const params = segments.filter((segment) => 'param' in segment).length;
          const anyValid = fc.constantFrom(...valid);
          const value = fc.oneof({ weight: 1, arbitrary: anyValid }, { weight: 3, arbitrary: hostile });
          const query = fc.array(
            fc.tuple(
              fc.oneof(fc.constantFrom('limit', 'after', 'cursor', 'expected_revision', 'x'), hostile),
              fc.oneof(fc.constantFrom('1', '10', ''), hostile),
            ),
            { maxLength: 3 },
          );
          const hasBody = ['POST', 'PUT', 'PATCH'].includes(route.method);
          const bodyValue = fc.oneof(
            hostileText,
            anyValid,
            fc.array(fc.oneof(hostileText, anyValid), { maxLength: 3 }),
            fc.dictionary(fc.oneof(anyValid, hostileText), hostileText, { maxKeys: 3 }),
            fc.jsonValue({ maxDepth: 2 }),
          );
          const body = hasBody
            ? fc.oneof(
                fc.constant({}),
                // One known field: the shape most routes' schemas let through to the handler.
                fc.tuple(bodyField, bodyValue).map(([field, value]) => ({ [field]: value })),
                fc.dictionary(fc.oneof(bodyField, hostileText), bodyValue, { maxKeys: 4 }),
              )
            : fc.constant(undefined);
          await fc.assert(
            fc.asyncProperty(
              fc.array(value, { minLength: params, maxLength: params }),
              // No query at all now and then, so hostile parameters are seen alone too.
              fc.oneof(fc.constant([] as [string, string][]), query),
              fc.constantFrom(...CREDENTIALS),
              body,
              async (values, pairs, credential, payload) => {
                let next = 0;
                const path = segments
                  .map((segment) => ('fixed' in segment ? segment.fixed : values[next++]!))
                  .join('/');
                const url = pairs.length === 0 ? path : `${path}?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;
                if (route.method !== 'GET' && route.method !== 'HEAD') changed = true;
                const response = await inject(route.method, url, await headersFor(credential), payload);
                const what = `${route.method} ${url.slice(0, 160)} as ${credential} → ${response.statusCode} ${response.body.slice(0, 300)}`;
                assert.ok(response.statusCode < 500, what);
                if (response.statusCode >= 400 && route.method !== 'HEAD') {
                  const answer = JSON.parse(response.body) as { error?: unknown; code?: unknown };
                  if (route.url.startsWith('/api/ext-bundles/'))
                    // The reference's bundle routes answer in its format: {error: message, code}.
                    assert.ok(
                      typeof answer.error === 'string' && typeof answer.code === 'string',
                      `not a reference error: ${what}`,
                    );
                  else
                    assert.ok(
                      isErrorCode((answer.error as { code?: unknown } | undefined)?.code),
                      `not a registry error: ${what}`,
                    );
                }
                // Text the database cannot hold never gets past the router or the guard. (`inject` parses
                // the URL as a browser would, so dot segments may have removed a hostile one: then only no-5xx holds.)
                const asSent = new URL(path, 'http://localhost').pathname === path;
                const refused =
                  (asSent &&
                    values.some((raw) => {
                      const text = decoded(raw);
                      return text === undefined || unstorable(text);
                    })) ||
                  pairs.some(([k, v]) => [k, v].some((raw) => unstorable(decoded(raw.replace(/\+/g, ' ')) ?? '')));
                if (refused) assert.ok([400, 404].includes(response.statusCode), `expected 400 or 404: ${what}`);
              },
            ),
            { numRuns: RUNS_PER_ROUTE },
          );
        });
      }
    });
  });
}
