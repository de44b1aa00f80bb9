import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { TransitError, type Decrypter, type Encrypter, type TransitErrorReason } from './types.ts';

/*
 * A client of Vault / OpenBao's transit secrets engine over its HTTP API.
 *
 * The key must be created with key derivation, so each ciphertext is bound to
 * the caller's context (Vault derives a per-context key, the counterpart of the
 * local keyring's AAD):
 *
 *   vault secrets enable transit
 *   vault write -f transit/keys/alga-ext type=aes256-gcm96 derived=true
 *
 * A key created without `derived=true` silently ignores the context, so the
 * owner binding would be lost; `verifyKey()` lets an operator check this.
 *
 * Token: read from `tokenFile` on first use and re-read whenever the file
 * changes (inode, size, mtime or ctime), so a sidecar (Vault Agent, a CSI
 * driver) can renew it by rewriting the file. The token is only ever sent in
 * `X-Vault-Token`; it never appears in an error message, inspect or JSON.
 *
 * Retries: 429, 412, 5xx (except auth failures), connection errors and
 * per-attempt timeouts are retried with exponential backoff and jitter, up to
 * `retries` times (1 + retries attempts). 400, 401, 403 and 404 are never
 * retried, nor is a 5xx whose text says the token or its policy was refused.
 */

export interface VaultTransitOptions {
  /** Vault / OpenBao address, e.g. `http://127.0.0.1:8200`. No credentials in it. */
  address: string;
  /** Mount path of the transit engine. Default `transit`. */
  mount?: string;
  /** Name of the transit key (created with `derived=true`). */
  keyName: string;
  /** File holding the Vault token; re-read when it changes. */
  tokenFile: string;
  /** Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`. */
  namespace?: string;
  /** Per-attempt budget: connect, headers and body. Default 2000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt for transient failures. Default 2. */
  retries?: number;
  /** First backoff delay; doubles each retry, with jitter. Default 100 ms. */
  retryBaseDelayMs?: number;
  /** Cap on one backoff delay. Default 2000 ms. */
  retryMaxDelayMs?: number;
  /** Injected undici dispatcher (tests, custom TLS). Not closed by `close()`. */
  dispatcher?: Dispatcher;
}

/** What `verifyKey()` reports about the transit key. */
export interface VaultKeyInfo {
  type: string;
  derived: boolean;
  latestVersion: number;
  minDecryptionVersion: number;
}

type Operation = 'encrypt' | 'decrypt' | 'rewrap' | 'rotate' | 'read-key' | 'health';

interface Failure {
  error: TransitError;
  retry: boolean;
}

/** Vault's health endpoint codes that mean reachable and unsealed (active, standby, DR secondary, perf standby). */
const HEALTHY_STATUSES = new Set([200, 429, 472, 473]);

/** Transport failures worth another attempt (the server may be restarting or a connection was reused too late). */
const RETRYABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ATTEMPT_TIMEOUT',
]);

/** Failures after which the request certainly did not reach Vault's logic; the only ones a non-idempotent call retries. */
const NOT_DELIVERED_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/*
 * How Vault and OpenBao say that a token or its policy was refused. They
 * normally answer 403, but some paths (plugins, forwarding from a standby,
 * proxies in front) wrap the same text in a 5xx; retrying cannot help then.
 * "message authentication failed" is AES-GCM refusing a ciphertext, not a
 * login failure, and is excluded.
 */
const AUTH_FAILURE_RE =
  /permission denied|missing client token|invalid token|bad token|token (?:is )?(?:expired|revoked|not found)|unauthori[sz]ed|(?<!message )authentication\b/i;

const CIPHERTEXT_LIKE_RE = /vault:v\d+:\S*/g;
const TOKEN_LIKE_RE = /\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}/g;
const LONG_BASE64_RE = /[A-Za-z0-9+/_-]{41,}={0,2}/g;

/**
 * Makes one of Vault's error strings safe to put in a message: drops anything
 * that looks like a ciphertext, a token or a long base64 run, strips control
 * characters and caps the length.
 */
export function sanitizeVaultError(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a value containing another is removed whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  out = out
    .replace(CIPHERTEXT_LIKE_RE, '[redacted]')
    .replace(TOKEN_LIKE_RE, '[redacted]')
    .replace(LONG_BASE64_RE, '[redacted]')
    .replace(/[\p{Cc}]+/gu, ' ')
    .trim();
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

export class VaultTransit implements Encrypter, Decrypter {
  readonly keyRef: string;
  readonly #origin: string;
  readonly #mount: string;
  readonly #keyName: string;
  readonly #tokenFile: string;
  readonly #namespace: string | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  #token: string | undefined;
  #tokenStamp: string | undefined;

  constructor(options: VaultTransitOptions) {
    let url: URL;
    try {
      url = new URL(options.address);
    } catch {
      throw new TransitError('config', 'Vault address is not a URL (expected e.g. http://127.0.0.1:8200).');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TransitError('config', `Vault address must be http or https, not ${url.protocol}`);
    }
    if (url.username || url.password) {
      throw new TransitError('config', 'Vault address must not carry credentials; use tokenFile.');
    }
    const mount = (options.mount ?? 'transit').replace(/^\/+|\/+$/g, '');
    if (!/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(mount)) {
      throw new TransitError('config', `Vault transit mount '${mount}' is not a valid path.`);
    }
    if (!/^[A-Za-z0-9._-]+$/.test(options.keyName)) {
      throw new TransitError('config', `Vault transit key name '${options.keyName}' is not valid.`);
    }
    if (!options.tokenFile) throw new TransitError('config', 'Vault tokenFile is required.');
    const timeoutMs = options.timeoutMs ?? 2000;
    const retries = options.retries ?? 2;
    if (!(timeoutMs > 0) || !Number.isInteger(retries) || retries < 0) {
      throw new TransitError('config', 'Vault timeoutMs must be > 0 and retries a non-negative integer.');
    }

    this.#origin = url.origin + url.pathname.replace(/\/+$/, '');
    this.#mount = mount;
    this.#keyName = options.keyName;
    this.#tokenFile = options.tokenFile;
    this.#namespace = options.namespace?.replace(/^\/+|\/+$/g, '') || undefined;
    this.#timeoutMs = timeoutMs;
    this.#retries = retries;
    this.#baseDelayMs = options.retryBaseDelayMs ?? 100;
    this.#maxDelayMs = options.retryMaxDelayMs ?? 2000;
    this.#ownsDispatcher = !options.dispatcher;
    this.#dispatcher =
      options.dispatcher ??
      new Agent({
        connect: { timeout: timeoutMs },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        maxResponseSize: 4 * 1024 * 1024,
      });
    this.keyRef = `vault:${mount}/${options.keyName}`;
  }

  async encrypt(plaintext: Uint8Array, context: string): Promise<string> {
    const data = await this.#call('encrypt', 'POST', `${this.#mount}/encrypt/${this.#keyName}`, {
      plaintext: Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).toString('base64'),
      context: encodeContext(context),
    });
    return this.#ciphertextFrom(data, 'encrypt');
  }

  async decrypt(ciphertext: string, context: string): Promise<Uint8Array> {
    if (typeof ciphertext !== 'string' || !/^vault:v\d+:/.test(ciphertext)) {
      throw new TransitError('bad-ciphertext', 'Ciphertext is not in vault:v<N>:<base64> form.');
    }
    const data = await this.#call('decrypt', 'POST', `${this.#mount}/decrypt/${this.#keyName}`, {
      ciphertext,
      context: encodeContext(context),
    });
    const plaintext = (data as { plaintext?: unknown } | undefined)?.plaintext;
    // Vault omits `plaintext` for an empty value.
    if (plaintext === undefined || plaintext === '') return Buffer.alloc(0);
    if (typeof plaintext !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(plaintext)) {
      throw new TransitError('unavailable', `Vault answered decrypt at ${this.#origin} without a base64 plaintext.`);
    }
    return Buffer.from(plaintext, 'base64');
  }

  /** Re-encrypts a ciphertext under the key's latest version inside Vault (needs update on <mount>/rewrap/<key>). */
  async rewrap(ciphertext: string, context: string): Promise<string> {
    if (typeof ciphertext !== 'string' || !/^vault:v\d+:/.test(ciphertext)) {
      throw new TransitError('bad-ciphertext', 'Ciphertext is not in vault:v<N>:<base64> form.');
    }
    const data = await this.#call('rewrap', 'POST', `${this.#mount}/rewrap/${this.#keyName}`, {
      ciphertext,
      context: encodeContext(context),
    });
    return this.#ciphertextFrom(data, 'rewrap');
  }

  /**
   * Adds a key version (needs update on <mount>/keys/<key>/rotate). Returns the
   * new latest version when Vault reports it (newer Vault and OpenBao do; older
   * Vault answers 204 and this returns undefined). Retried only when the
   * request certainly did not reach Vault, so one call never rotates twice.
   */
  async rotate(): Promise<number | undefined> {
    const data = await this.#call('rotate', 'POST', `${this.#mount}/keys/${this.#keyName}/rotate`, {}, false);
    const latest = (data as { latest_version?: unknown } | undefined)?.latest_version;
    return typeof latest === 'number' ? latest : undefined;
  }

  /**
   * Reads the key's settings (needs read on <mount>/keys/<key>; an operator
   * check, not for the server or runner policies) and refuses a key that is not
   * derived, since such a key ignores the context and loses the owner binding.
   */
  async verifyKey(): Promise<VaultKeyInfo> {
    const data = (await this.#call('read-key', 'GET', `${this.#mount}/keys/${this.#keyName}`)) as
      Record<string, unknown> | undefined;
    const info: VaultKeyInfo = {
      type: String(data?.type ?? ''),
      derived: data?.derived === true,
      latestVersion: Number(data?.latest_version ?? 0),
      minDecryptionVersion: Number(data?.min_decryption_version ?? 0),
    };
    if (!info.derived) {
      throw new TransitError(
        'config',
        `Vault key ${this.keyRef} is not derived, so it would ignore the context; create it with derived=true.`,
      );
    }
    return info;
  }

  /**
   * Readiness: the token file is readable and Vault answers `sys/health` as
   * unsealed (200 active, 429 standby, 472 DR secondary, 473 performance
   * standby). One attempt, no retries; the probe itself repeats. The token is
   * not sent: the endpoint is unauthenticated.
   */
  async ready(): Promise<void> {
    await this.#loadToken();
    let status: number;
    try {
      ({ status } = await this.#attempt('GET', '/v1/sys/health', undefined, {}));
    } catch (error) {
      throw new TransitError('unavailable', `Vault at ${this.#origin} is unreachable: ${describeTransport(error)}.`);
    }
    if (HEALTHY_STATUSES.has(status)) return;
    const why = status === 503 ? 'sealed' : status === 501 ? 'not initialized' : `health answered ${status}`;
    throw new TransitError('unavailable', `Vault at ${this.#origin} is not ready: ${why} (${status}).`);
  }

  /** Closes the client's own connection pool (not an injected dispatcher). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  // The token must never reach a log through util.inspect or JSON.
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `VaultTransit(${this.keyRef})`;
  }
  toJSON(): string {
    return `VaultTransit(${this.keyRef})`;
  }

  #ciphertextFrom(data: unknown, operation: Operation): string {
    const ciphertext = (data as { ciphertext?: unknown } | undefined)?.ciphertext;
    if (typeof ciphertext !== 'string' || !/^vault:v\d+:/.test(ciphertext)) {
      throw new TransitError('unavailable', `Vault answered ${operation} at ${this.#origin} without a ciphertext.`);
    }
    return ciphertext;
  }

  /** Current token, re-read when the file changed since the last read. */
  async #loadToken(): Promise<string> {
    try {
      const info = await stat(this.#tokenFile, { bigint: true });
      const stamp = `${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
      if (this.#token !== undefined && stamp === this.#tokenStamp) return this.#token;
      const token = (await readFile(this.#tokenFile, 'utf8')).trim();
      if (!token) throw new TransitError('config', `Vault token file ${this.#tokenFile} is empty.`);
      if (/[\s\p{Cc}]/u.test(token)) {
        throw new TransitError('config', `Vault token file ${this.#tokenFile} does not hold a single token.`);
      }
      this.#token = token;
      this.#tokenStamp = stamp;
      return token;
    } catch (error) {
      if (error instanceof TransitError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new TransitError('config', `Vault token file ${this.#tokenFile} is not readable (${code}).`);
    }
  }

  async #call(
    operation: Operation,
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, unknown>,
    idempotent = true,
  ): Promise<unknown> {
    const attempts = 1 + this.#retries;
    let last: Failure | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(this.#backoff(attempt - 1));
      const token = await this.#loadToken();
      const headers: Record<string, string> = { 'x-vault-token': token, 'x-vault-request': 'true' };
      if (this.#namespace) headers['x-vault-namespace'] = this.#namespace;
      let failure: Failure;
      try {
        const response = await this.#attempt(method, `/v1/${path}`, body, headers);
        if (response.status >= 200 && response.status < 300) return parseData(response.text);
        // Vault's text is echoed only after removing the token and whatever this request sent.
        const sent = [token, ...Object.values(body ?? {}).filter((v): v is string => typeof v === 'string')];
        failure = this.#classifyStatus(operation, path, response.status, response.text, sent, idempotent);
      } catch (error) {
        const code = transportCode(error);
        failure = {
          error: new TransitError('unavailable', `Vault at ${this.#origin} failed: ${describeTransport(error)}.`),
          retry: RETRYABLE_CODES.has(code) && (idempotent || NOT_DELIVERED_CODES.has(code)),
        };
      }
      if (!failure.retry) throw failure.error;
      last = failure;
    }
    throw new TransitError(
      'unavailable',
      `Vault ${operation} on ${this.keyRef} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}; last: ${last?.error.message}`,
    );
  }

  /** One HTTP exchange bounded by timeoutMs from connect to the last body byte. */
  async #attempt(
    method: 'GET' | 'POST',
    path: string,
    body: Record<string, unknown> | undefined,
    headers: Record<string, string>,
  ): Promise<{ status: number; text: string }> {
    const controller = new AbortController();
    const timer = setTimeout(() => {
      const reason = new Error(`no answer within ${this.#timeoutMs} ms`);
      (reason as NodeJS.ErrnoException).code = 'ATTEMPT_TIMEOUT';
      controller.abort(reason);
    }, this.#timeoutMs);
    try {
      const response = await request(`${this.#origin}${path}`, {
        method,
        dispatcher: this.#dispatcher,
        headers: body ? { ...headers, 'content-type': 'application/json' } : headers,
        body: body ? JSON.stringify(body) : undefined,
        signal: controller.signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      const text = await response.body.text();
      return { status: response.statusCode, text };
    } catch (error) {
      // An abort surfaces as the reason or as an AbortError wrapping it.
      if (controller.signal.aborted) throw controller.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #classifyStatus(
    operation: Operation,
    path: string,
    status: number,
    text: string,
    sent: readonly string[],
    idempotent: boolean,
  ): Failure {
    const vaultSays = sanitizeVaultError(vaultErrors(text), sent);
    const said = vaultSays ? `: ${vaultSays}` : '';
    const fail = (reason: TransitErrorReason, message: string, retry = false): Failure => ({
      error: new TransitError(reason, message),
      retry,
    });
    const where = this.#namespace ? ` in namespace '${this.#namespace}'` : '';
    const capability = operation === 'read-key' ? 'read' : 'update';

    if (status === 400) {
      if (operation === 'decrypt' || operation === 'rewrap') {
        if (/too old|disallowed by policy|invalid key version|version is too new|key version/i.test(vaultSays)) {
          return fail('key-version', `Vault refused the ciphertext's key version (400)${said}`);
        }
        if (/encryption key not found|missing 'context'|key derivation/i.test(vaultSays)) {
          return fail('config', `Vault transit key ${this.keyRef}${where} is missing or not derived (400)${said}`);
        }
        return fail('bad-ciphertext', `Vault could not decrypt the ciphertext for this context (400)${said}`);
      }
      return fail('config', `Vault refused the ${operation} request on ${this.keyRef}${where} (400)${said}`);
    }
    if (status === 401 || status === 403) {
      return fail(
        'denied',
        `Vault refused the token (${status}): check the policy grants ${capability} on ${path}${where}${said}`,
      );
    }
    if (status === 404) {
      return fail(
        'config',
        `Vault has no ${path}${where} (404): is the transit engine mounted at '${this.#mount}' and does key '${this.#keyName}' exist?${said}`,
      );
    }
    if (status >= 500 && AUTH_FAILURE_RE.test(vaultSays)) {
      return fail(
        'denied',
        `Vault refused the token (${status}): check the token and that the policy grants ${capability} on ${path}${where}${said}`,
      );
    }
    if (status === 429 || status === 412 || status >= 500) {
      // A non-idempotent call is retried only when Vault says it did nothing (sealed, standby, rate limit).
      const retry = idempotent || status === 429 || status === 503;
      return fail('unavailable', `Vault at ${this.#origin} answered ${status}${said}`, retry);
    }
    return fail('unavailable', `Vault at ${this.#origin} answered unexpected ${status}${said}`);
  }

  #backoff(retry: number): number {
    const ceiling = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (retry - 1));
    // "Equal jitter": at least half the exponential delay, so retries stay spread but never bunch at zero.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

function encodeContext(context: string): string {
  if (typeof context !== 'string' || context === '') {
    throw new TransitError('config', 'A non-empty context is required by a derived Vault transit key.');
  }
  return Buffer.from(context, 'utf8').toString('base64');
}

/** The `data` object of a Vault answer; undefined for an empty (204) body. */
function parseData(text: string): unknown {
  if (!text) return undefined;
  try {
    return (JSON.parse(text) as { data?: unknown }).data;
  } catch {
    throw new TransitError('unavailable', 'Vault answered with a body that is not JSON.');
  }
}

/** Joins Vault's `{"errors": [...]}`; falls back to nothing for other bodies (they could echo anything). */
function vaultErrors(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errors?: unknown };
    if (Array.isArray(parsed.errors)) return parsed.errors.filter((e) => typeof e === 'string').join('; ');
  } catch {
    // not JSON: say nothing
  }
  return '';
}

function transportCode(error: unknown): string {
  const e = error as { code?: unknown; cause?: { code?: unknown }; errors?: { code?: unknown }[] } | undefined;
  const code = e?.code ?? e?.cause?.code ?? e?.errors?.[0]?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** A transport failure, by code only: undici and net messages are safe but need no echoing. */
function describeTransport(error: unknown): string {
  const code = transportCode(error);
  if (code === 'ATTEMPT_TIMEOUT') return (error as Error).message;
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `connection dropped (${code})`;
  if (code.includes('TIMEOUT')) return `timed out (${code})`;
  return `transport error (${code})`;
}
