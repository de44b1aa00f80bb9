// Gateway routing for the reference host's extensions (issue 19): a manifest
// without `api` sends every method and path to the handler, the reference's
// ids for an install reach it, and the UI proxy honours `__method`.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Manifest } from '@alga-psa/protocol';
import { testEngines } from '../testing/databases.ts';
import { startEchoRunner } from '../testing/fake-runner.ts';
import { closeAll, install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';

/** As the reference's shipped manifests are written: no `api`, no `settings`, a publisher with a space. */
const referenceManifest = {
  name: 'com.alga.sample.service-proxy',
  publisher: 'Alga Samples',
  version: '0.1.8',
  runtime: 'wasm-js@1',
  capabilities: ['cap:context.read', 'cap:log.emit'],
} as unknown as Manifest;

for (const engine of testEngines()) {
  describe(`gateway routing of reference-host extensions (${engine.name})`, () => {
    let ctx: TestContext;
    let runner: Awaited<ReturnType<typeof startEchoRunner>>;
    let installId: string;

    before(async () => {
      runner = await startEchoRunner();
      ctx = await startTestServer(await engine.open(), { runnerUrl: runner.url });
      await publish(ctx, referenceManifest);
      const installed = await install(ctx, 'com.alga.sample.service-proxy');
      assert.equal(installed.statusCode, 201, installed.body);
      installId = installed.json().install.id;
      await publish(
        ctx,
        sampleManifest({ name: 'declared-ext', api: { endpoints: [{ method: 'GET', path: '/only' }] } }),
      );
      await install(ctx, 'declared-ext');
      await publish(ctx, {
        ...referenceManifest,
        name: 'com.alga.sample.scheduler-demo',
        api: { endpoints: [{ method: 'GET', path: '/api/jobs/:id', handler: 'dist/main' }] },
      } as unknown as Manifest);
      await install(ctx, 'com.alga.sample.scheduler-demo');
      // `alga create extension MyExt` on the reference host names it so: the id keeps its case.
      await publish(ctx, { ...referenceManifest, name: 'MyExt', runtime: 'wasm32-wasi@1' } as unknown as Manifest);
      assert.equal((await install(ctx, 'MyExt')).statusCode, 201);
    });
    after(() => closeAll(ctx, runner));
    beforeEach(() => {
      runner.received.length = 0;
    });

    const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, auth: string, payload?: string) =>
      ctx.server.app.inject({
        method,
        url,
        headers: { authorization: auth, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(payload === undefined ? {} : { payload }),
      });

    test('without an api section every method and path reaches the handler, through both doors', async () => {
      for (const [method, url] of [
        ['GET', '/api/ext/com.alga.sample.service-proxy'],
        ['GET', '/api/ext/com.alga.sample.service-proxy/api/status?x=1'],
        ['DELETE', '/api/ext/com.alga.sample.service-proxy/api/schedules/42'],
        ['PUT', '/api/ext-proxy/com.alga.sample.service-proxy/deep/er/path'],
      ] as const) {
        const response = await call(method, url, ctx.adminA, method === 'PUT' ? '{}' : undefined);
        assert.equal(response.statusCode, 200, `${method} ${url}: ${response.body}`);
      }
      assert.deepEqual(
        runner.received.map((r) => [r.body.http.method, r.body.http.path, r.body.http.query]),
        [
          ['GET', '/', ''],
          ['GET', '/api/status', 'x=1'],
          ['DELETE', '/api/schedules/42', ''],
          ['PUT', '/deep/er/path', ''],
        ],
      );
      // As on the reference host: no body for GET, an empty one (the guest's some([])) for the rest.
      assert.deepEqual(
        runner.received.map((r) => r.body.http.body_b64),
        [null, null, '', 'e30='],
      );
    });

    test("a reference manifest's endpoints are open to its iframe UI too, as the reference's ext-proxy allows them; HEAD matches GET", async () => {
      const base = 'com.alga.sample.scheduler-demo/api/jobs/7';
      for (const url of [`/api/ext/${base}`, `/api/ext-proxy/${base}`]) {
        const response = await call('GET', url, ctx.adminA);
        assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
        const undeclared = await call('GET', `${url}/more`, ctx.adminA);
        assert.equal(undeclared.statusCode, 404, url);
      }
      const head = await ctx.server.app.inject({
        method: 'HEAD',
        url: `/api/ext-proxy/${base}`,
        headers: { authorization: ctx.adminA },
      });
      assert.equal(head.statusCode, 200, head.body);
      assert.equal(head.body, '');
      assert.deepEqual(
        runner.received.map((r) => r.body.http.method),
        ['GET', 'GET', 'HEAD'],
      );
      assert.equal((await call('GET', '/api/ext/MyExt/anything', ctx.adminA)).statusCode, 200);
      // Our own manifests still open an endpoint to the UI only with "proxy": true.
      assert.equal((await call('GET', '/api/ext-proxy/declared-ext/only', ctx.adminA)).statusCode, 404);
    });

    test('a manifest that declares endpoints keeps the allowlist', async () => {
      assert.equal((await call('GET', '/api/ext/declared-ext/only', ctx.adminA)).statusCode, 200);
      const other = await call('GET', '/api/ext/declared-ext/other', ctx.adminA);
      assert.equal(other.statusCode, 404);
      assert.equal(other.json().error.code, 'ALGA_ROUTE_NOT_FOUND');
    });

    test("the install's id and lower(publisher.name) reach the same install; the guest sees the path below them", async () => {
      for (const id of [
        installId,
        installId.toUpperCase(),
        encodeURIComponent('alga samples.com.alga.sample.service-proxy'),
      ]) {
        const response = await call('GET', `/api/ext/${id}/reports/7`, ctx.adminA);
        assert.equal(response.statusCode, 200, `${id}: ${response.body}`);
      }
      assert.deepEqual(
        runner.received.map((r) => [r.body.context.extension_id, r.body.context.install_id, r.body.http.path]),
        Array(3).fill(['com.alga.sample.service-proxy', installId, '/reports/7']),
      );
    });

    test("another tenant's install id or slug is a 404 exactly like an unknown one, and nothing reaches the runner", async () => {
      for (const id of [installId, encodeURIComponent('alga samples.com.alga.sample.service-proxy'), 'no-such-ext']) {
        const response = await call('GET', `/api/ext/${id}/x`, ctx.adminB);
        assert.equal(response.statusCode, 404, id);
        assert.equal(response.json().error.code, 'ALGA_NOT_FOUND');
      }
      assert.equal(runner.received.length, 0);
    });

    test('the UI proxy turns a POST with __method into that method, without the field; the API gateway does not', async () => {
      const proxied = await call(
        'POST',
        `/api/ext-proxy/com.alga.sample.service-proxy/items/1?a=1`,
        ctx.adminA,
        JSON.stringify({ __method: 'PATCH', name: 'x' }),
      );
      assert.equal(proxied.statusCode, 200, proxied.body);
      const viaQuery = await call('POST', `/api/ext-proxy/${installId}/items/1?__method=DELETE&b=2`, ctx.adminA, '{}');
      assert.equal(viaQuery.statusCode, 200, viaQuery.body);
      const direct = await call(
        'POST',
        '/api/ext/com.alga.sample.service-proxy/items/1',
        ctx.adminA,
        '{"__method":"PUT"}',
      );
      assert.equal(direct.statusCode, 200);
      const [patch, del, post] = runner.received.map((r) => r.body.http);
      assert.equal(patch!.method, 'PATCH');
      assert.equal(patch!.query, 'a=1');
      assert.deepEqual(JSON.parse(Buffer.from(patch!.body_b64!, 'base64').toString()), { name: 'x' });
      assert.deepEqual([del!.method, del!.query], ['DELETE', 'b=2']);
      assert.equal(post!.method, 'POST');
      assert.equal(Buffer.from(post!.body_b64!, 'base64').toString(), '{"__method":"PUT"}');
    });

    test('the override cannot lift a viewer to a write; an override to GET sends no body', async () => {
      const write = await call(
        'POST',
        '/api/ext-proxy/com.alga.sample.service-proxy/items/1',
        ctx.viewerA,
        JSON.stringify({ __method: 'DELETE' }),
      );
      assert.equal(write.statusCode, 403);
      const read = await call(
        'POST',
        '/api/ext-proxy/com.alga.sample.service-proxy/items?__method=GET',
        ctx.adminA,
        JSON.stringify({ q: 1 }),
      );
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(
        runner.received.map((r) => [r.body.http.method, r.body.http.query, r.body.http.body_b64]),
        [['GET', '', null]],
      );
    });
  });
}
