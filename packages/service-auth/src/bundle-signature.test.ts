import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  checkSignature,
  describeRefusal,
  generatePublisherKey,
  loadPublisherPrivateKey,
  manifestDigest,
  parseTrustPolicy,
  signBundle,
  writeNewFile,
} from './bundle-signature.ts';

const HASH = `sha256:${'a'.repeat(64)}`;
const OTHER_HASH = `sha256:${'b'.repeat(64)}`;
const manifest = { name: 'ext', version: '1.0.0', api: { endpoints: [] } };

function policyWith(keys: { publicKeyPem: string; tenants?: string[] }[], extra: Record<string, unknown> = {}) {
  return parseTrustPolicy({
    keys: keys.map((k) => ({ publicKey: k.publicKeyPem, ...(k.tenants ? { tenants: k.tenants } : {}) })),
    ...extra,
  });
}

describe('bundle signatures', () => {
  const publisher = generatePublisherKey();
  const stranger = generatePublisherKey();
  const sign = (pair = publisher, hash = HASH, m: unknown = manifest) =>
    signBundle(createPrivateKey(pair.privateKeyPem), hash, manifestDigest(m));
  const subject = { tenantId: 't1', contentHash: HASH, manifestDigest: manifestDigest(manifest) };

  test('a signature by a trusted key over this content hash and manifest verifies', () => {
    const check = checkSignature(policyWith([publisher]), subject, sign());
    assert.deepEqual(check, { ok: true, keyId: publisher.keyId });
  });

  test('the manifest digest ignores key order (jsonb reorders), but not values', () => {
    assert.equal(manifestDigest({ b: 1, a: { d: 2, c: 3 } }), manifestDigest({ a: { c: 3, d: 2 }, b: 1 }));
    assert.notEqual(manifestDigest({ a: 1 }), manifestDigest({ a: 2 }));
  });

  test('unsigned: allowed by default, refused as missing where the tenant (or the operator globally) requires it', () => {
    assert.deepEqual(checkSignature(policyWith([]), subject, undefined), { ok: true, keyId: null });
    const perTenant = policyWith([], { tenants: { t1: { requireSigned: true } } });
    assert.equal(checkSignature(perTenant, subject, undefined).ok, false);
    assert.deepEqual(checkSignature(perTenant, { ...subject, tenantId: 't2' }, undefined), { ok: true, keyId: null });
    const global = policyWith([], { requireSigned: true, tenants: { t2: { requireSigned: false } } });
    assert.deepEqual(checkSignature(global, subject, null), { ok: false, reason: 'missing' });
    assert.equal(checkSignature(global, { ...subject, tenantId: 't2' }, null).ok, true);
  });

  test('refuses another component, another manifest, an untrusted key, a key scoped to other tenants, a revoked key, a forged value', () => {
    const policy = policyWith([publisher]);
    assert.equal(checkSignature(policy, subject, sign(publisher, OTHER_HASH)).ok, false);
    assert.deepEqual(
      { ...checkSignature(policy, subject, sign(publisher, HASH, { ...manifest, version: '2.0.0' })) },
      { ok: false, reason: 'mismatch', detail: 'the signature covers a different manifest' },
    );
    assert.deepEqual(checkSignature(policy, subject, sign(stranger)), {
      ok: false,
      reason: 'untrusted',
      keyId: stranger.keyId,
    });
    const scoped = policyWith([{ ...publisher, tenants: ['t9'] }]);
    assert.equal(checkSignature(scoped, subject, sign()).ok, false);
    const revoked = policyWith([publisher], { revoked: [{ keyId: publisher.keyId, reason: 'laptop lost' }] });
    const refusal = checkSignature(revoked, subject, sign());
    assert.deepEqual(refusal, { ok: false, reason: 'revoked', keyId: publisher.keyId, revokedReason: 'laptop lost' });
    assert.match(describeRefusal(refusal as never), /revoked \(laptop lost\)/);
    // Tenant revocations the caller knows of count the same.
    const tenantRevoked = checkSignature(
      policy,
      { ...subject, revoked: new Map([[publisher.keyId, 'rotated']]) },
      sign(),
    );
    assert.equal(tenantRevoked.ok ? 'ran' : tenantRevoked.reason, 'revoked');
    // The stranger's signature presented under the trusted key's id: the value does not verify.
    const forged = { ...sign(stranger), keyId: publisher.keyId };
    assert.deepEqual(checkSignature(policy, subject, forged), { ok: false, reason: 'invalid', keyId: publisher.keyId });
  });

  test('malformed documents are refused with what is wrong, never thrown', () => {
    const policy = policyWith([publisher]);
    for (const bad of ['x', [], { format: 'cosign' }, { ...sign(), signature: 'AAAA' }, { ...sign(), keyId: 'k' }]) {
      const check = checkSignature(policy, subject, bad);
      assert.equal(check.ok ? 'ok' : check.reason, 'malformed', JSON.stringify(bad));
    }
  });

  test('a trust policy with problems is refused whole, naming each', () => {
    assert.throws(
      () =>
        parseTrustPolicy({
          requireSigned: 'yes',
          keys: [{ publicKey: 'not a key' }, { publicKey: publisher.publicKeyPem, tenants: 'all' }],
          tenants: { t1: {} },
          extra: 1,
        }),
      (error: Error) =>
        /unknown field "extra"/.test(error.message) &&
        /"requireSigned" must be true or false/.test(error.message) &&
        /keys\[0\]\.publicKey/.test(error.message) &&
        /keys\[1\]\.tenants/.test(error.message) &&
        /tenants\.t1\.requireSigned/.test(error.message),
    );
    // Raw base64 public keys are accepted too, and name the same key.
    const raw = Buffer.from(publisher.publicKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').subarray(-32);
    assert.ok(parseTrustPolicy({ keys: [{ publicKey: raw.toString('base64') }] }).keys.has(publisher.keyId));
  });

  test('a private key readable by other users is refused', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'alga-pubkey-'));
    try {
      const file = path.join(dir, 'k.pem');
      await writeNewFile(file, publisher.privateKeyPem, 0o600);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      await loadPublisherPrivateKey(file);
      await chmod(file, 0o644);
      await assert.rejects(loadPublisherPrivateKey(file), /readable by other users/);
      await writeFile(path.join(dir, 'pub.pem'), publisher.publicKeyPem, { mode: 0o600 });
      await assert.rejects(loadPublisherPrivateKey(path.join(dir, 'pub.pem')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
