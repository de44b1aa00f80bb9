import { ConfigError, SecretError } from './errors.ts';
import { host, witErrorCase } from './host.ts';

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

/**
 * What a handler receives besides the request. `Config` and `SecretKey` are
 * narrowed by the types `alga build` generates from the manifest, so reading
 * an undeclared key is a compile error.
 */
export interface Ctx<
  Config extends Record<string, unknown> = Record<string, unknown>,
  SecretKey extends string = string,
> {
  readonly context: ContextData;
  readonly config: {
    get<K extends keyof Config & string>(key: K): Config[K] | undefined;
    all(): Partial<Config>;
  };
  readonly secrets: {
    /** Resolves to the secret's value; rejects with a SecretError that says why not. */
    get(key: SecretKey): Promise<string>;
    /** Names of the secrets that are set for this install (never values). */
    keys(): string[];
  };
  readonly log: Logger;
}

export function createCtx<Config extends Record<string, unknown>, SecretKey extends string>(
  context: ContextData,
): Ctx<Config, SecretKey> {
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

  const emit = (level: 'logInfo' | 'logWarn' | 'logError', message: string) => {
    // Logging is best-effort: an undeclared log capability drops the line.
    host().logging?.[level](String(message));
  };

  return {
    context,
    config: {
      get: (key) => loadConfig()[key] as Config[typeof key] | undefined,
      all: () => ({ ...loadConfig() }) as Partial<Config>,
    },
    secrets: {
      async get(key) {
        const secrets = host().secrets;
        if (!secrets) throw new SecretError('not-declared', key);
        try {
          return secrets.get(key);
        } catch (error) {
          const reason = witErrorCase(error);
          throw new SecretError(
            reason === 'missing' || reason === 'denied' || reason === 'expired' ? reason : 'unavailable',
            key,
          );
        }
      },
      keys: () => host().secrets?.listKeys() ?? [],
    },
    log: {
      info: (m) => emit('logInfo', m),
      warn: (m) => emit('logWarn', m),
      error: (m) => emit('logError', m),
    },
  };
}
