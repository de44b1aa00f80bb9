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
import {
  tokenAudience,
  tokenAudienceNotSingle,
  tokenExpired,
  tokenInvalid,
  tokenLifetimeTooLong,
  tokenMissing,
  tokenScope,
} from './errors.ts';

export { ServiceTokenError, type TokenRefusal } from './errors.ts';

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

/** Milliseconds since the epoch; injectable so tests move time instead of sleeping. */
export type Clock = () => number;

export interface ClockOptions {
  /** Default `Date.now`. */
  now?: Clock;
}

export class ServiceTokenSigner {
  readonly #key: KeyObject;
  readonly #now: Clock;
  private constructor(key: KeyObject, now: Clock) {
    this.#key = key;
    this.#now = now;
  }
  static fromPem(pem: string, options: ClockOptions = {}): ServiceTokenSigner {
    return new ServiceTokenSigner(createPrivateKey(pem), options.now ?? Date.now);
  }
  async sign(claims: ServiceClaims, ttlSeconds: number): Promise<string> {
    if (!(ttlSeconds > 0 && ttlSeconds <= MAX_TOKEN_TTL_SECONDS)) {
      throw new RangeError(`Service token lifetime must be 1..${MAX_TOKEN_TTL_SECONDS} s, got ${ttlSeconds}.`);
    }
    // One reading of the clock for both claims, so `exp - iat` is exactly the lifetime the verifier allows.
    const issuedAt = Math.floor(this.#now() / 1000);
    return new SignJWT({
      tid: claims.tenantId,
      iid: claims.installId,
      scope: claims.scope.join(' '),
      ...(claims.requestId ? { rid: claims.requestId } : {}),
    })
      .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(claims.audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + Math.ceil(ttlSeconds))
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
  audience: string;
  /** `min(exp, iat + MAX_TOKEN_TTL_SECONDS)`, in ms: past it the token is refused, cached or not. */
  usableUntilMs: number;
}

export class ServiceTokenVerifier {
  readonly #key: KeyObject;
  readonly #now: Clock;
  // Signature checks are the costly part (Ed25519 via WebCrypto) and a token
  // is reused for many requests (see ReusableTokens); a verified token is
  // remembered until it may no longer be used. Audience, scope and expiry
  // are still checked on every call.
  readonly #verified = new LRUCache<string, VerifiedToken>({ max: 10_000 });
  private constructor(key: KeyObject, now: Clock) {
    this.#key = key;
    this.#now = now;
  }
  static fromPem(pem: string, options: ClockOptions = {}): ServiceTokenVerifier {
    return new ServiceTokenVerifier(createPublicKey(pem), options.now ?? Date.now);
  }

  /**
   * Verifies signature, issuer, audience (exactly one, the expected one: an
   * array is refused even when it names it), lifetime (`exp - iat` at most
   * 60 s, `iat` at most 60 s ago, and never used past `min(exp, iat + 60 s)`),
   * `alg` (pinned to EdDSA so `none` or HMAC tokens are refused) and, when
   * given, that the token carries `scope`.
   */
  async verify(token: string | undefined, expected: { audience: Audience; scope?: string }): Promise<ServiceClaims> {
    if (!token) throw tokenMissing();
    const nowMs = this.#now();
    const known = this.#verified.get(token) ?? (await this.#verifyAndRemember(token, expected.audience, nowMs));
    if (nowMs >= known.usableUntilMs) throw tokenExpired();
    if (known.audience !== expected.audience) throw tokenAudience({ audience: expected.audience });
    return this.#checkScope({ audience: expected.audience, ...known.claims }, expected.scope);
  }

  async #verifyAndRemember(token: string, audience: Audience, nowMs: number): Promise<VerifiedToken> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        audience,
        algorithms: [ALGORITHM],
        maxTokenAge: `${MAX_TOKEN_TTL_SECONDS}s`,
        requiredClaims: ['exp', 'iat', 'tid', 'iid'],
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw tokenExpired();
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud')
        throw tokenAudience({ audience });
      throw tokenInvalid();
    }
    // jose accepts an `aud` array that contains the audience; a token for several audiences is not ours.
    if (typeof payload.aud !== 'string') throw tokenAudienceNotSingle({ audience });
    // Both are numbers here: jose required and type-checked them.
    const { iat, exp } = payload as { iat: number; exp: number };
    if (exp - iat > MAX_TOKEN_TTL_SECONDS) throw tokenLifetimeTooLong({ max: MAX_TOKEN_TTL_SECONDS });
    if (typeof payload.tid !== 'string' || typeof payload.iid !== 'string') throw tokenInvalid();
    const verified: VerifiedToken = {
      claims: {
        tenantId: payload.tid,
        installId: payload.iid,
        scope: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        ...(typeof payload.rid === 'string' ? { requestId: payload.rid } : {}),
      },
      audience: payload.aud,
      usableUntilMs: Math.min(exp, iat + MAX_TOKEN_TTL_SECONDS) * 1000,
    };
    this.#verified.set(token, verified);
    return verified;
  }

  #checkScope(claims: ServiceClaims, scope: string | undefined): ServiceClaims {
    if (scope && !claims.scope.includes(scope)) throw tokenScope({ scope });
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
  readonly #now: Clock;
  readonly #tokens = new LRUCache<string, { token: string; expiresAtMs: number }>({ max: 10_000 });
  /** Signatures under way, by binding: requests that find the token due share one signature instead of each making one. */
  readonly #signing = new Map<string, Promise<string>>();

  /** `now` must be the signer's clock (both default to `Date.now`). */
  constructor(signer: ServiceTokenSigner, options: { minRemainingSeconds: number } & ClockOptions) {
    if (!(options.minRemainingSeconds > 0 && options.minRemainingSeconds <= MAX_TOKEN_TTL_SECONDS)) {
      throw new RangeError(`minRemainingSeconds must be 1..${MAX_TOKEN_TTL_SECONDS}.`);
    }
    this.#signer = signer;
    this.#now = options.now ?? Date.now;
    this.#minRemainingMs = options.minRemainingSeconds * 1000;
    // Twice the minimum (capped at the maximum) so each token serves a while.
    this.#ttlSeconds = Math.min(MAX_TOKEN_TTL_SECONDS, Math.ceil(options.minRemainingSeconds * 2));
  }

  async get(claims: Omit<ServiceClaims, 'requestId'>): Promise<string> {
    const key = JSON.stringify([claims.audience, claims.tenantId, claims.installId, [...claims.scope].sort()]);
    const cached = this.#tokens.get(key);
    const now = this.#now();
    if (cached && cached.expiresAtMs - now >= this.#minRemainingMs) return cached.token;
    // A signature started for this binding an instant ago is as fresh as a new one: every waiter gets a full lifetime.
    const pending = this.#signing.get(key);
    if (pending) return pending;
    const signing = this.#sign(key, claims, now).finally(() => this.#signing.delete(key));
    this.#signing.set(key, signing);
    return signing;
  }

  async #sign(key: string, claims: Omit<ServiceClaims, 'requestId'>, now: number): Promise<string> {
    // The signer dates the token from the whole second (`exp = floor(now) + ttl`); count from there too.
    const expiresAtMs = (Math.floor(now / 1000) + this.#ttlSeconds) * 1000;
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
export async function loadSigner(file: string, options: ClockOptions = {}): Promise<ServiceTokenSigner> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(`Service signing key ${file} is readable by other users; run: chmod 600 ${file}`);
  }
  return ServiceTokenSigner.fromPem(await readFile(file, 'utf8'), options);
}

export async function loadVerifier(file: string, options: ClockOptions = {}): Promise<ServiceTokenVerifier> {
  return ServiceTokenVerifier.fromPem(await readFile(file, 'utf8'), options);
}

async function writeNew(file: string, text: string, mode: number): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
