import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import type { Manifest } from '@alga-psa/protocol';
import { MAX_MANIFEST_PROBLEMS } from '@alga-psa/protocol/manifest';
import { testEngines } from '../testing/databases.ts';
import { archiveBytes, bundleArchive, type TarEntrySpec } from '../testing/archives.ts';
import { componentWithImports, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';

for (const engine of testEngines()) {
  describe(`publish from a bundle archive (${engine.name})`, () => {
    let ctx: TestContext;
    let component: Buffer;
    before(async () => {
      ctx = await startTestServer(await engine.open(), { bundleLimits: { maxArchiveBytes: 256 * 1024 } });
      component = await componentWithImports(['alga:extension/types@0.1.0', 'alga:extension/secrets@0.1.0']);
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const post = (body: Buffer, auth = ctx.adminA, contentType = 'application/gzip', headers = {}) =>
      ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/publish',
        headers: { authorization: auth, 'content-type': contentType, ...headers },
        payload: body,
      });
    const archiveFor = (manifest: Manifest, bytes = component, extra: TarEntrySpec[] = []) =>
      bundleArchive(manifest, bytes, contentHashOf(bytes), extra, { name: manifest.name, version: manifest.version });

    test('a valid archive publishes (201), stores component, archive and ui files, and lists imports', async () => {
      const manifest = sampleManifest({ name: 'arch-ext', ui: { entry: 'index.html' } });
      const archive = archiveFor(manifest, component, [
        { path: 'ui/index.html', body: '<h1>hi</h1>' },
        { path: 'ui/app.js', body: 'go()' },
        { path: 'wit/world.wit', body: 'package x:y;' },
      ]);
      const response = await post(archive);
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.equal(body.contentHash, contentHashOf(component));
      assert.equal(body.archiveHash, contentHashOf(archive));
      assert.deepEqual(body.imports, ['alga:extension/types@0.1.0', 'alga:extension/secrets@0.1.0']);
      assert.deepEqual(body.uiFiles, ['app.js', 'index.html']);
      const { rows } = await ctx.db.query<{ path: string; content_type: string; content_hash: string }>(
        "SELECT path, content_type, content_hash FROM extension_ui_files WHERE extension_id = 'arch-ext' ORDER BY path",
      );
      assert.deepEqual(
        rows.map((r) => [r.path, r.content_type]),
        [
          ['app.js', 'text/javascript; charset=utf-8'],
          ['index.html', 'text/html; charset=utf-8'],
        ],
      );
      const version = await ctx.db.query<{ archive_hash: string; files_digest: string }>(
        "SELECT archive_hash, files_digest FROM extension_versions WHERE extension_id = 'arch-ext'",
      );
      assert.equal(version.rows[0]?.archive_hash, contentHashOf(archive));
      assert.match(version.rows[0]?.files_digest ?? '', /^sha256:[0-9a-f]{64}$/);
      const listed = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/v1/extensions',
        headers: { authorization: ctx.viewerA },
      });
      assert.equal(listed.json().extensions.find((e: { id: string }) => e.id === 'arch-ext').latestVersion, '1.0.0');
    });

    test('warns, but publishes, a component that does not import the host clock; one that does draws no warning', async () => {
      const without = await post(archiveFor(sampleManifest({ name: 'clockless-ext' })));
      assert.equal(without.statusCode, 201, without.body);
      // The unsigned-bundle warning is signing's (signing/signing.test.ts).
      const unsigned = (w: string) => !/is not signed/.test(w);
      const [warning, ...more] = (without.json().warnings as string[]).filter(unsigned);
      assert.match(warning!, /Date\.now\(\).*the instant it was built/);
      assert.deepEqual(more, []);
      const clocked = await componentWithImports([
        'alga:extension/secrets@0.1.0',
        'wasi:clocks/wall-clock@0.2.3',
        'wasi:clocks/monotonic-clock@0.2.3',
        'wasi:io/poll@0.2.3',
      ]);
      const withClock = await post(archiveFor(sampleManifest({ name: 'clocked-ext' }), clocked));
      assert.equal(withClock.statusCode, 201, withClock.body);
      assert.deepEqual((withClock.json().warnings as string[]).filter(unsigned), []);
    });

    test('re-packing the same build is idempotent (200); different content for the version is a 409', async () => {
      const manifest = sampleManifest({ name: 'repack-ext' });
      assert.equal((await post(archiveFor(manifest))).statusCode, 201);
      // A new gzip of the same files (different mtime bytes) is the same content.
      const again = await post(archiveFor(manifest, component, []));
      assert.equal(again.statusCode, 200, again.body);
      const otherComponent = await componentWithImports(['alga:extension/secrets']);
      const conflict = await post(archiveFor(manifest, otherComponent));
      assert.equal(conflict.statusCode, 409);
      assert.equal(conflict.json().error.code, 'ALGA_VERSION_CONFLICT');
      const otherUi = await post(archiveFor(manifest, component, [{ path: 'ui/x.html', body: 'x' }]));
      assert.equal(otherUi.statusCode, 409);
    });

    test('an import not covered by a capability is published and reported as imported, not requested', async () => {
      const manifest = sampleManifest({ name: 'cap-ext', capabilities: [] });
      const response = await post(archiveFor(manifest));
      assert.equal(response.statusCode, 201);
      assert.ok(
        (response.json().warnings as string[]).some((w) =>
          /alga:extension\/secrets: imported, not requested \(needs cap:secrets\.get/.test(w),
        ),
        JSON.stringify(response.json().warnings),
      );
      const wasi = await componentWithImports(['wasi:filesystem/types@0.2.0']);
      const refused = await post(archiveFor(sampleManifest({ name: 'wasi-ext' }), wasi));
      assert.equal(refused.json().error.code, 'ALGA_IMPORT_NOT_ALLOWED');
      assert.match(refused.json().error.message, /WASI/);
      assert.ok(refused.json().error.requestId);
      const { rows } = await ctx.db.query("SELECT 1 FROM extension_versions WHERE extension_id = 'wasi-ext'");
      assert.equal(rows.length, 0);
    });

    test('the two-step API runs the same import checks', async () => {
      const unknown = await componentWithImports(['alga:extension/http', 'alga:extension/teleport']);
      const hash = contentHashOf(unknown);
      const upload = await ctx.server.app.inject({
        method: 'PUT',
        url: `/api/v1/bundles/${hash}`,
        headers: { authorization: ctx.adminA, 'content-type': 'application/wasm' },
        payload: unknown,
      });
      assert.equal(upload.statusCode, 201);
      const response = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: {
          manifest: sampleManifest({ name: 'twostep-ext', capabilities: ['cap:secrets.get'] }),
          contentHash: hash,
        },
      });
      assert.equal(response.statusCode, 422);
      assert.match(response.json().error.message, /alga:extension\/teleport, an interface neither/);
      assert.doesNotMatch(response.json().error.message, /http/);
    });

    test('metadata must match the component hash and the manifest', async () => {
      const manifest = sampleManifest({ name: 'meta-ext' });
      const wrongHash = bundleArchive(manifest, component, contentHashOf(Buffer.from('other')));
      const mismatch = await post(wrongHash);
      assert.equal(mismatch.statusCode, 422);
      assert.equal(mismatch.json().error.code, 'ALGA_BUNDLE_HASH_MISMATCH');
      const wrongName = bundleArchive(manifest, component, contentHashOf(component), [], { name: 'someone-else' });
      assert.equal((await post(wrongName)).json().error.code, 'ALGA_INVALID_ARCHIVE');
      const badJson = archiveBytes([
        { path: 'manifest.json', body: '{nope' },
        { path: 'component.wasm', body: component },
        { path: 'metadata.json', body: JSON.stringify({ contentHash: contentHashOf(component) }) },
      ]);
      assert.equal((await post(badJson)).json().error.code, 'ALGA_INVALID_MANIFEST');
      const invalid = await post(archiveFor({ ...manifest, name: 'Bad Name' } as Manifest));
      assert.equal(invalid.json().error.code, 'ALGA_INVALID_MANIFEST');
      const noUi = await post(archiveFor({ ...manifest, ui: { entry: 'index.html' } }));
      assert.match(noUi.json().error.message, /ui\/index\.html/);
    });

    test('hostile archives are refused over HTTP with their reason', async () => {
      const manifest = sampleManifest({ name: 'evil-ext' });
      for (const [entry, reason] of [
        [{ path: '../../etc/cron.d/x', body: 'x' }, 'escaping-path'],
        [{ path: 'ui/l', type: 'SymbolicLink', linkpath: '/etc/shadow' }, 'link'],
        [{ path: 'ui/d', type: 'BlockDevice' }, 'device'],
        [{ path: 'extra.bin', body: 'x' }, 'unexpected-entry'],
      ] as [TarEntrySpec, string][]) {
        const response = await post(archiveFor(manifest, component, [entry]));
        assert.equal(response.statusCode, 422, entry.path);
        assert.equal(response.json().error.code, 'ALGA_INVALID_ARCHIVE');
        assert.equal(response.json().error.details.reason, reason);
      }
      const bomb = archiveFor(manifest, component, [{ path: 'ui/zeros', body: Buffer.alloc(4 * 1024 * 1024) }]);
      const refused = await post(bomb);
      assert.equal(refused.statusCode, 413);
      assert.equal(refused.json().error.details.reason, 'bomb');
    });

    test('a manifest with 10,000 invalid capabilities draws a bounded 422 on both publish routes', async () => {
      const manifest = {
        ...sampleManifest({ name: 'amplify-ext' }),
        capabilities: Array.from({ length: 10_000 }, (_, i) => `cap:bogus-${i}`),
      } as unknown as Manifest;
      assert.ok(JSON.stringify(manifest).length > 150_000);
      const fromArchive = await post(archiveFor(manifest));
      const fromJson = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/versions',
        headers: { authorization: ctx.adminA },
        payload: { manifest, contentHash: contentHashOf(component) },
      });
      for (const response of [fromArchive, fromJson]) {
        assert.equal(response.statusCode, 422, response.body.slice(0, 200));
        // Was 2 MB: one entry per item, each repeating the allowed list.
        assert.ok(response.body.length < 6 * 1024, `${response.body.length} bytes`);
        const { code, message, details } = response.json().error;
        assert.equal(code, 'ALGA_INVALID_MANIFEST');
        assert.equal(details.length, MAX_MANIFEST_PROBLEMS + 1);
        assert.equal(details[0].path, 'capabilities[0]');
        assert.match(details.at(-1).message, new RegExp(`${10_000 - MAX_MANIFEST_PROBLEMS} more problems not listed`));
        assert.match(message, /^The manifest is invalid: capabilities\[0\]: capabilities\[0\] must be one of: /);
      }
    });

    test('size cap (413 by Content-Length), content type, empty body and viewer keys', async () => {
      const tooBig = await post(Buffer.alloc(300 * 1024, 7));
      assert.equal(tooBig.statusCode, 413);
      assert.equal(tooBig.json().error.code, 'ALGA_PAYLOAD_TOO_LARGE');
      const archive = archiveFor(sampleManifest({ name: 'misc-ext' }));
      assert.equal((await post(archive, ctx.adminA, 'text/plain')).statusCode, 400);
      assert.equal((await post(Buffer.alloc(0))).statusCode, 400);
      assert.equal((await post(archive, ctx.viewerA)).statusCode, 403);
      assert.equal((await post(archive, 'Bearer nope')).statusCode, 401);
    });
  });
}
