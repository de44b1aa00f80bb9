/**
 * The runner's own check of a bundle's publisher signature, before anything
 * of it is compiled. The trusted keys, the tenants they may sign for, whether
 * unsigned bundles may run and which keys are revoked come from the runner's
 * configuration (RUNNER_TRUST_POLICY_FILE), never from the request: the
 * server only carries the signature, so a tampered database or bundle store
 * cannot make this runner compile code no trusted publisher signed.
 *
 * The signature covers the content hash; the bundle store refuses bytes that
 * do not hash to it (BundleIntegrityError), so a verified hash is verified code.
 */
import { LRUCache } from 'lru-cache';
import type { FastifyBaseLogger } from 'fastify';
import type { AlgaError, BundleSignatureWire } from '@alga-psa/protocol';
import {
  checkSignature,
  describeRefusal,
  type SignatureRefusal,
  type TrustPolicy,
} from '@alga-psa/service-auth/bundle-signature';
import { errors } from './errors.ts';

function refusalError(refusal: SignatureRefusal): AlgaError {
  const message = describeRefusal(refusal);
  switch (refusal.reason) {
    case 'missing':
      return errors.signatureRequired({ message });
    case 'untrusted':
      return errors.signatureUntrusted({ message });
    case 'revoked':
      return errors.signingKeyRevoked({ message });
    default:
      return errors.signatureInvalid({ message });
  }
}

export class BundleTrust {
  readonly #policy: TrustPolicy;
  readonly #logger: FastifyBaseLogger | undefined;
  // An Ed25519 verify costs ~50 µs; a bundle runs many times with the same signature.
  readonly #verified = new LRUCache<string, true>({ max: 10_000 });

  constructor(policy: TrustPolicy, logger?: FastifyBaseLogger) {
    this.#policy = policy;
    this.#logger = logger;
  }

  /** Throws the registry error for a refused bundle; returns when it may be compiled and run. */
  check(tenantId: string, contentHash: string, signature: BundleSignatureWire | null | undefined): void {
    const cacheKey = `${tenantId}\0${contentHash}\0${signature?.keyId ?? ''}\0${signature?.signature ?? ''}`;
    if (this.#verified.has(cacheKey)) return;
    const result = checkSignature(this.#policy, { tenantId, contentHash }, signature ?? undefined);
    if (!result.ok) {
      // Each refusal is logged: a refused bundle on a runner means the server or the store was tampered with, or a key was revoked.
      this.#logger?.warn(
        { tenantId, contentHash, keyId: 'keyId' in result ? result.keyId : undefined, reason: result.reason },
        'bundle signature refused',
      );
      throw refusalError(result);
    }
    this.#verified.set(cacheKey, true);
  }
}
