import type { ExecuteRequest, ExecuteResponse, HttpHeader } from 'alga:extension/types@0.3.0';
import { encodeValue } from './body.ts';
import type { ContextData, User } from './context.ts';
import { allowedHostsEntryFor } from './errors.ts';
import { installHost, type Host } from './host.ts';
import type { CapabilityId } from './types.ts';

/**
 * An in-memory host for unit tests: no wasm, no runner. It speaks the same
 * contract as the runner (the WIT functions, their error cases, u64
 * revisions as bigint), so a handler that passes here behaves the same
 * inside a component.
 */
export interface MockHostOptions {
  context?: Partial<ContextData>;
  /**
   * The extension's manifest (or the parts of it the mock reads): its
   * capabilities decide which host interfaces exist, its `allowedHosts`
   * limit `ctx.http.fetch`, and its setting defaults seed the config.
   */
  manifest?: {
    capabilities?: string[];
    allowedHosts?: string[];
    settings?: { key: string; default?: unknown; secret?: boolean; egress?: string[] }[];
  };
  /** Overrides (or, without a manifest, is) the install's config. */
  config?: Record<string, unknown>;
  secrets?: Record<string, string>;
  /** Simulate an install that was not granted the secrets capability. */
  denySecrets?: boolean;
  /** Capabilities the install was not granted: their interfaces answer `denied`. */
  deny?: CapabilityId[];
  /** Initial storage values of the default namespace (encoded like `ctx.storage.put`). */
  storage?: Record<string, unknown>;
  /** Entries per `list()` page (default 100). */
  storagePageSize?: number;
  /**
   * Runs before each guest `put` is applied: a test can write through
   * `host.storage.set` here to simulate a concurrent writer.
   */
  onStoragePut?: (entry: { namespace: string; key: string }) => void;
  /**
   * Mock outbound HTTP: keys are `"<METHOD> <url>"` or `"<url>"` (any method),
   * the URL without its query string; values are an answer or a function of
   * the request. Unmatched calls get a 404 saying which route is missing.
   */
  http?: Record<string, MockHttpAnswer | ((request: MockHttpRequest) => MockHttpAnswer)>;
  /** Make every outbound call fail with this WIT error (e.g. `transport`). */
  httpError?: 'not-allowed' | 'invalid-url' | 'transport' | 'internal';
  /** UI-proxy routes the host offers: route → handler of the decoded payload. */
  uiProxy?: Record<string, (payload: Uint8Array | undefined) => unknown>;
  /** The signed-in user; `null` or absent means an API-key call (no user). */
  user?: User | null;
}

export interface MockHttpAnswer {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Sent as JSON with `content-type: application/json`. */
  json?: unknown;
}

export interface MockHttpRequest {
  method: string;
  url: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  text(): string;
  json<T = unknown>(): T;
}

export interface MockResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  text(): string;
  json<T = unknown>(): T;
}

export interface MockStorage {
  /** The stored value as text and its revision, or undefined. */
  get(key: string, namespace?: string): { value: string; revision: bigint } | undefined;
  /** Writes like another request would (bumps the revision); returns the new revision. */
  set(key: string, value: unknown, namespace?: string): bigint;
  /** Every `namespace/key` stored, sorted. */
  keys(): string[];
}

export interface MockHost {
  readonly logs: { level: 'info' | 'warn' | 'error'; message: string }[];
  /** Every outbound HTTP request the handler made, in order. */
  readonly requests: MockHttpRequest[];
  readonly storage: MockStorage;
  /** The WIT-level functions this mock answers with (`alga test` puts them behind the real runner's grant checks). */
  readonly host: Host;
  invoke(
    handler: (request: ExecuteRequest) => Promise<ExecuteResponse> | ExecuteResponse,
    request?: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Uint8Array },
  ): Promise<MockResponse>;
}

const witError = (payload: string | { tag: string; val?: string }) =>
  Object.assign(new Error(typeof payload === 'string' ? payload : payload.tag), { payload });

const HANDLE_PATTERN = /alga-secret-handle(?::|%3[Aa])[A-Za-z0-9_-]{43}/g;
const canonical = (match: string) => match.replace(/%3[Aa]/, ':');

/**
 * A secret's `egress` entry as the runner matches it (protocol's
 * secret-egress.ts; the SDK does not depend on protocol): HTTPS unless
 * `http://` is written, exact host, port 443/80 unless given.
 */
function egressMatches(entry: string, url: URL): boolean {
  const match = /^(?:(https?):\/\/)?([^/:]+|\[[^\]]+\])(?::(\d+))?$/.exec(entry);
  if (!match) return false;
  const protocol = match[1] === 'http' ? 'http:' : 'https:';
  const port = match[3] ?? (protocol === 'http:' ? '80' : '443');
  const urlPort = url.port || (url.protocol === 'http:' ? '80' : '443');
  const host = URL.parse(`${protocol}//${match[2]!}`)?.hostname;
  return url.protocol === protocol && url.hostname.replace(/\.$/, '') === host && urlPort === port;
}

function randomHandle(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `alga-secret-handle:${Buffer.from(bytes).toString('base64url')}`;
}
const decoder = new TextDecoder();
const ALL_CAPABILITIES: CapabilityId[] = [
  'cap:context.read',
  'cap:secrets.get',
  'cap:http.fetch',
  'cap:storage.kv',
  'cap:log.emit',
  'cap:ui.proxy',
  'cap:user.read',
];

type StoredValue = { value: Uint8Array; revision: bigint };

export function createMockHost(options: MockHostOptions = {}): MockHost {
  const context: ContextData = {
    tenantId: 'tenant-test',
    extensionId: 'extension-test',
    installId: 'install-test',
    ...options.context,
  };
  const defaults: Record<string, unknown> = {};
  for (const setting of options.manifest?.settings ?? []) {
    if (!setting.secret && setting.default !== undefined) defaults[setting.key] = setting.default;
  }
  const config = { ...defaults, ...options.config };
  const secrets = options.secrets ?? {};
  // The same rule as the build: context and logging are always there.
  const declared = new Set<string>(
    options.manifest?.capabilities
      ? [...options.manifest.capabilities, 'cap:context.read', 'cap:log.emit']
      : ALL_CAPABILITIES,
  );
  const denied = new Set<string>(options.deny ?? []);
  if (options.denySecrets) denied.add('cap:secrets.get');
  const logs: MockHost['logs'] = [];
  const requests: MockHttpRequest[] = [];
  const egressOf = (key: string): string[] | undefined =>
    options.manifest?.settings?.find((setting) => setting.key === key && setting.secret)?.egress;
  // Handles minted by this mock: handle → key, and the values sent (masked in responses).
  const handles = new Map<string, string>();
  const sentValues = new Set<string>();

  // Storage: namespace → key → value; one revision counter per install, like a database sequence.
  const data = new Map<string, Map<string, StoredValue>>();
  let revisionCounter = 0n;
  const bucket = (namespace: string) => {
    let map = data.get(namespace);
    if (!map) data.set(namespace, (map = new Map()));
    return map;
  };
  const write = (namespace: string, key: string, value: unknown): bigint => {
    revisionCounter += 1n;
    bucket(namespace).set(key, { value: encodeValue(value).bytes, revision: revisionCounter });
    return revisionCounter;
  };
  for (const [key, value] of Object.entries(options.storage ?? {})) write('default', key, value);
  const pageSize = options.storagePageSize ?? 100;

  const allowed = (url: string): boolean => {
    const list = options.manifest?.allowedHosts;
    if (!list) return true;
    const parsed = URL.parse(url);
    if (!parsed) return false;
    return list.some((entry) => {
      const withScheme = /^https?:\/\//.test(entry) ? entry : `https://${entry}`;
      const rule = URL.parse(withScheme.replace('://*.', '://wildcard.'));
      if (!rule || rule.protocol !== parsed.protocol) return false;
      const wildcard = withScheme.includes('://*.');
      const hostOk = wildcard
        ? parsed.hostname.endsWith(rule.hostname.slice('wildcard'.length))
        : parsed.hostname === rule.hostname;
      return hostOk && rule.port === parsed.port && parsed.pathname.startsWith(rule.pathname);
    });
  };

  const gate = <T extends object>(cap: CapabilityId, impl: T, deniedCase: string): T | undefined => {
    if (!declared.has(cap)) return undefined;
    if (!denied.has(cap)) return impl;
    return new Proxy(impl, {
      get: (target, prop) =>
        typeof target[prop as keyof T] === 'function'
          ? () => {
              throw witError(deniedCase);
            }
          : target[prop as keyof T],
    });
  };

  type HttpRequestIn = { method: string; url: string; headers: HttpHeader[]; body?: Uint8Array };
  /** The mock's outbound call: allowedHosts, secret handles (substituted only for their egress hosts), the route. */
  const fetchMock = (given: HttpRequestIn, fail: (code: string, secret?: string) => Error) => {
    const parsed = URL.parse(given.url);
    if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) throw fail('invalid-url');
    if (!allowed(given.url)) throw fail('not-allowed');
    if (options.httpError) throw fail(options.httpError);
    const bodyText = given.body ? Buffer.from(given.body).toString('latin1') : '';
    const carried = new Set<string>();
    for (const text of [given.url, ...given.headers.map((h) => h.value), bodyText]) {
      for (const [found] of text.matchAll(HANDLE_PATTERN))
        if (handles.has(canonical(found))) carried.add(canonical(found));
    }
    for (const handle of carried) {
      const key = handles.get(handle)!;
      if (!(egressOf(key) ?? []).some((entry) => egressMatches(entry, parsed))) throw fail('not-allowed', key);
    }
    for (const handle of carried) sentValues.add(secrets[handles.get(handle)!]!);
    // As the runner: percent-encoded in a URL or where the handle was, raw elsewhere.
    const put = (text: string, inUrl: boolean, encode: (value: string) => string = (v) => v) =>
      text.replace(HANDLE_PATTERN, (match) => {
        const key = handles.get(canonical(match));
        if (key === undefined) return match;
        return encode(inUrl || match.includes('%') ? encodeURIComponent(secrets[key]!) : secrets[key]!);
      });
    const request: HttpRequestIn = {
      method: given.method,
      url: put(given.url, true),
      headers: given.headers.map((h) => ({ name: h.name, value: put(h.value, false) })),
      ...(given.body
        ? {
            body: Buffer.from(
              put(bodyText, false, (v) => Buffer.from(v, 'utf8').toString('latin1')),
              'latin1',
            ),
          }
        : {}),
    };
    const answered = routeAnswer(request, parsed);
    if (sentValues.size === 0) return answered;
    // Echoes of a sent value never reach the handler, as on the runner.
    const mask = (text: string) => {
      let out = text;
      for (const value of sentValues) out = out.split(value).join('[REDACTED]');
      return out;
    };
    return {
      status: answered.status,
      headers: answered.headers.map((h) => ({ name: h.name, value: mask(h.value) })),
      body: answered.body ? new TextEncoder().encode(mask(decoder.decode(answered.body))) : undefined,
    };
  };
  const routeAnswer = (request: HttpRequestIn, parsed: URL) => {
    const headers = Object.fromEntries(request.headers.map((h) => [h.name.toLowerCase(), h.value]));
    const recorded: MockHttpRequest = {
      method: request.method,
      url: request.url,
      headers,
      body: request.body,
      text: () => (request.body ? decoder.decode(request.body) : ''),
      json: <T>() => JSON.parse(request.body ? decoder.decode(request.body) : 'null') as T,
    };
    requests.push(recorded);
    const bare = `${parsed.origin}${parsed.pathname}`;
    const route =
      options.http?.[`${request.method} ${bare}`] ??
      options.http?.[bare] ??
      options.http?.[`${request.method} ${request.url}`] ??
      options.http?.[request.url];
    if (!route) {
      return {
        status: 404,
        headers: [{ name: 'content-type', value: 'text/plain' }],
        body: new TextEncoder().encode(`createMockHost: no mock route for ${request.method} ${bare}`),
      };
    }
    const answer = typeof route === 'function' ? route(recorded) : route;
    const answerHeaders = { ...answer.headers };
    let body: Uint8Array | undefined;
    if (answer.json !== undefined) {
      body = new TextEncoder().encode(JSON.stringify(answer.json));
      answerHeaders['content-type'] ??= 'application/json';
    } else if (answer.body !== undefined) {
      body = encodeValue(answer.body).bytes;
    }
    return {
      status: answer.status ?? 200,
      headers: Object.entries(answerHeaders).map(([name, value]) => ({ name, value })),
      body,
    };
  };

  const host: Host = {
    context: {
      getContext: () => ({ ...context, requestId: context.requestId ?? 'request-test' }),
    },
    config: {
      get: (key) => (Object.hasOwn(config, key) ? JSON.stringify(config[key]) : undefined),
      getAll: () => JSON.stringify(config),
    },
    secrets: gate(
      'cap:secrets.get',
      {
        get: (key: string) => {
          if (!Object.hasOwn(secrets, key)) throw witError('missing');
          if (egressOf(key)) throw witError('denied');
          return secrets[key]!;
        },
        listKeys: () => (denied.has('cap:secrets.get') ? [] : Object.keys(secrets)),
        handle: (key: string) => {
          if (!Object.hasOwn(secrets, key)) throw witError('missing');
          if (!egressOf(key)) throw witError('denied');
          for (const [handle, owner] of handles) if (owner === key) return handle;
          const handle = randomHandle();
          handles.set(handle, key);
          return handle;
        },
        egressHosts: (key: string) => (denied.has('cap:secrets.get') ? [] : (egressOf(key) ?? [])),
      },
      'denied',
    ),
    logging: {
      logInfo: (message) => void logs.push({ level: 'info', message }),
      logWarn: (message) => void logs.push({ level: 'warn', message }),
      logError: (message) => void logs.push({ level: 'error', message }),
    },
    http: gate(
      'cap:http.fetch',
      {
        fetch: (request: HttpRequestIn) => fetchMock(request, (code) => witError(code)),
        fetchV2: (request: HttpRequestIn) =>
          fetchMock(request, (code, secret) =>
            witError(secret !== undefined ? { tag: 'secret-not-allowed', val: secret } : { tag: code }),
          ),
      },
      'not-allowed',
    ),
    storage: gate(
      'cap:storage.kv',
      {
        get: (namespace: string, key: string) => {
          const found = bucket(namespace).get(key);
          if (!found) throw witError('missing');
          return { namespace, key, value: found.value, revision: found.revision };
        },
        put: (entry: { namespace: string; key: string; value: Uint8Array; revision?: bigint }) => {
          options.onStoragePut?.({ namespace: entry.namespace, key: entry.key });
          const current = bucket(entry.namespace).get(entry.key);
          if (entry.revision !== undefined && (current?.revision ?? 0n) !== entry.revision) throw witError('conflict');
          const revision = write(entry.namespace, entry.key, entry.value);
          return { ...entry, revision };
        },
        delete: (namespace: string, key: string) => {
          if (!bucket(namespace).delete(key)) throw witError('missing');
        },
        listEntries: (namespace: string, cursor: string | undefined) => listPage(namespace, cursor).entries,
        listPage: (namespace: string, cursor: string | undefined) => listPage(namespace, cursor),
      },
      'denied',
    ),
    uiProxy: gate(
      'cap:ui.proxy',
      {
        callRoute: (route: string, payload: Uint8Array | undefined) => {
          const handler = options.uiProxy?.[route];
          if (!handler) throw witError('route-not-found');
          return encodeValue(handler(payload) ?? '').bytes;
        },
      },
      'denied',
    ),
    user: gate(
      'cap:user.read',
      {
        getUser: () => {
          if (!options.user) throw witError('not-available');
          return options.user;
        },
      },
      'not-allowed',
    ),
  };

  function listPage(namespace: string, cursor: string | undefined) {
    const keys = [...bucket(namespace).keys()].sort();
    const start = cursor ? keys.findIndex((k) => k > cursor) : 0;
    const slice = start === -1 ? [] : keys.slice(start, start + pageSize);
    const entries = slice.map((key) => {
      const found = bucket(namespace).get(key)!;
      return { namespace, key, value: found.value, revision: found.revision };
    });
    const last = slice.at(-1);
    const more = start !== -1 && start + pageSize < keys.length;
    return { entries, nextCursor: more ? last : undefined };
  }

  installHost(host);
  return {
    logs,
    requests,
    host,
    storage: {
      get(key, namespace = 'default') {
        const found = bucket(namespace).get(key);
        return found ? { value: decoder.decode(found.value), revision: found.revision } : undefined;
      },
      set: (key, value, namespace = 'default') => write(namespace, key, value),
      keys: () => [...data].flatMap(([ns, map]) => [...map.keys()].map((key) => `${ns}/${key}`)).sort(),
    },
    async invoke(handler, request = {}) {
      // Several mock hosts may live in one test file: the one invoked is the one in effect.
      installHost(host);
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
      const text = () => (response.body ? decoder.decode(response.body) : '');
      return { status: response.status, headers, body: response.body, text, json: <T>() => JSON.parse(text()) as T };
    },
  };
}

export { allowedHostsEntryFor };
