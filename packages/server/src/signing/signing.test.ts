import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { contentHashOf } from '@alga-psa/bundle-store';
import type { Manifest } from '@alga-psa/protocol';
import {
  generatePublisherKey,
  manifestDigest,
  parseTrustPolicy,
  signBundle,
} from '@alga-psa/service-auth/bundle-signature';
import { testEngines } from '../testing/databases.ts';
import { bundleArchive } from '../testing/archives.ts';
import { componentWithImports, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';

for (const engine of testEngines()) {
  describe(`publishing signed bundles (${engine.name})`, () => {
    let ctx: TestContext;
    let component: Buffer;
    const trusted = generatePublisherKey();
    const stranger = generatePublisherKey();

    before(async () => {
      component = await componentWithImports(['alga:extension/types@0.1.0']);
      // Tenant B requires signatures; its id exists only once the fixture made it, so the map is filled after.
      const policy = parseTrustPolicy({ keys: [{ publicKey: trusted.publicKeyPem, name: 'release' }] });
      const perTenant = new Map<string, boolean>();
      ctx = await startTestServer(await engine.open(), { trustPolicy: { ...policy, tenantRequireSigned: perTenant } });
      perTenant.set(ctx.tenantB, true);
    });
    after(async () => {
      await ctx.close();
      await ctx.db.close();
    });

    const sign = (pair: typeof trusted, manifest: Manifest, bytes = component) =>
      signBundle(createPrivateKey(pair.privateKeyPem), contentHashOf(bytes), manifestDigest(manifest));
    const post = (manifest: Manifest, signature?: unknown, auth = ctx.adminA) =>
      ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/publish',
        headers: {
          authorization: auth,
          'content-type': 'application/gzip',
          ...(signature === undefined
            ? {}
            : { 'alga-bundle-signature': Buffer.from(JSON.stringify(signature)).toString('base64') }),
        },
        payload: bundleArchive(manifest, component, contentHashOf(component), [], {
          name: manifest.name,
          version: manifest.version,
        }),
      });

    test('a signature by a trusted key is stored with the version and reported', async () => {
      const manifest = sampleManifest({ name: 'signed-ext' });
      const response = await post(manifest, sign(trusted, manifest));
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().signedBy, trusted.keyId);
      assert.ok(!(response.json().warnings as string[]).some((w) => /not signed/.test(w)));
      const { rows } = await ctx.db.query<{ signing_key_id: string; signature: { keyId: string } }>(
        "SELECT signing_key_id, signature FROM extension_versions WHERE extension_id = 'signed-ext'",
      );
      assert.equal(rows[0]?.signing_key_id, trusted.keyId);
      assert.equal(rows[0]?.signature.keyId, trusted.keyId);
    });

    test('unsigned is allowed by default, with a warning', async () => {
      const response = await post(sampleManifest({ name: 'unsigned-ext' }));
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().signedBy, null);
      assert.ok((response.json().warnings as string[]).some((w) => /is not signed/.test(w)));
    });

    test('a tenant that requires signatures is refused an unsigned bundle, saying so', async () => {
      const refused = await post(sampleManifest({ name: 'must-sign-ext' }), undefined, ctx.adminB);
      assert.equal(refused.statusCode, 422);
      assert.equal(refused.json().error.code, 'ALGA_SIGNATURE_REQUIRED');
      assert.match(refused.json().error.message, /requires signed bundles/);
    });

    test('refuses, saying which: an untrusted key, a signature over other content or another manifest, garbage', async () => {
      const manifest = sampleManifest({ name: 'refused-ext' });
      const untrusted = await post(manifest, sign(stranger, manifest));
      assert.equal(untrusted.statusCode, 422);
      assert.equal(untrusted.json().error.code, 'ALGA_SIGNATURE_UNTRUSTED');
      assert.match(untrusted.json().error.message, new RegExp(`key ${stranger.keyId}, which is not trusted`));

      const otherBytes = await componentWithImports(['alga:extension/types@0.1.0', 'alga:extension/secrets@0.1.0']);
      const otherContent = await post(manifest, sign(trusted, manifest, otherBytes));
      assert.equal(otherContent.json().error.code, 'ALGA_SIGNATURE_INVALID');
      assert.match(otherContent.json().error.message, /different component/);

      const otherManifest = await post(manifest, sign(trusted, { ...manifest, description: 'changed' }));
      assert.equal(otherManifest.json().error.code, 'ALGA_SIGNATURE_INVALID');
      assert.match(otherManifest.json().error.message, /different manifest/);

      const garbage = await ctx.server.app.inject({
        method: 'POST',
        url: '/api/v1/extensions/publish',
        headers: { authorization: ctx.adminA, 'content-type': 'application/gzip', 'alga-bundle-signature': '!!' },
        payload: Buffer.from('x'),
      });
      assert.equal(garbage.statusCode, 422);
      assert.equal(garbage.json().error.code, 'ALGA_SIGNATURE_INVALID');
      const { rows } = await ctx.db.query("SELECT 1 FROM extension_versions WHERE extension_id = 'refused-ext'");
      assert.equal(rows.length, 0, 'nothing was recorded');
    });

    test('a published version keeps its signature: re-publishing it signed differently warns and changes nothing', async () => {
      const manifest = sampleManifest({ name: 'unsigned-ext' });
      const again = await post(manifest, sign(trusted, manifest));
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.json().signedBy, null);
      assert.ok((again.json().warnings as string[]).some((w) => /already published unsigned/.test(w)));
    });

    test('a tenant admin revokes a key (audited); viewers cannot; publishing with it is refused after', async () => {
      const revoke = (auth: string, body: unknown) =>
        ctx.server.app.inject({
          method: 'POST',
          url: '/api/v1/signing/revocations',
          headers: { authorization: auth },
          payload: body as object,
        });
      assert.equal((await revoke(ctx.viewerA, { keyId: trusted.keyId, reason: 'x' })).statusCode, 403);
      assert.equal((await revoke(ctx.adminA, { keyId: 'nope', reason: 'x' })).statusCode, 400);
      const done = await revoke(ctx.adminA, { keyId: trusted.keyId, reason: 'laptop lost' });
      assert.equal(done.statusCode, 201, done.body);
      assert.equal(done.json().versionsSigned, 1);
      const { rows } = await ctx.db.query<{ key_names: string[] }>(
        "SELECT key_names FROM audit_log WHERE action = 'signing.key.revoke' AND tenant_id = $1",
        [ctx.tenantA],
      );
      assert.deepEqual(
        rows.map((r) => r.key_names),
        [[trusted.keyId]],
      );

      const manifest = sampleManifest({ name: 'after-revoke-ext' });
      const refused = await post(manifest, sign(trusted, manifest));
      assert.equal(refused.statusCode, 403);
      assert.equal(refused.json().error.code, 'ALGA_SIGNING_KEY_REVOKED');
      // Another tenant's revocation is its own: tenant B may still publish with the key.
      const other = await post(
        sampleManifest({ name: 'b-ext' }),
        sign(trusted, sampleManifest({ name: 'b-ext' })),
        ctx.adminB,
      );
      assert.equal(other.statusCode, 201, other.body);

      const policy = await ctx.server.app.inject({
        method: 'GET',
        url: '/api/v1/signing/policy',
        headers: { authorization: ctx.adminA },
      });
      assert.deepEqual(policy.json(), {
        requireSigned: false,
        trustedKeys: [{ keyId: trusted.keyId, name: 'release' }],
        revoked: [{ keyId: trusted.keyId, reason: 'laptop lost', by: 'tenant' }],
      });
    });
  });
}
