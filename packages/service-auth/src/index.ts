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

export class ServiceTokenVerifier {
  readonly #key: KeyObject;
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
    const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    if (expected.scope && !scope.includes(expected.scope)) {
      throw new ServiceTokenError('scope', `The service token does not allow "${expected.scope}".`);
    }
    if (typeof payload.tid !== 'string' || typeof payload.iid !== 'string') {
      throw new ServiceTokenError('invalid', 'The service token is invalid.');
    }
    return {
      audience: expected.audience,
      tenantId: payload.tid,
      installId: payload.iid,
      scope,
      ...(typeof payload.rid === 'string' ? { requestId: payload.rid } : {}),
    };
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
