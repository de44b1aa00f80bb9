/**
 * Service tokens: how the server and runners prove who is calling, for which
 * tenant and install, and for how long.
 *
 * - The server signs (Ed25519 private key); runners only verify (public key),
 *   so a compromised runner cannot mint tokens for other installs.
 * - `alga-runner` tokens authorize one `/v1/execute` for one (tenant, install).
 * - `alga-server` tokens, minted by the server and passed to the runner inside
 *   the execute request, let that runner call the server's runner APIs
 *   (storage, logs) for that one install and nothing else.
 *
 * JWT handling is jose's; only the claim shape and policy are ours.
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';

export type Audience = 'alga-runner' | 'alga-server';

export interface ServiceClaims {
  audience: Audience;
  tenantId: string;
  installId: string;
  requestId?: string;
  /** What the bearer may do, e.g. `execute`, `storage`, `logs`. */
  scope: string[];
}

/** Longest lifetime the verifier accepts, whatever the token says. */
export const MAX_TOKEN_TTL_SECONDS = 60;
const ISSUER = 'alga-server';
const ALGORITHM = 'EdDSA';

export class ServiceTokenError extends Error {
  readonly reason: 'missing' | 'invalid' | 'expired' | 'audience' | 'scope';
  constructor(reason: ServiceTokenError['reason'], message: string) {
    super(message);
    this.name = 'ServiceTokenError';
    this.reason = reason;
  }
}

export class ServiceTokenSigner {
  readonly #key: KeyObject;
  private constructor(key: KeyObject) {
    this.#key = key;
  }
  static fromPem(pem: string): ServiceTokenSigner {
    return new ServiceTokenSigner(createPrivateKey(pem));
  }
  async sign(claims: ServiceClaims, ttlSeconds: number): Promise<string> {
    if (!(ttlSeconds > 0 && ttlSeconds <= MAX_TOKEN_TTL_SECONDS)) {
      throw new RangeError(`Service token lifetime must be 1..${MAX_TOKEN_TTL_SECONDS} s, got ${ttlSeconds}.`);
    }
    return new SignJWT({
      tid: claims.tenantId,
      iid: claims.installId,
      scope: claims.scope.join(' '),
      ...(claims.requestId ? { rid: claims.requestId } : {}),
    })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(claims.audience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + Math.ceil(ttlSeconds))
      .sign(this.#key);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'ServiceTokenSigner([REDACTED])';
  }
  toJSON(): string {
    return 'ServiceTokenSigner([REDACTED])';
  }
}

interface VerifiedToken {
  claims: Omit<ServiceClaims, 'audience'>;
  audience: string | string[] | undefined;
  expiresAtMs: number;
}

export class ServiceTokenVerifier {
  readonly #key: KeyObject;
  // Signature checks are the costly part (Ed25519 via WebCrypto) and a token
  // is reused for many requests (see ReusableTokens); a verified token is
  // remembered until it expires. Audience, scope and expiry are still
  // checked on every call.
  readonly #verified = new LRUCache<string, VerifiedToken>({ max: 10_000 });
  private constructor(key: KeyObject) {
    this.#key = key;
  }
  static fromPem(pem: string): ServiceTokenVerifier {
    return new ServiceTokenVerifier(createPublicKey(pem));
  }

  /**
   * Verifies signature, issuer, audience, expiry (≤ 60 s lifetime, `alg`
   * pinned to EdDSA so `none` or HMAC tokens are refused) and, when given,
   * that the token carries `scope`.
   */
  async verify(token: string | undefined, expected: { audience: Audience; scope?: string }): Promise<ServiceClaims> {
    if (!token) throw new ServiceTokenError('missing', 'A service token is required (Authorization: Bearer <token>).');
    const known = this.#verified.get(token);
    if (known) {
      if (Date.now() >= known.expiresAtMs) throw new ServiceTokenError('expired', 'The service token has expired.');
      const audiences = Array.isArray(known.audience) ? known.audience : [known.audience];
      if (!audiences.includes(expected.audience)) {
        throw new ServiceTokenError('audience', `The service token is not for ${expected.audience}.`);
      }
      return this.#checkScope({ audience: expected.audience, ...known.claims }, expected.scope);
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        audience: expected.audience,
        algorithms: [ALGORITHM],
        maxTokenAge: `${MAX_TOKEN_TTL_SECONDS}s`,
        requiredClaims: ['exp', 'iat', 'tid', 'iid'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw new ServiceTokenError('expired', 'The service token has expired.');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
        throw new ServiceTokenError('audience', `The service token is not for ${expected.audience}.`);
      }
      throw new ServiceTokenError('invalid', 'The service token is invalid.');
    }
    if (typeof payload.tid !== 'string' || typeof payload.iid !== 'string') {
      throw new ServiceTokenError('invalid', 'The service token is invalid.');
    }
    const claims = {
      tenantId: payload.tid,
      installId: payload.iid,
      scope: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      ...(typeof payload.rid === 'string' ? { requestId: payload.rid } : {}),
    };
    this.#verified.set(token, { claims, audience: payload.aud, expiresAtMs: payload.exp! * 1000 });
    return this.#checkScope({ audience: expected.audience, ...claims }, expected.scope);
  }

  #checkScope(claims: ServiceClaims, scope: string | undefined): ServiceClaims {
    if (scope && !claims.scope.includes(scope)) {
      throw new ServiceTokenError('scope', `The service token does not allow "${scope}".`);
    }
    return claims;
  }
}

/**
 * Mints tokens for (audience, tenant, install, scope) and hands the same one
 * out again while it still has at least `minRemainingSeconds` to live, so a
 * busy install costs one Ed25519 signature per few seconds instead of one or
 * two per request. The binding stays exactly as strict; only the request id
 * (a correlation hint no verifier enforces) is left out of reused tokens.
 */
export class ReusableTokens {
  readonly #signer: ServiceTokenSigner;
  readonly #minRemainingMs: number;
  readonly #ttlSeconds: number;
  readonly #tokens = new LRUCache<string, { token: string; expiresAtMs: number }>({ max: 10_000 });

  constructor(signer: ServiceTokenSigner, options: { minRemainingSeconds: number }) {
    if (!(options.minRemainingSeconds > 0 && options.minRemainingSeconds <= MAX_TOKEN_TTL_SECONDS)) {
      throw new RangeError(`minRemainingSeconds must be 1..${MAX_TOKEN_TTL_SECONDS}.`);
    }
    this.#signer = signer;
    this.#minRemainingMs = options.minRemainingSeconds * 1000;
    // Twice the minimum (capped at the maximum) so each token serves a while.
    this.#ttlSeconds = Math.min(MAX_TOKEN_TTL_SECONDS, Math.ceil(options.minRemainingSeconds * 2));
  }

  async get(claims: Omit<ServiceClaims, 'requestId'>): Promise<string> {
    const key = JSON.stringify([claims.audience, claims.tenantId, claims.installId, [...claims.scope].sort()]);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAtMs - Date.now() >= this.#minRemainingMs) return cached.token;
    const expiresAtMs = Date.now() + this.#ttlSeconds * 1000;
    const token = await this.#signer.sign(claims, this.#ttlSeconds);
    this.#tokens.set(key, { token, expiresAtMs });
    return token;
  }
}

export interface ServiceKeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
}

/**
 * Creates an Ed25519 key pair in `dir` unless one exists: `service-signing.pem`
 * (0600, for the server) and `service-verify.pem` (for runners).
 */
export async function ensureServiceKeys(dir: string): Promise<ServiceKeyFiles> {
  const privateKeyFile = path.join(dir, 'service-signing.pem');
  const publicKeyFile = path.join(dir, 'service-verify.pem');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const exists = await stat(privateKeyFile).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await writeNew(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    await writeNew(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  }
  return { privateKeyFile, publicKeyFile };
}

/** Reads a signing key, refusing one that other users can read. */
export async function loadSigner(file: string): Promise<ServiceTokenSigner> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`Service signing key ${file} is readable by other users; run: chmod 600 ${file}`);
  }
  return ServiceTokenSigner.fromPem(await readFile(file, 'utf8'));
}

export async function loadVerifier(file: string): Promise<ServiceTokenVerifier> {
  return ServiceTokenVerifier.fromPem(await readFile(file, 'utf8'));
}

async function writeNew(file: string, text: string, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
