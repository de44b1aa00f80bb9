/**
 * Secret handles end to end inside the runner's main thread: the secrets
 * provider mints a handle, the http provider substitutes it for a loopback
 * server named in the secret's `egress`, and refuses it anywhere else.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalKeyring } from '@alga-psa/transit';
import type { HttpResponse } from '../../../generated/interfaces/alga-extension-types.js';
import { WitErr } from '../../host-calls/index.ts';
import { envelopeFor } from '../../testing/harness.ts';
import { testScope } from '../../testing/scope.ts';
import { SecretCache, secretsImpl } from '../secrets/index.ts';
import { httpImpl } from './index.ts';

const VALUE = 'sk-live-h4ndle-VALUE';

describe('secret handles at egress', () => {
  let dir: string;
  let keyring: LocalKeyring;
  let server: Server;
  let origin: string;
  let port: number;
  const seen: string[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alga-handles-'));
    keyring = await LocalKeyring.open(path.join(dir, 'key'), { create: true });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = `${req.url}\n${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString('utf8')}`;
        seen.push(text);
        const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to');
        if (to) {
          res.writeHead(307, { location: to }).end();
          return;
        }
        // Echoes what it got, and the value base64-encoded in a header: a reflecting server.
        res.writeHead(200, { 'x-echo': Buffer.from(String(req.headers['x-key'] ?? '')).toString('base64') }).end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(
    egress: string[] = [`http://127.0.0.1:${port}`],
    cache = new SecretCache({ ttlMs: 60_000, maxEntries: 4 }),
  ) {
    const secrets = secretsImpl({ decrypter: keyring, cache });
    const http = httpImpl({
      allowPrivate: ['127.0.0.0/8'],
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    const t = testScope({
      providers: ['cap:secrets.get', 'cap:http.fetch'],
      egress: { allowed_hosts: [origin, `http://localhost:${port}`] },
      secret_envelope: await envelopeFor(keyring, { bound: VALUE, plain: 'p' }),
      secret_egress: { bound: egress },
    });
    const handle = (await secrets.functions.handle(t.scope, 'bound')) as string;
    const fetch = (url: string, init: { headers?: Array<[string, string]>; body?: string } = {}) =>
      http.functions.fetchV2(t.scope, {
        method: 'POST',
        url,
        headers: (init.headers ?? []).map(([name, value]) => ({ name, value })),
        ...(init.body !== undefined ? { body: new TextEncoder().encode(init.body) } : {}),
      });
    return { secrets, http, t, handle, fetch };
  }

  it('get refuses an egress-bound secret, handle answers an opaque per-execution placeholder, prefetch leaves it out', async () => {
    const cache = new SecretCache({ ttlMs: 60_000, maxEntries: 4 });
    const { secrets, t, handle, fetch } = await setup(undefined, cache);
    const refused = await secrets.functions.get(t.scope, 'bound');
    assert.ok(refused instanceof WitErr && refused.payload === 'denied');
    assert.match(handle, /^alga-secret-handle:[A-Za-z0-9_-]{43}$/);
    assert.ok(!handle.includes(VALUE));
    assert.equal(await secrets.functions.handle(t.scope, 'bound'), handle, 'one handle per key per execution');
    const plain = await secrets.functions.handle(t.scope, 'plain');
    assert.ok(plain instanceof WitErr && plain.payload === 'denied', 'a secret without egress has no handle');
    assert.deepEqual(secrets.functions.egressHosts(t.scope, 'bound'), [`http://127.0.0.1:${port}`]);
    assert.deepEqual(secrets.functions.egressHosts(t.scope, 'plain'), []);
    // Warm the cache with the value, then a second execution's prefetch must not ship it to a worker.
    await secrets.functions.get(t.scope, 'plain');
    await fetch(`${origin}/x`, { headers: [['x-key', handle]] });
    const other = await setup(undefined, cache);
    const shipped = secrets.prefetch!(other.t.scope);
    assert.ok(!JSON.stringify(shipped ?? {}).includes(VALUE), 'prefetch never carries an egress-bound value');
    const second = other.handle;
    assert.notEqual(second, handle, 'another execution gets another handle');
    t.close();
    other.t.close();
  });

  it('substitutes the value in URL, header values and body for an egress host, and masks echoes in the response', async () => {
    const { t, handle, fetch } = await setup();
    const before = seen.length;
    const response = (await fetch(`${origin}/echo?token=${encodeURIComponent(handle)}&raw=${handle}`, {
      headers: [
        ['authorization', `Bearer ${handle}`],
        ['x-key', handle],
      ],
      body: JSON.stringify({ token: handle }) + `&form=${encodeURIComponent(handle)}`,
    })) as HttpResponse;
    const got = seen[before]!;
    assert.ok(got.includes(`token=${encodeURIComponent(VALUE)}`) && got.includes(`raw=${encodeURIComponent(VALUE)}`));
    assert.ok(got.includes(`"authorization":"Bearer ${VALUE}"`) && got.includes(`"x-key":"${VALUE}"`));
    assert.ok(got.includes(`{"token":"${VALUE}"}&form=${encodeURIComponent(VALUE)}`));
    assert.ok(!got.includes('alga-secret-handle'));
    const body = new TextDecoder().decode(response.body);
    assert.ok(!body.includes(VALUE) && body.includes('[REDACTED]'), body);
    const echo = response.headers.find((h) => h.name === 'x-echo')!.value;
    assert.equal(echo, '[REDACTED]', 'a base64 echo in a header is masked too');
    assert.ok(!JSON.stringify(t.logs).includes(VALUE));
    t.close();
  });

  it('refuses a handle to a host, port or scheme outside the list, naming the key, before connecting', async () => {
    const { t, handle, fetch } = await setup();
    const before = seen.length;
    for (const url of [`http://localhost:${port}/x?t=${handle}`]) {
      const refused = await fetch(url);
      assert.ok(refused instanceof WitErr);
      assert.deepEqual(refused.payload, { tag: 'secret-not-allowed', val: 'bound' });
    }
    const inBody = await fetch(`http://localhost:${port}/x`, { body: handle });
    assert.deepEqual((inBody as WitErr).payload, { tag: 'secret-not-allowed', val: 'bound' });
    assert.equal(seen.length, before, 'nothing was sent');
    const line = t.logs.find((l) => String(l['msg']).includes('secret "bound"'));
    assert.ok(line && !JSON.stringify(line).includes(VALUE));
    // Without the handle the same host is fine: the refusal is the handle's.
    assert.ok(!((await fetch(`http://localhost:${port}/x`)) instanceof WitErr));
    t.close();
  });

  it('refuses the redirect hop that would carry the handle elsewhere (307 keeps the body)', async () => {
    const { t, handle, fetch } = await setup();
    const before = seen.length;
    const to = encodeURIComponent(`http://localhost:${port}/landed`);
    const refused = await fetch(`${origin}/hop?to=${to}`, { body: handle });
    assert.deepEqual((refused as WitErr).payload, { tag: 'secret-not-allowed', val: 'bound' });
    assert.equal(seen.length, before + 1, 'only the allowed first hop was sent');
    t.close();
  });

  it('an https-only entry refuses plain http, and a handle from another execution stays literal text', async () => {
    const { t, handle, fetch } = await setup([`127.0.0.1:${port}`]);
    const refused = await fetch(`${origin}/x`, { headers: [['x-key', handle]] });
    assert.deepEqual((refused as WitErr).payload, { tag: 'secret-not-allowed', val: 'bound' });
    const other = await setup();
    const before = seen.length;
    await other.fetch(`${origin}/x`, { headers: [['x-key', handle]] });
    assert.ok(seen[before]!.includes(`"x-key":"${handle}"`), 'not substituted: it was minted by another execution');
    t.close();
    other.t.close();
  });

  it("alga test's stand-in gets the value in place of the handle, behind the same refusals, and its echo is masked", async () => {
    const exchanged: string[] = [];
    const http = httpImpl({
      exchange: (request) => {
        const auth = request.headers.find((h) => h.name === 'authorization')?.value ?? '';
        exchanged.push(`${request.url} ${auth}`);
        return { status: 200, headers: [], body: new TextEncoder().encode(`echo ${auth}`) };
      },
    });
    const secrets = secretsImpl({ decrypter: keyring, cache: new SecretCache({ ttlMs: 60_000, maxEntries: 2 }) });
    const t = testScope({
      providers: ['cap:secrets.get', 'cap:http.fetch'],
      egress: { allowed_hosts: ['api.example.com', 'other.example.com'] },
      secret_envelope: await envelopeFor(keyring, { bound: VALUE }),
      secret_egress: { bound: ['api.example.com'] },
    });
    const handle = (await secrets.functions.handle(t.scope, 'bound')) as string;
    const call = (url: string) =>
      http.functions.fetchV2(t.scope, { method: 'GET', url, headers: [{ name: 'authorization', value: handle }] });
    const ok = (await call('https://api.example.com/me')) as HttpResponse;
    assert.deepEqual(exchanged, [`https://api.example.com/me ${VALUE}`]);
    assert.equal(new TextDecoder().decode(ok.body), 'echo [REDACTED]');
    assert.deepEqual(((await call('https://other.example.com/me')) as WitErr).payload, {
      tag: 'secret-not-allowed',
      val: 'bound',
    });
    assert.equal(exchanged.length, 1);
    t.close();
  });

  it('a handle resolves to the value of the envelope version its request started with, cached or not', async () => {
    const cache = new SecretCache({ ttlMs: 60_000, maxEntries: 4 });
    const secrets = secretsImpl({ decrypter: keyring, cache });
    const sent: string[] = [];
    const http = httpImpl({
      exchange: (request) => {
        sent.push(request.headers[0]!.value);
        return { status: 204, headers: [] };
      },
    });
    const run = async (version: string, value: string) => {
      const t = testScope({
        providers: ['cap:secrets.get', 'cap:http.fetch'],
        egress: { allowed_hosts: ['api.example.com'] },
        secret_envelope: await envelopeFor(keyring, { bound: value }, { version }),
        secret_egress: { bound: ['api.example.com'] },
      });
      const handle = (await secrets.functions.handle(t.scope, 'bound')) as string;
      return {
        t,
        go: () =>
          http.functions.fetchV2(t.scope, {
            method: 'GET',
            url: 'https://api.example.com/',
            headers: [{ name: 'x-key', value: handle }],
          }),
      };
    };
    const old = await run('v1', 'old-value');
    await old.go(); // decrypts v1 into the cache
    const rotated = await run('v2', 'new-value');
    await rotated.go();
    await old.go(); // the first request still holds v1's entry
    assert.deepEqual(sent, ['old-value', 'new-value', 'old-value']);
    old.t.close();
    rotated.t.close();
  });
});
