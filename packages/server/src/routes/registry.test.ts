import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import { testEngines } from '../testing/databases.ts';
import {
  coreModule,
  fakeComponent,
  publish,
  sampleManifest,
  startTestServer,
  type TestContext,
} from '../testing/fixtures.ts';

for (const engine of testEngines()) {
  describe(`bundles and publishing (${engine.name})`, () => {
    let ctx: TestContext;
    before(async () => {
      ctx = await startTestServer(await engine.open());
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const upload = (bytes: Buffer, hash = contentHashOf(bytes), auth = ctx.adminA) =>
      ctx.server.app.inject({
        method: 'PUT',
        url: `/api/v1/bundles/${hash}`,
        headers: { authorization: auth, 'content-type': 'application/wasm' },
        payload: bytes,
      });
    /** Uploads a fresh component and publishes `manifest` against it with the two-step API. */
    const publishFresh = async (manifest: unknown) => {
      const bytes = fakeComponent();
      await upload(bytes);
      return ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: { manifest: manifest as object, contentHash: contentHashOf(bytes) },
      });
    };

    test('a component uploads once (201) and again idempotently (200)', async () => {
      const bytes = fakeComponent();
      const first = await upload(bytes);
      assert.equal(first.statusCode, 201);
      assert.deepEqual(first.json(), { contentHash: contentHashOf(bytes), size: bytes.length });
      assert.equal((await upload(bytes)).statusCode, 200);
    });

    test('bytes that do not match the claimed hash are refused with 422', async () => {
      const response = await upload(fakeComponent(), contentHashOf(Buffer.from('other')));
      assert.equal(response.statusCode, 422);
      assert.equal(response.json().error.code, 'ALGA_BUNDLE_HASH_MISMATCH');
    });

    test('a core module is refused with a hint to run alga build', async () => {
      const response = await upload(coreModule());
      assert.equal(response.statusCode, 422);
      assert.equal(response.json().error.code, 'ALGA_INVALID_COMPONENT');
      assert.match(response.json().error.message, /alga build/);
    });

    test('a viewer key cannot upload and no key gets 401', async () => {
      assert.equal((await upload(fakeComponent(), undefined, ctx.viewerA)).json().error.code, 'ALGA_FORBIDDEN');
      const anonymous = await ctx.server.app.inject({ method: 'GET', url: '/api/v1/extensions' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().error.code, 'ALGA_UNAUTHENTICATED');
    });

    test('an invalid manifest is refused with field errors', async () => {
      const response = await publishFresh({ ...sampleManifest(), name: 'Bad Name', surprise: true });
      assert.equal(response.statusCode, 422);
      const { error } = response.json();
      assert.equal(error.code, 'ALGA_INVALID_MANIFEST');
      assert.ok(
        error.details.some(
          (d: { path: string; message: string }) => d.path === 'name' && /lowercase slug/.test(d.message),
        ),
      );
      assert.ok(error.details.some((d: { path: string }) => d.path === 'surprise'));
      assert.ok(error.requestId);
    });

    test('publishing against a bundle that was never uploaded is a clear 404', async () => {
      const response = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: { manifest: sampleManifest(), contentHash: contentHashOf(Buffer.from('never uploaded')) },
      });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().error.code, 'ALGA_BUNDLE_NOT_FOUND');
      assert.match(response.json().error.message, /PUT \/api\/v1\/bundles/);
    });

    test('republishing the same version is idempotent; different content is a 409', async () => {
      const manifest = sampleManifest({ name: 'repub-ext' });
      const bytes = fakeComponent();
      const hash = await publish(ctx, manifest, ctx.adminA, bytes);
      const again = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: { manifest, contentHash: hash },
      });
      assert.equal(again.statusCode, 200);
      const { warnings, ...published } = again.json();
      assert.deepEqual(published, { extensionId: 'repub-ext', version: '1.0.0', contentHash: hash, signedBy: null });
      // The stand-in component imports nothing, so not the host clock either; and it is not signed.
      assert.equal(warnings.length, 2);

      const other = fakeComponent();
      await upload(other);
      const conflict = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: { manifest, contentHash: contentHashOf(other) },
      });
      assert.equal(conflict.statusCode, 409);
      assert.equal(conflict.json().error.code, 'ALGA_VERSION_CONFLICT');
    });

    test('a different publisher for an existing extension is a 409, another tenant is refused', async () => {
      const bytes = fakeComponent();
      await upload(bytes);
      const publisher = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: {
          manifest: sampleManifest({ name: 'repub-ext', version: '2.0.0', publisher: 'someone-else' }),
          contentHash: contentHashOf(bytes),
        },
      });
      assert.equal(publisher.statusCode, 409);
      await upload(bytes, undefined, ctx.adminB);
      const hijack = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminB },
        payload: {
          manifest: sampleManifest({ name: 'repub-ext', version: '2.0.0' }),
          contentHash: contentHashOf(bytes),
        },
      });
      assert.equal(hijack.statusCode, 403);
    });

    test('the extension list shows the latest version by semver', async () => {
      const manifest = sampleManifest({ name: 'versions-ext' });
      await publish(ctx, { ...manifest, version: '1.2.0' });
      await publish(ctx, { ...manifest, version: '1.10.0' });
      await publish(ctx, { ...manifest, version: '1.10.0-beta.1' });
      const response = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/v1/extensions',
        headers: { authorization: ctx.viewerA },
      });
      assert.equal(response.statusCode, 200);
      const entry = response.json().extensions.find((e: { id: string }) => e.id === 'versions-ext');
      assert.equal(entry.latestVersion, '1.10.0');
      assert.equal(entry.versions.length, 3);
      assert.deepEqual(
        entry.versions.map((v: { version: string }) => v.version),
        ['1.10.0', '1.10.0-beta.1', '1.2.0'],
      );
    });

    test('a version with a number too large to order is refused at publish, so listing never trips on it', async () => {
      const response = await publishFresh(sampleManifest({ name: 'huge-ext', version: '99999999999999999999.0.0' }));
      assert.equal(response.statusCode, 422);
      assert.equal(response.json().error.code, 'ALGA_INVALID_MANIFEST');
      assert.deepEqual(
        response.json().error.details.map((d: { path: string }) => d.path),
        ['version'],
      );
      assert.match(response.json().error.message, /number too large/);
      const long = await publishFresh(sampleManifest({ name: 'long-ext', version: `1.0.0-${'a'.repeat(300)}` }));
      assert.equal(long.statusCode, 422);
      assert.match(long.json().error.message, /306 characters long; keep it to 256/);
    });

    test('the request id is echoed, and generated when absent', async () => {
      const given = await ctx.server.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': 'abc-123' },
      });
      assert.equal(given.statusCode, 200);
      assert.equal(given.headers['x-request-id'], 'abc-123');
      const generated = await ctx.server.app.inject({ method: 'GET', url: '/healthz' });
      assert.match(String(generated.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    });
  });
}
