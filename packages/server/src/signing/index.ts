/**
 * Bundle signing on the server: the operator's trust policy (one file, the
 * same format runners read), the check publish runs, the tenant's audited
 * key revocations, and the check the gateway runs before sending a version
 * to a runner. The runner checks the signature again with its own policy;
 * what is here decides what may be published and keeps revoked versions
 * from being sent at all.
 */
import type { FastifyInstance } from 'fastify';
import { LRUCache } from 'lru-cache';
import {
  checkSignature,
  describeRefusal,
  EMPTY_TRUST_POLICY,
  manifestDigest,
  requiresSignature,
  type BundleSignature,
  type SignatureRefusal,
  type TrustPolicy,
} from '@alga-psa/service-auth/bundle-signature';
import type { AlgaError, BundleSignatureWire } from '@alga-psa/protocol';
import type { Db, Queryable } from '../db/index.ts';
import type { Principal } from '../auth/api-keys.ts';
import { requireAdmin } from '../auth/api-keys.ts';
import { principalOf } from '../auth/plugin.ts';
import {
  signatureHeaderMalformed,
  signatureInvalid,
  signatureRequired,
  signatureUntrusted,
  signingKeyRevoked,
} from '../errors.ts';
import { insertAudit } from '../installs/store.ts';

/** The request header `alga publish --sign` sends the signature document in (base64 of its JSON). */
export const SIGNATURE_HEADER = 'alga-bundle-signature';

/** A tenant's revocations are re-read at most this often by other processes (same bound as API keys). */
const REVOCATION_CACHE_TTL_MS = 5_000;

export function refusalError(refusal: SignatureRefusal): AlgaError {
  const message = describeRefusal(refusal);
  switch (refusal.reason) {
    case 'missing':
      return signatureRequired({ message }, { details: { reason: 'missing' } });
    case 'untrusted':
      return signatureUntrusted({ message }, { details: { reason: 'untrusted', keyId: refusal.keyId } });
    case 'revoked':
      return signingKeyRevoked({ message }, { details: { reason: 'revoked', keyId: refusal.keyId } });
    default:
      return signatureInvalid({ message }, { details: { reason: refusal.reason } });
  }
}

/** The signature document from the publish request's header, or undefined when there is none. */
export function signatureFromHeader(value: string | string[] | undefined): unknown {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  try {
    return JSON.parse(Buffer.from(text ?? '', 'base64').toString('utf8')) as unknown;
  } catch {
    throw signatureHeaderMalformed({ header: SIGNATURE_HEADER });
  }
}

export interface PublishSignature {
  /** What is stored with the version; null when unsigned (and allowed). */
  signature: BundleSignature | null;
  warnings: string[];
}

export class SigningService {
  readonly policy: TrustPolicy;
  readonly #db: Db;
  readonly #revocations = new LRUCache<string, ReadonlyMap<string, string>>({
    max: 10_000,
    ttl: REVOCATION_CACHE_TTL_MS,
  });

  constructor(db: Db, policy: TrustPolicy = EMPTY_TRUST_POLICY) {
    this.#db = db;
    this.policy = policy;
  }

  /** The tenant's own revocations (key id → reason). */
  async revokedKeys(tenantId: string, db: Queryable = this.#db): Promise<ReadonlyMap<string, string>> {
    const cached = this.#revocations.get(tenantId);
    if (cached) return cached;
    const { rows } = await db.query<{ key_id: string; reason: string }>(
      'SELECT key_id, reason FROM signing_key_revocations WHERE tenant_id = $1',
      [tenantId],
    );
    const revoked = new Map(rows.map((row) => [row.key_id, row.reason]));
    this.#revocations.set(tenantId, revoked);
    return revoked;
  }

  /** Publish: refuses a missing (when required), malformed, mismatched, untrusted, revoked or invalid signature. */
  async checkPublish(
    tenantId: string,
    contentHash: string,
    manifest: unknown,
    given: unknown,
  ): Promise<PublishSignature> {
    const check = checkSignature(
      this.policy,
      { tenantId, contentHash, manifestDigest: manifestDigest(manifest), revoked: await this.revokedKeys(tenantId) },
      given,
    );
    if (!check.ok) throw refusalError(check);
    if (check.keyId === null) {
      return {
        signature: null,
        warnings: [
          'The bundle is not signed: runners that require signatures will refuse it. Sign it with `alga publish --sign <key>` (create one with `alga keys generate`).',
        ],
      };
    }
    return { signature: given as BundleSignature, warnings: [] };
  }

  /**
   * Before a version runs: its key must not be revoked (by the operator or the
   * tenant), and an unsigned version may run only where unsigned is allowed now.
   */
  async assertRunnable(tenantId: string, signature: BundleSignatureWire | null): Promise<void> {
    if (!signature) {
      if (requiresSignature(this.policy, tenantId)) throw refusalError({ reason: 'missing' });
      return;
    }
    const reason = this.policy.revoked.get(signature.keyId) ?? (await this.revokedKeys(tenantId)).get(signature.keyId);
    if (reason !== undefined) throw refusalError({ reason: 'revoked', keyId: signature.keyId, revokedReason: reason });
  }

  /** Records a tenant's revocation of a key, audited; idempotent (the first reason is kept). */
  async revoke(principal: Principal, keyId: string, reason: string, requestId: string): Promise<{ versions: number }> {
    const versions = await this.#db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO signing_key_revocations (tenant_id, key_id, reason, revoked_by)
         VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, key_id) DO NOTHING`,
        [principal.tenantId, keyId, reason, principal.actor],
      );
      await insertAudit(tx, {
        actor: principal.actor,
        tenantId: principal.tenantId,
        action: 'signing.key.revoke',
        keyNames: [keyId],
        requestId,
      });
      // Versions of the tenant's own extensions that this key signed, for the answer.
      const { rows } = await tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM extension_versions v JOIN extensions e ON e.id = v.extension_id
          WHERE v.signing_key_id = $1 AND e.owner_tenant_id = $2`,
        [keyId, principal.tenantId],
      );
      return rows[0]?.n ?? 0;
    });
    this.#revocations.delete(principal.tenantId);
    return { versions };
  }
}

const KEY_ID_PATTERN = '^ed25519:[0-9a-f]{32}$';

/**
 * `GET /api/v1/signing/policy`: what applies to the caller's tenant (trusted key ids, whether unsigned is allowed, revocations).
 * `POST /api/v1/signing/revocations`: a tenant admin revokes a key; its versions stop running.
 */
export function signingRoutes(app: FastifyInstance, deps: { signing: SigningService; onRevoke?: () => void }): void {
  const { signing } = deps;
  app.get('/api/v1/signing/policy', async (request) => {
    const principal = principalOf(request);
    const revoked = await signing.revokedKeys(principal.tenantId);
    return {
      requireSigned: requiresSignature(signing.policy, principal.tenantId),
      trustedKeys: [...signing.policy.keys.values()]
        .filter((key) => key.tenants.includes('*') || key.tenants.includes(principal.tenantId))
        .map((key) => ({ keyId: key.keyId, name: key.name ?? null })),
      revoked: [
        ...[...signing.policy.revoked].map(([keyId, reason]) => ({ keyId, reason, by: 'operator' })),
        ...[...revoked].map(([keyId, reason]) => ({ keyId, reason, by: 'tenant' })),
      ],
    };
  });

  app.post<{ Body: { keyId: string; reason: string } }>(
    '/api/v1/signing/revocations',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['keyId', 'reason'],
          properties: {
            keyId: { type: 'string', pattern: KEY_ID_PATTERN },
            reason: { type: 'string', minLength: 1, maxLength: 500 },
          },
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireAdmin(principal);
      const { versions } = await signing.revoke(principal, request.body.keyId, request.body.reason, request.id);
      deps.onRevoke?.();
      return reply.code(201).send({ keyId: request.body.keyId, revoked: true, versionsSigned: versions });
    },
  );
}
