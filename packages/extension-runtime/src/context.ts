import { bodyReader, encodeValue, type BodyReader } from './body.ts';
import { ConfigError, ProxyError, SecretError, UserError } from './errors.ts';
import { host, witErrorCase } from './host.ts';
import { createHttpClient, type HttpClient } from './http.ts';
import { createStorage, type Storage } from './storage.ts';
import type { CapabilityId, DeclaredCapability, DeclaredConfig, DeclaredSecretKey, IfDeclared } from './types.ts';

export interface ContextData {
  requestId?: string;
  tenantId: string;
  extensionId: string;
  installId?: string;
  versionId?: string;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The signed-in user a request runs for (UI-proxy calls); none for API-key calls. */
export interface User {
  tenantId: string;
  clientName: string;
  userId: string;
  userEmail: string;
  userName: string;
  userType: string;
}

export interface UiProxy {
  /**
   * Calls a route the host exposes to extensions (`ui-proxy.call-route`).
   * Strings go as UTF-8, bytes as they are, anything else as JSON.
   */
  call(route: string, payload?: unknown): Promise<BodyReader>;
}

/**
 * What a handler receives besides the request. The type parameters default
 * to the types `alga build` generates from the manifest (see
 * {@link ExtensionTypes}), so reading an undeclared key or using an
 * undeclared capability is a compile error.
 */
export interface Ctx<
  Config extends Record<string, unknown> = DeclaredConfig,
  SecretKey extends string = DeclaredSecretKey,
  Caps extends CapabilityId = DeclaredCapability,
> {
  readonly context: ContextData;
  readonly config: {
    get<K extends keyof Config & string>(key: K): Config[K] | undefined;
    all(): Partial<Config>;
  };
  readonly secrets: IfDeclared<
    'cap:secrets.get',
    Caps,
    {
      /**
       * Resolves to the secret's value; rejects with a SecretError that says why not
       * (`handle-required` for a secret whose setting lists `egress` hosts).
       */
      get(key: SecretKey): Promise<string>;
      /**
       * An opaque placeholder for a secret whose setting lists `egress` hosts, valid
       * for this request only. Put it in `ctx.http.fetch`'s URL, a header value or
       * the body: the runner sends the value in its place to those hosts and
       * refuses the request to any other. The handler never holds the value.
       */
      handle(key: SecretKey): Promise<string>;
      /** Names of the secrets that are set for this install (never values). */
      keys(): string[];
    }
  >;
  readonly http: IfDeclared<'cap:http.fetch', Caps, HttpClient>;
  readonly storage: IfDeclared<'cap:storage.kv', Caps, Storage>;
  readonly uiProxy: IfDeclared<'cap:ui.proxy', Caps, UiProxy>;
  /** The user the request runs for, or undefined when there is none (an API-key call). */
  readonly user: IfDeclared<'cap:user.read', Caps, () => Promise<User | undefined>>;
  readonly log: Logger;
}

/** The runtime object behind every `Ctx`: all members exist; types decide which an author may touch. */
export interface RuntimeCtx {
  readonly context: ContextData;
  readonly config: { get(key: string): unknown; all(): Record<string, unknown> };
  readonly secrets: { get(key: string): Promise<string>; handle(key: string): Promise<string>; keys(): string[] };
  readonly http: HttpClient;
  readonly storage: Storage;
  readonly uiProxy: UiProxy;
  readonly user: () => Promise<User | undefined>;
  readonly log: Logger;
}

/**
 * The members of a ctx that hold no state of their own: every call asks
 * `host()` for the current request's bindings. Built once per instance and
 * frozen, not per request: in the guest's interpreter the ~20 closures cost
 * more than the handler's own work (docs/perf/044).
 */
let shared: Omit<RuntimeCtx, 'context' | 'config'> | undefined;

function sharedMembers(): Omit<RuntimeCtx, 'context' | 'config'> {
  if (shared) return shared;
  const emit = (level: 'logInfo' | 'logWarn' | 'logError', message: string) => {
    // Logging is best-effort: an undeclared log capability drops the line.
    host().logging?.[level](String(message));
  };
  shared = {
    secrets: {
      async get(key) {
        const secrets = host().secrets;
        if (!secrets) throw new SecretError('not-declared', key);
        try {
          return secrets.get(key);
        } catch (error) {
          const reason = witErrorCase(error);
          // `denied` is also the answer for an egress-bound secret: say which, so the author knows what to do.
          if (reason === 'denied' && egressBound(secrets, key)) throw new SecretError('handle-required', key);
          throw new SecretError(
            reason === 'missing' || reason === 'denied' || reason === 'expired' ? reason : 'unavailable',
            key,
          );
        }
      },
      async handle(key) {
        const secrets = host().secrets;
        if (!secrets) throw new SecretError('not-declared', key);
        if (typeof secrets.handle !== 'function') throw new SecretError('no-handle', key);
        try {
          return secrets.handle(key);
        } catch (error) {
          const reason = witErrorCase(error);
          throw new SecretError(
            reason === 'denied' ? 'no-handle' : reason === 'missing' || reason === 'expired' ? reason : 'unavailable',
            key,
          );
        }
      },
      keys: () => host().secrets?.listKeys() ?? [],
    },
    http: createHttpClient(),
    storage: createStorage(),
    uiProxy: {
      async call(route, payload) {
        const proxy = host().uiProxy;
        if (!proxy) throw new ProxyError('not-declared', route);
        try {
          return bodyReader(proxy.callRoute(route, payload === undefined ? undefined : encodeValue(payload).bytes));
        } catch (error) {
          const code = witErrorCase(error);
          throw new ProxyError(
            code === 'route-not-found' || code === 'denied' || code === 'bad-request' ? code : 'internal',
            route,
          );
        }
      },
    },
    async user() {
      const user = host().user;
      if (!user) throw new UserError('not-declared');
      try {
        return user.getUser();
      } catch (error) {
        if (witErrorCase(error) === 'not-available') return undefined;
        throw new UserError('not-allowed');
      }
    },
    log: {
      info: (m) => emit('logInfo', m),
      warn: (m) => emit('logWarn', m),
      error: (m) => emit('logError', m),
    },
  };
  for (const member of Object.values(shared)) Object.freeze(member);
  return shared;
}

export function createCtx(context: ContextData): RuntimeCtx {
  let configCache: Record<string, unknown> | undefined;
  const loadConfig = (): Record<string, unknown> => {
    if (configCache) return configCache;
    const config = host().config;
    if (!config) throw new ConfigError('not-declared');
    try {
      configCache = JSON.parse(config.getAll()) as Record<string, unknown>;
    } catch (error) {
      const reason = witErrorCase(error);
      throw new ConfigError(reason === 'denied' ? 'denied' : 'unavailable');
    }
    return configCache;
  };
  const { secrets, http, storage, uiProxy, user, log } = sharedMembers();
  return {
    context,
    config: {
      get: (key) => loadConfig()[key],
      all: () => ({ ...loadConfig() }),
    },
    secrets,
    http,
    storage,
    uiProxy,
    user,
    log,
  };
}

/** Whether the host says `key` may only leave through a handle (a host without `egress-hosts` has no such secrets). */
function egressBound(secrets: NonNullable<ReturnType<typeof host>['secrets']>, key: string): boolean {
  try {
    return typeof secrets.egressHosts === 'function' && secrets.egressHosts(key).length > 0;
  } catch {
    return false;
  }
}
