import type { ExecuteRequest, ExecuteResponse } from 'alga:extension/types@0.1.0';
import type { ContextData } from './context.ts';
import { installHost } from './host.ts';

/**
 * An in-memory host for unit tests: no wasm, no runner. It speaks the same
 * contract as the runner (including WIT error cases), so a handler that passes
 * here behaves the same inside a component.
 */
export interface MockHostOptions {
  context?: Partial<ContextData>;
  config?: Record<string, unknown>;
  secrets?: Record<string, string>;
  /** Simulate an install that was not granted the secrets capability. */
  denySecrets?: boolean;
}

export interface MockResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  text(): string;
  json<T = unknown>(): T;
}

export interface MockHost {
  readonly logs: { level: 'info' | 'warn' | 'error'; message: string }[];
  invoke(
    handler: (request: ExecuteRequest) => Promise<ExecuteResponse> | ExecuteResponse,
    request?: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Uint8Array },
  ): Promise<MockResponse>;
}

const witError = (payload: string) => Object.assign(new Error(payload), { payload });

export function createMockHost(options: MockHostOptions = {}): MockHost {
  const context: ContextData = {
    tenantId: 'tenant-test',
    extensionId: 'extension-test',
    installId: 'install-test',
    ...options.context,
  };
  const config = options.config ?? {};
  const secrets = options.secrets ?? {};
  const logs: MockHost['logs'] = [];
  installHost({
    context: {
      getContext: () => ({ ...context, requestId: context.requestId ?? 'request-test' }),
    },
    config: {
      get: (key) => (Object.hasOwn(config, key) ? JSON.stringify(config[key]) : undefined),
      getAll: () => JSON.stringify(config),
    },
    secrets: {
      get: (key) => {
        if (options.denySecrets) throw witError('denied');
        if (!Object.hasOwn(secrets, key)) throw witError('missing');
        return secrets[key]!;
      },
      listKeys: () => (options.denySecrets ? [] : Object.keys(secrets)),
    },
    logging: {
      logInfo: (message) => void logs.push({ level: 'info', message }),
      logWarn: (message) => void logs.push({ level: 'warn', message }),
      logError: (message) => void logs.push({ level: 'error', message }),
    },
  });
  return {
    logs,
    async invoke(handler, request = {}) {
      const body = typeof request.body === 'string' ? new TextEncoder().encode(request.body) : request.body;
      const response = await handler({
        context: { ...context, requestId: 'request-test' },
        http: {
          method: request.method ?? 'GET',
          url: request.path ?? '/',
          headers: Object.entries(request.headers ?? {}).map(([name, value]) => ({ name, value })),
          body,
        },
      });
      const headers = Object.fromEntries(response.headers.map(({ name, value }) => [name.toLowerCase(), value]));
      const text = () => (response.body ? new TextDecoder().decode(response.body) : '');
      return { status: response.status, headers, body: response.body, text, json: <T>() => JSON.parse(text()) as T };
    },
  };
}
