/**
 * Every error the SDK raises carries a stable `code` and a message that says
 * what the author can do about it. The codes mirror the WIT error variants,
 * plus `not-declared` for a capability the manifest does not list (the
 * component then has no import for it at all, so the SDK can tell).
 */

/** Why a secret could not be read. Each case says what the author can do about it. */
export type SecretErrorCode =
  | 'not-declared'
  | 'missing'
  | 'denied'
  | 'expired'
  | 'unavailable'
  /** `get` of a secret whose setting lists `egress` hosts: use `ctx.secrets.handle`. */
  | 'handle-required'
  /** `handle` of a secret without `egress` hosts (or without the capability). */
  | 'no-handle';

const SECRET_HINTS: Record<SecretErrorCode, string> = {
  'not-declared':
    'add "cap:secrets.get" to "capabilities" in manifest.json and declare the key under "settings" with "secret": true',
  missing: 'the install has no value for this secret yet; set it in the extension settings or with `alga secrets set`',
  denied: 'the install was not granted "cap:secrets.get"; reinstall and grant it',
  expired: 'the secret envelope expired; retry the request',
  unavailable: 'the secret provider is unavailable; retry later',
  'handle-required':
    'its setting lists "egress" hosts, so the extension never reads the value; call ctx.secrets.handle(key) and put the handle in a request to one of those hosts (the runner puts the value in its place)',
  'no-handle':
    'only a secret whose setting lists "egress" hosts in manifest.json has a handle (read others with ctx.secrets.get), and the install needs "cap:secrets.get"',
};

export class SecretError extends Error {
  readonly code: SecretErrorCode;
  readonly key: string;
  constructor(code: SecretErrorCode, key: string) {
    super(
      code === 'handle-required' || code === 'no-handle'
        ? `Secret "${key}" (${code}): ${SECRET_HINTS[code]}.`
        : `Secret "${key}" is unavailable (${code}): ${SECRET_HINTS[code]}.`,
    );
    this.name = 'SecretError';
    this.code = code;
    this.key = key;
  }
}

export type ConfigErrorCode = 'not-declared' | 'denied' | 'unavailable';

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  constructor(code: ConfigErrorCode) {
    super(
      code === 'not-declared'
        ? 'Reading config needs "cap:context.read" in "capabilities" of manifest.json.'
        : `The install's config is unavailable (${code}).`,
    );
    this.name = 'ConfigError';
    this.code = code;
  }
}

/** Why an outbound HTTP call failed before a response arrived. */
export type HttpErrorCode =
  | 'not-declared'
  | 'not-allowed'
  | 'invalid-url'
  | 'transport'
  | 'internal'
  /** The request carried a secret handle and went (or was redirected) to a host outside that secret's `egress`. */
  | 'secret-not-allowed';

export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly url: string;
  /** For `not-allowed`: the `allowedHosts` entry that would allow this URL. */
  readonly allowedHostsEntry: string | undefined;
  /** For `secret-not-allowed`: the key (never the value) of the secret whose handle was refused. */
  readonly secret: string | undefined;
  constructor(code: HttpErrorCode, url: string, secret?: string) {
    const entry = code === 'not-allowed' ? allowedHostsEntryFor(url) : undefined;
    const hint: Record<HttpErrorCode, string> = {
      'not-declared': 'add "cap:http.fetch" to "capabilities" in manifest.json',
      'not-allowed': entry
        ? `add "${entry}" to "allowedHosts" in manifest.json (private and metadata addresses stay refused)`
        : 'the host is not in "allowedHosts" of manifest.json, or the call exceeded a limit',
      'invalid-url': 'use an absolute http(s) URL without credentials',
      transport: 'the remote host did not answer, or the response was too large or too slow; retry or check the host',
      internal: 'the runner failed while making the call; retry later',
      'secret-not-allowed': `the request carries the handle of secret "${secret ?? '?'}", which may only be sent to the hosts listed in its setting's "egress" in manifest.json (a redirect counts too)`,
    };
    super(`HTTP ${code} for ${safeOrigin(url)}: ${hint[code]}.`);
    this.name = 'HttpError';
    this.code = code;
    this.url = url;
    this.allowedHostsEntry = entry;
    this.secret = secret;
  }
}

/** The manifest entry that allows a URL: `host[:port]` for https, `http://host[:port]` for http. */
export function allowedHostsEntryFor(url: string): string | undefined {
  const parsed = parseUrl(url);
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) return undefined;
  return parsed.protocol === 'https:' ? parsed.host : `http://${parsed.host}`;
}

// Error messages may end up in logs: show the origin only, never a path or query that could carry a token.
function safeOrigin(url: string): string {
  const parsed = parseUrl(url);
  return parsed && parsed.origin !== 'null' ? parsed.origin : 'an invalid URL';
}

// Not `URL.parse`: StarlingMonkey (the engine inside every component) has no static URL.parse, so
// calling it threw a TypeError while building the HttpError and turned every refused call into a 500.
function parseUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

export type StorageErrorCode = 'not-declared' | 'conflict' | 'missing' | 'denied' | 'internal';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly key: string;
  constructor(code: StorageErrorCode, key: string) {
    const hint: Record<StorageErrorCode, string> = {
      'not-declared': 'add "cap:storage.kv" to "capabilities" in manifest.json',
      conflict: 'the entry changed since you read it; read it again and retry the write',
      missing: 'there is no entry with this key',
      denied: 'the install was not granted "cap:storage.kv", or storage is not available on this runner',
      internal: 'the storage backend failed; retry later',
    };
    super(`Storage ${code} for key "${key}": ${hint[code]}.`);
    this.name = 'StorageError';
    this.code = code;
    this.key = key;
  }
}

export type ProxyErrorCode = 'not-declared' | 'route-not-found' | 'denied' | 'bad-request' | 'internal';

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly route: string;
  constructor(code: ProxyErrorCode, route: string) {
    const hint: Record<ProxyErrorCode, string> = {
      'not-declared': 'add "cap:ui.proxy" to "capabilities" in manifest.json',
      'route-not-found': 'the host has no UI-proxy route with this name',
      denied: 'the install was not granted "cap:ui.proxy"',
      'bad-request': 'the host refused the payload',
      internal: 'the host failed while handling the call; retry later',
    };
    super(`UI proxy ${code} for route "${route}": ${hint[code]}.`);
    this.name = 'ProxyError';
    this.code = code;
    this.route = route;
  }
}

export type UserErrorCode = 'not-declared' | 'not-allowed';

export class UserError extends Error {
  readonly code: UserErrorCode;
  constructor(code: UserErrorCode) {
    super(
      code === 'not-declared'
        ? 'Reading the user needs "cap:user.read" in "capabilities" of manifest.json.'
        : 'The install was not granted "cap:user.read".',
    );
    this.name = 'UserError';
    this.code = code;
  }
}
