import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { AlgaError } from '@alga-psa/protocol';
import {
  generatePublisherKey,
  manifestDigest,
  parseTrustPolicy,
  signBundle,
} from '@alga-psa/service-auth/bundle-signature';
import { BundleTrust } from './trust.ts';

const HASH = `sha256:${'c'.repeat(64)}`;

describe("the runner's own signature check", () => {
  const publisher = generatePublisherKey();
  const signature = signBundle(createPrivateKey(publisher.privateKeyPem), HASH, manifestDigest({ name: 'x' }));
  const codeOf = (fn: () => void) => {
    try {
      fn();
      return 'ran';
    } catch (error) {
      assert.ok(error instanceof AlgaError, String(error));
      return error.code;
    }
  };

  test('a bundle signed by a key in its policy runs; the same signature for a tenant the key is not scoped to does not, cached or not', () => {
    const trust = new BundleTrust(
      parseTrustPolicy({ requireSigned: true, keys: [{ publicKey: publisher.publicKeyPem, tenants: ['t1'] }] }),
    );
    assert.equal(
      codeOf(() => trust.check('t1', HASH, signature)),
      'ran',
    );
    assert.equal(
      codeOf(() => trust.check('t1', HASH, signature)),
      'ran',
    );
    assert.equal(
      codeOf(() => trust.check('t2', HASH, signature)),
      'ALGA_SIGNATURE_UNTRUSTED',
    );
    assert.equal(
      codeOf(() => trust.check('t1', `sha256:${'d'.repeat(64)}`, signature)),
      'ALGA_SIGNATURE_INVALID',
    );
    assert.equal(
      codeOf(() => trust.check('t1', HASH, null)),
      'ALGA_SIGNATURE_REQUIRED',
    );
  });

  test("a key the runner's operator revoked refuses with ALGA_SIGNING_KEY_REVOKED, whatever the server says", () => {
    const trust = new BundleTrust(
      parseTrustPolicy({
        keys: [{ publicKey: publisher.publicKeyPem }],
        revoked: [{ keyId: publisher.keyId, reason: 'rotated' }],
      }),
    );
    assert.equal(
      codeOf(() => trust.check('t1', HASH, signature)),
      'ALGA_SIGNING_KEY_REVOKED',
    );
    // Unsigned stays allowed where the policy allows it.
    assert.equal(
      codeOf(() => trust.check('t1', HASH, undefined)),
      'ran',
    );
  });
});
