/**
 * Publisher signatures on bundles: what `alga sign` writes, what publish
 * checks and what a runner checks again before it compiles.
 *
 * A signature is Ed25519 over one statement that binds the component's
 * content hash and the manifest's digest (`signedStatement`). It is detached:
 * the bundle is not changed, and the signature travels as a small JSON
 * document (`BundleSignature`). Which keys are trusted, for which tenants,
 * whether unsigned bundles may run, and which keys are revoked is a
 * `TrustPolicy`, the same file format for the server and for runners, so an
 * operator can hand runners their own copy and a tampered database cannot
 * widen it.
 *
 * Crypto is node:crypto's; only the statement and the policy are ours.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';

export const SIGNATURE_FORMAT = 'alga-bundle-signature/v1';

export interface BundleSignature {
  format: typeof SIGNATURE_FORMAT;
  algorithm: 'ed25519';
  /** `ed25519:<hex>`: sha256 of the raw 32-byte public key, first 16 bytes. */
  keyId: string;
  contentHash: string;
  manifestDigest: string;
  /** base64 of the 64-byte Ed25519 signature over `signedStatement`. */
  signature: string;
}

/** Why a signature was refused; each is a registry error code at the call site. */
export type SignatureRefusal =
  | { reason: 'missing' }
  | { reason: 'malformed'; detail: string }
  | { reason: 'mismatch'; detail: string }
  | { reason: 'untrusted'; keyId: string }
  | { reason: 'invalid'; keyId: string }
  | { reason: 'revoked'; keyId: string; revokedReason?: string | undefined };

export type SignatureCheck = { ok: true; keyId: string | null } | ({ ok: false } & SignatureRefusal);

/** Key-order-independent JSON, so a manifest read back from jsonb digests the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `sha256:<hex>` of the manifest's canonical JSON. */
export function manifestDigest(manifest: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(manifest)).digest('hex')}`;
}

/** The exact bytes a publisher signs. */
export function signedStatement(contentHash: string, digest: string): Buffer {
  return Buffer.from(`${SIGNATURE_FORMAT}\ncontent-hash:${contentHash}\nmanifest-digest:${digest}\n`);
}

function rawPublicKey(key: KeyObject): Buffer {
  // The last 32 bytes of an Ed25519 SPKI DER are the raw key.
  return key.export({ type: 'spki', format: 'der' }).subarray(-32);
}

export function keyIdOf(publicKey: KeyObject): string {
  return `ed25519:${createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 32)}`;
}

/** A public key from PEM (SPKI) or base64 of the raw 32 bytes; throws with a message for anything else. */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  if (trimmed.startsWith('-----BEGIN')) key = createPublicKey(trimmed);
  else {
    const raw = Buffer.from(trimmed, 'base64');
    if (raw.length !== 32) throw new Error('a publisher key is a PEM public key or base64 of 32 raw Ed25519 bytes');
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`publisher keys are Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

export interface PublisherKeyPair {
  keyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generatePublisherKey(): PublisherKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/** Writes a file that must not exist yet, with `mode` from the start (no window where it is readable). */
export async function writeNewFile(file: string, text: string, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}

/** Reads a publisher private key, refusing one that other users can read (as `loadSigner` does). */
export async function loadPublisherPrivateKey(file: string): Promise<KeyObject> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`Publisher key ${file} is readable by other users; run: chmod 600 ${file}`);
  }
  const key = createPrivateKey(await readFile(file, 'utf8'));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is not an Ed25519 private key`);
  return key;
}

export function signBundle(privateKey: KeyObject, contentHash: string, digest: string): BundleSignature {
  return {
    format: SIGNATURE_FORMAT,
    algorithm: 'ed25519',
    keyId: keyIdOf(createPublicKey(privateKey)),
    contentHash,
    manifestDigest: digest,
    signature: sign(null, signedStatement(contentHash, digest), privateKey).toString('base64'),
  };
}

const HASH_RE = /^sha256:[0-9a-f]{64}$/;

/** A signature document from untrusted JSON, or a `malformed` refusal saying what is wrong. */
export function parseSignature(value: unknown): BundleSignature | { reason: 'malformed'; detail: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { reason: 'malformed', detail: 'the signature is not a JSON object' };
  }
  const s = value as Record<string, unknown>;
  if (s['format'] !== SIGNATURE_FORMAT) {
    return { reason: 'malformed', detail: `the signature's format is not "${SIGNATURE_FORMAT}"` };
  }
  if (s['algorithm'] !== 'ed25519') return { reason: 'malformed', detail: 'the signature algorithm is not ed25519' };
  if (typeof s['keyId'] !== 'string' || !/^ed25519:[0-9a-f]{32}$/.test(s['keyId'])) {
    return { reason: 'malformed', detail: 'the signature has no valid keyId' };
  }
  for (const field of ['contentHash', 'manifestDigest'] as const) {
    if (typeof s[field] !== 'string' || !HASH_RE.test(s[field])) {
      return { reason: 'malformed', detail: `the signature's ${field} is not sha256:<hex>` };
    }
  }
  if (typeof s['signature'] !== 'string' || Buffer.from(s['signature'], 'base64').length !== 64) {
    return { reason: 'malformed', detail: 'the signature value is not 64 bytes of base64' };
  }
  return {
    format: SIGNATURE_FORMAT,
    algorithm: 'ed25519',
    keyId: s['keyId'],
    contentHash: s['contentHash'] as string,
    manifestDigest: s['manifestDigest'] as string,
    signature: s['signature'],
  };
}

// ---------------------------------------------------------------- trust policy

export interface TrustedKey {
  keyId: string;
  key: KeyObject;
  name: string | undefined;
  /** Tenants this key may sign for; `*` is every tenant. */
  tenants: readonly string[];
}

export interface TrustPolicy {
  /** Default for tenants without their own setting. */
  requireSigned: boolean;
  keys: ReadonlyMap<string, TrustedKey>;
  /** Per tenant: whether unsigned bundles are refused. */
  tenantRequireSigned: ReadonlyMap<string, boolean>;
  /** Key id → why it was revoked. A revoked key is refused whatever else says. */
  revoked: ReadonlyMap<string, string>;
}

export const EMPTY_TRUST_POLICY: TrustPolicy = {
  requireSigned: false,
  keys: new Map(),
  tenantRequireSigned: new Map(),
  revoked: new Map(),
};

/**
 * Parses a trust policy document:
 * ```json
 * { "requireSigned": false,
 *   "keys": [{ "publicKey": "<PEM or base64>", "name": "acme release", "tenants": ["*"] }],
 *   "tenants": { "<tenantId>": { "requireSigned": true } },
 *   "revoked": [{ "keyId": "ed25519:…", "reason": "laptop lost" }] }
 * ```
 * Throws one message listing every problem: a policy half understood is not applied.
 */
export function parseTrustPolicy(value: unknown, source = 'trust policy'): TrustPolicy {
  const problems: string[] = [];
  const doc = (value && typeof value === 'object' && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  if (doc !== value) problems.push('it is not a JSON object');
  for (const field of Object.keys(doc)) {
    if (!['requireSigned', 'keys', 'tenants', 'revoked'].includes(field)) problems.push(`unknown field "${field}"`);
  }
  if (doc['requireSigned'] !== undefined && typeof doc['requireSigned'] !== 'boolean') {
    problems.push('"requireSigned" must be true or false');
  }
  const keys = new Map<string, TrustedKey>();
  const keyList = doc['keys'] ?? [];
  if (!Array.isArray(keyList)) problems.push('"keys" must be an array');
  else
    keyList.forEach((entry: unknown, i) => {
      const e = (entry ?? {}) as Record<string, unknown>;
      if (typeof e['publicKey'] !== 'string') return problems.push(`keys[${i}].publicKey must be a string`);
      const tenants = e['tenants'] ?? ['*'];
      if (!Array.isArray(tenants) || tenants.some((t) => typeof t !== 'string' || t === '')) {
        return problems.push(`keys[${i}].tenants must be an array of tenant ids (or "*")`);
      }
      try {
        const key = parsePublicKey(e['publicKey']);
        const keyId = keyIdOf(key);
        keys.set(keyId, { keyId, key, name: typeof e['name'] === 'string' ? e['name'] : undefined, tenants });
      } catch (error) {
        problems.push(`keys[${i}].publicKey: ${(error as Error).message}`);
      }
    });
  const tenantRequireSigned = new Map<string, boolean>();
  const tenants = doc['tenants'] ?? {};
  if (!tenants || typeof tenants !== 'object' || Array.isArray(tenants)) problems.push('"tenants" must be an object');
  else
    for (const [tenant, setting] of Object.entries(tenants)) {
      const required = (setting as { requireSigned?: unknown } | null)?.requireSigned;
      if (typeof required !== 'boolean') problems.push(`tenants.${tenant}.requireSigned must be true or false`);
      else tenantRequireSigned.set(tenant, required);
    }
  const revoked = new Map<string, string>();
  const revokedList = doc['revoked'] ?? [];
  if (!Array.isArray(revokedList)) problems.push('"revoked" must be an array');
  else
    revokedList.forEach((entry: unknown, i) => {
      const e = (entry ?? {}) as Record<string, unknown>;
      if (typeof e['keyId'] !== 'string') return problems.push(`revoked[${i}].keyId must be a string`);
      revoked.set(e['keyId'], typeof e['reason'] === 'string' ? e['reason'] : 'revoked by the operator');
    });
  if (problems.length > 0) throw new Error(`Invalid ${source}: ${problems.join('; ')}.`);
  return { requireSigned: doc['requireSigned'] === true, keys, tenantRequireSigned, revoked };
}

export async function loadTrustPolicy(file: string): Promise<TrustPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read the trust policy ${file}: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`The trust policy ${file} is not JSON.`);
  }
  return parseTrustPolicy(json, `trust policy ${file}`);
}

export function requiresSignature(policy: TrustPolicy, tenantId: string): boolean {
  return policy.tenantRequireSigned.get(tenantId) ?? policy.requireSigned;
}

export interface SignatureSubject {
  tenantId: string;
  contentHash: string;
  /** Known to the caller (publish); a runner that has no manifest passes undefined and trusts the signed one. */
  manifestDigest?: string | undefined;
  /** Revocations the caller knows besides the policy's (the server's audited table). */
  revoked?: ReadonlyMap<string, string> | undefined;
}

/**
 * Checks a signature (or its absence) against the policy for a tenant:
 * unsigned is fine only when the tenant does not require signatures; a
 * signature must name a key trusted for the tenant, not be revoked, cover
 * exactly this content hash (and manifest digest, when known) and verify.
 */
export function checkSignature(policy: TrustPolicy, subject: SignatureSubject, given: unknown): SignatureCheck {
  if (given === undefined || given === null) {
    return requiresSignature(policy, subject.tenantId) ? { ok: false, reason: 'missing' } : { ok: true, keyId: null };
  }
  const parsed = parseSignature(given);
  if ('reason' in parsed) return { ok: false, ...parsed };
  const revokedReason = policy.revoked.get(parsed.keyId) ?? subject.revoked?.get(parsed.keyId);
  if (revokedReason !== undefined) {
    return { ok: false, reason: 'revoked', keyId: parsed.keyId, revokedReason };
  }
  if (parsed.contentHash !== subject.contentHash) {
    return { ok: false, reason: 'mismatch', detail: 'the signature covers a different component (content hash)' };
  }
  if (subject.manifestDigest !== undefined && parsed.manifestDigest !== subject.manifestDigest) {
    return { ok: false, reason: 'mismatch', detail: 'the signature covers a different manifest' };
  }
  const trusted = policy.keys.get(parsed.keyId);
  if (!trusted || !(trusted.tenants.includes('*') || trusted.tenants.includes(subject.tenantId))) {
    return { ok: false, reason: 'untrusted', keyId: parsed.keyId };
  }
  const valid = verify(
    null,
    signedStatement(parsed.contentHash, parsed.manifestDigest),
    trusted.key,
    Buffer.from(parsed.signature, 'base64'),
  );
  return valid ? { ok: true, keyId: parsed.keyId } : { ok: false, reason: 'invalid', keyId: parsed.keyId };
}

/** A sentence for a refusal, naming the key, for error messages and the CLI. */
export function describeRefusal(refusal: SignatureRefusal): string {
  switch (refusal.reason) {
    case 'missing':
      return 'The bundle is not signed, and this tenant requires signed bundles; sign it with `alga publish --sign <key>`.';
    case 'malformed':
      return `The bundle signature is malformed: ${refusal.detail}.`;
    case 'mismatch':
      return `The bundle signature does not match this bundle: ${refusal.detail}; sign this build again.`;
    case 'untrusted':
      return `The bundle is signed by key ${refusal.keyId}, which is not trusted for this tenant; ask the operator to add it to the trust policy.`;
    case 'invalid':
      return `The bundle signature by key ${refusal.keyId} does not verify: the bundle or its signature was altered.`;
    case 'revoked':
      return `The bundle is signed by key ${refusal.keyId}, which was revoked (${refusal.revokedReason ?? 'no reason given'}).`;
  }
}
