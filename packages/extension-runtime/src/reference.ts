/**
 * The reference host's guest SDK surface (`@alga-psa/extension-runtime` 0.3.0
 * on npm): its request/response types, `HostBindings`, and helpers, with the
 * same behaviour, so code written as `handler(request, host)` for the
 * reference host runs here unchanged. `createHostBindings()` is ours: the
 * reference leaves wiring the host to each extension.
 *
 * Three of its names collide with this SDK's own (`Handler`, `ContextData`,
 * `UserError`); the package root exports them as `ReferenceHandler`,
 * `ReferenceContextData` and `ReferenceUserError`, and
 * `@alga-psa/extension-runtime/reference` exports every name as 0.3.0 spells it.
 */
import { host as installedHost } from './host.ts';

export interface ContextData {
  requestId?: string | null;
  tenantId: string;
  extensionId: string;
  installId?: string | null;
  versionId?: string | null;
  config?: Record<string, string>;
}

export interface HttpHeader {
  name: string;
  value: string;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers: HttpHeader[];
  body?: Uint8Array | null;
}

export interface HttpResponse {
  status: number;
  headers: HttpHeader[];
  body?: Uint8Array | null;
}

export interface ExecuteRequest {
  context: ContextData;
  http: HttpRequest;
}

export interface ExecuteResponse {
  status: number;
  headers?: HttpHeader[];
  body?: Uint8Array | null;
}

export interface SecretsHost {
  get(key: string): Promise<string>;
  list(): Promise<string[]>;
}

export interface HttpHost {
  fetch(request: HttpRequest): Promise<HttpResponse>;
}

export interface StorageHost {
  get(namespace: string, key: string): Promise<Uint8Array | null>;
  put(entry: { namespace: string; key: string; value: Uint8Array; revision?: number | null }): Promise<void>;
  delete(namespace: string, key: string): Promise<void>;
  list(namespace: string): Promise<Array<{ key: string; value: Uint8Array; revision?: number | null }>>;
}

export interface LoggingHost {
  info(message: string): Promise<void>;
  warn(message: string): Promise<void>;
  error(message: string): Promise<void>;
}

export interface UiProxyHost {
  callRoute(route: string, payload?: Uint8Array | null): Promise<Uint8Array>;
  call?(route: string, payload?: Uint8Array | null): Promise<Uint8Array>;
}

export interface ScheduleInfo {
  id: string;
  endpointPath: string;
  endpointMethod: string;
  name?: string | null;
  cron: string;
  timezone: string;
  enabled: boolean;
  payload?: unknown;
  lastRunAt?: string | null;
  lastRunStatus?: string | null;
  lastError?: string | null;
  createdAt?: string | null;
}

export interface EndpointInfo {
  id: string;
  method: string;
  path: string;
  handler: string;
  schedulable: boolean;
}

export interface CreateScheduleInput {
  endpoint: string;
  cron: string;
  timezone?: string;
  enabled?: boolean;
  name?: string;
  payload?: unknown;
}

export interface CreateScheduleResult {
  success: boolean;
  scheduleId?: string;
  error?: string;
  fieldErrors?: Record<string, string>;
}

export interface UpdateScheduleInput {
  endpoint?: string;
  cron?: string;
  timezone?: string;
  enabled?: boolean;
  name?: string | null;
  payload?: unknown;
}

export interface UpdateScheduleResult {
  success: boolean;
  error?: string;
  fieldErrors?: Record<string, string>;
}

export interface DeleteScheduleResult {
  success: boolean;
  error?: string;
}

/** The reference's scheduler API. This platform does not provide scheduling: every call is refused. */
export interface SchedulerHost {
  list(): Promise<ScheduleInfo[]>;
  get(scheduleId: string): Promise<ScheduleInfo | null>;
  create(input: CreateScheduleInput): Promise<CreateScheduleResult>;
  update(scheduleId: string, input: UpdateScheduleInput): Promise<UpdateScheduleResult>;
  delete(scheduleId: string): Promise<DeleteScheduleResult>;
  getEndpoints(): Promise<EndpointInfo[]>;
}

export interface UserData {
  tenantId: string;
  clientName: string;
  userId: string;
  userEmail: string;
  userName: string;
  userType: string;
}

/** The reference's `user-data-v2`: `user-data` plus the user's client and any extra fields. */
export interface UserDataV2 extends UserData {
  clientId?: string | null;
  additionalFields: Record<string, string>;
}

export type UserError = 'not-available' | 'not-allowed';

export interface UserHost {
  getUser(): Promise<UserData>;
}

export interface HostBindings {
  context: { get(): Promise<ContextData> };
  secrets: SecretsHost;
  http: HttpHost;
  storage: StorageHost;
  logging: LoggingHost;
  uiProxy: UiProxyHost;
  scheduler: SchedulerHost;
  user: UserHost;
}

export type Handler = (request: ExecuteRequest, host: HostBindings) => Promise<ExecuteResponse> | ExecuteResponse;

const encoder = new TextEncoder();

/** A JSON response; `content-type: application/json` unless `init.headers` says otherwise. Bytes pass through as they are. */
export function jsonResponse(body: unknown, init: Partial<ExecuteResponse> = {}): ExecuteResponse {
  return {
    status: init.status ?? 200,
    headers: init.headers ?? [{ name: 'content-type', value: 'application/json' }],
    body: body instanceof Uint8Array ? body : encoder.encode(JSON.stringify(body)),
  };
}

export function emptyResponse(status = 204): ExecuteResponse {
  return { status, headers: [], body: null };
}

/**
 * Calls a UI-proxy route with a JSON payload (none when `payload` is
 * undefined) and parses the JSON answer; an empty answer is `undefined`.
 */
export async function callProxyJson<T = unknown>(uiProxy: UiProxyHost, route: string, payload?: unknown): Promise<T> {
  const call = uiProxy.callRoute ?? uiProxy.call;
  if (!call) throw new Error('uiProxy host does not implement callRoute');
  const bytes = payload === undefined ? undefined : encoder.encode(JSON.stringify(payload));
  const text = new TextDecoder().decode(await call.call(uiProxy, route, bytes));
  return (text.length ? JSON.parse(text) : undefined) as T;
}

/** A user record as a host may hand it over: v1 or v2, extra fields as a record or as `[key, value]` pairs. */
export interface RawUserData extends Partial<UserData> {
  clientId?: string | null;
  additionalFields?: Record<string, unknown> | ReadonlyArray<readonly [string, unknown]> | null;
}

/**
 * One shape for the reference's `user-data` and `user-data-v2` records:
 * every string field present (empty when the host left it out), `clientId`
 * null when unknown, `additionalFields` a plain record of strings.
 */
export function normalizeUserData(raw: RawUserData): UserDataV2 {
  const extra = raw.additionalFields ?? {};
  const pairs: ReadonlyArray<readonly [string, unknown]> = Array.isArray(extra)
    ? (extra as ReadonlyArray<readonly [string, unknown]>)
    : Object.entries(extra);
  const additionalFields: Record<string, string> = {};
  for (const [key, value] of pairs) {
    if (typeof key === 'string' && value !== undefined && value !== null) additionalFields[key] = String(value);
  }
  return {
    tenantId: raw.tenantId ?? '',
    clientName: raw.clientName ?? '',
    userId: raw.userId ?? '',
    userEmail: raw.userEmail ?? '',
    userName: raw.userName ?? '',
    userType: raw.userType ?? '',
    clientId: raw.clientId ?? null,
    additionalFields,
  };
}

/** Bindings for unit tests: harmless defaults, any part replaced by `overrides` (merged per interface). */
export function createMockHostBindings(overrides: Partial<HostBindings> = {}): HostBindings {
  const notImplemented = (what: string) => async (): Promise<never> => {
    throw new Error(`mock ${what} not implemented`);
  };
  const defaults: HostBindings = {
    context: { get: async () => ({ tenantId: 'tenant-mock', extensionId: 'extension-mock', requestId: 'req-mock' }) },
    secrets: { get: notImplemented('secrets.get'), list: async () => [] },
    http: { fetch: notImplemented('http.fetch') },
    storage: {
      get: async () => null,
      put: async () => {},
      delete: async () => {},
      list: async () => [],
    },
    logging: {
      info: async (message) => {
        console.info('[mock logging]', message);
      },
      warn: async (message) => {
        console.warn('[mock logging]', message);
      },
      error: async (message) => {
        console.error('[mock logging]', message);
      },
    },
    uiProxy: { callRoute: notImplemented('uiProxy.callRoute'), call: notImplemented('uiProxy.call') },
    scheduler: {
      list: async () => [],
      get: async () => null,
      create: notImplemented('scheduler.create'),
      update: notImplemented('scheduler.update'),
      delete: notImplemented('scheduler.delete'),
      getEndpoints: async () => [],
    },
    user: {
      getUser: async () => ({
        tenantId: 'tenant-mock',
        clientName: 'Mock Client',
        userId: 'user-mock',
        userEmail: 'mock@example.com',
        userName: 'Mock User',
        userType: 'client',
      }),
    },
  };
  // Either spelling of the UI-proxy call serves for the other when only one is given.
  const uiProxy: UiProxyHost = { ...defaults.uiProxy, ...overrides.uiProxy };
  if (!uiProxy.callRoute && uiProxy.call) uiProxy.callRoute = uiProxy.call.bind(uiProxy);
  if (!uiProxy.call && uiProxy.callRoute) uiProxy.call = uiProxy.callRoute.bind(uiProxy);
  return {
    ...defaults,
    ...overrides,
    context: { ...defaults.context, ...overrides.context },
    secrets: { ...defaults.secrets, ...overrides.secrets },
    http: { ...defaults.http, ...overrides.http },
    storage: { ...defaults.storage, ...overrides.storage },
    logging: { ...defaults.logging, ...overrides.logging },
    uiProxy,
    scheduler: { ...defaults.scheduler, ...overrides.scheduler },
    user: { ...defaults.user, ...overrides.user },
  };
}

/**
 * The `alga:extension/*` imports `createHostBindings` wires, as componentize-js
 * hands them over (`import * as secrets from 'alga:extension/secrets'`).
 * Versioned (`…@0.1.0`) and unversioned imports have the same functions.
 */
export interface HostImports {
  context?: { getContext(): WitContextData };
  secrets?: { get(key: string): string; listKeys(): string[] };
  http?: { fetch(request: WitHttpRequest): WitHttpResponse };
  storage?: {
    get(namespace: string, key: string): WitStorageEntry;
    put(entry: WitStorageEntry): WitStorageEntry;
    delete(namespace: string, key: string): void;
    listEntries(namespace: string, cursor: string | undefined): WitStorageEntry[];
  };
  logging?: { logInfo(message: string): void; logWarn(message: string): void; logError(message: string): void };
  uiProxy?: { callRoute(route: string, payload: Uint8Array | undefined): Uint8Array };
  user?: { getUser(): UserData };
}

interface WitContextData {
  requestId?: string;
  tenantId: string;
  extensionId: string;
  installId?: string;
  versionId?: string;
}
interface WitHttpRequest {
  method: string;
  url: string;
  headers: HttpHeader[];
  body?: Uint8Array;
}
interface WitHttpResponse {
  status: number;
  headers: HttpHeader[];
  body?: Uint8Array;
}
interface WitStorageEntry {
  namespace: string;
  key: string;
  value: Uint8Array;
  revision?: bigint;
}

/** The WIT error case a binding threw (componentize-js throws `result` errors as a value carrying `payload`). */
function witCase(error: unknown): unknown {
  return error && typeof error === 'object' && 'payload' in error ? (error as { payload: unknown }).payload : undefined;
}

/**
 * `HostBindings` over the component's `alga:extension/*` imports, so
 * reference-style `handler(request, host)` code runs unchanged. Pass the
 * imports (`createHostBindings({ secrets, http, … })`), or nothing inside a
 * component built by `alga build`, whose entry hands the SDK the imports its
 * manifest unlocks. Host errors are rethrown as the bindings raised them
 * (a value whose `payload` is the WIT error case), as on the reference host.
 * An interface the component does not import rejects with an error naming
 * it; the scheduler always does, since this platform does not provide one.
 */
export function createHostBindings(imports?: HostImports): HostBindings {
  // Read per call: `alga build`'s entry installs the imports at the start of every request.
  const imported = (): HostImports => imports ?? (installedHost() as unknown as HostImports);
  const from = <K extends keyof HostImports>(
    key: K,
    iface: string,
    capability: string,
  ): NonNullable<HostImports[K]> => {
    const found = imported()[key];
    if (!found) {
      throw new Error(
        `alga:extension/${iface} is not imported by this component; declare "${capability}" in manifest.json's capabilities.`,
      );
    }
    return found as NonNullable<HostImports[K]>;
  };
  const noScheduler = async (): Promise<never> => {
    throw new Error('scheduler is not provided by this platform (not-allowed).');
  };
  return {
    context: {
      async get() {
        return { ...from('context', 'context', 'cap:context.read').getContext() };
      },
    },
    secrets: {
      get: async (key) => from('secrets', 'secrets', 'cap:secrets.get').get(key),
      list: async () => from('secrets', 'secrets', 'cap:secrets.get').listKeys(),
    },
    http: {
      async fetch(request) {
        const { body, ...rest } = request;
        return from('http', 'http', 'cap:http.fetch').fetch({ ...rest, body: body ?? undefined });
      },
    },
    storage: {
      async get(namespace, key) {
        try {
          return from('storage', 'storage', 'cap:storage.kv').get(namespace, key).value;
        } catch (error) {
          if (witCase(error) === 'missing') return null;
          throw error;
        }
      },
      async put(entry) {
        from('storage', 'storage', 'cap:storage.kv').put({
          namespace: entry.namespace,
          key: entry.key,
          value: entry.value,
          revision: entry.revision === undefined || entry.revision === null ? undefined : BigInt(entry.revision),
        });
      },
      async delete(namespace, key) {
        from('storage', 'storage', 'cap:storage.kv').delete(namespace, key);
      },
      async list(namespace) {
        return from('storage', 'storage', 'cap:storage.kv')
          .listEntries(namespace, undefined)
          .map((entry) => ({
            key: entry.key,
            value: entry.value,
            revision: entry.revision === undefined ? null : Number(entry.revision),
          }));
      },
    },
    logging: {
      // Logging is best-effort, as on the reference host: without the import the line is dropped.
      info: async (message) => {
        imported().logging?.logInfo(String(message));
      },
      warn: async (message) => {
        imported().logging?.logWarn(String(message));
      },
      error: async (message) => {
        imported().logging?.logError(String(message));
      },
    },
    uiProxy: {
      callRoute: async (route, payload) =>
        from('uiProxy', 'ui-proxy', 'cap:ui.proxy').callRoute(route, payload ?? undefined),
      call: async (route, payload) =>
        from('uiProxy', 'ui-proxy', 'cap:ui.proxy').callRoute(route, payload ?? undefined),
    },
    scheduler: {
      list: noScheduler,
      get: noScheduler,
      create: noScheduler,
      update: noScheduler,
      delete: noScheduler,
      getEndpoints: noScheduler,
    },
    user: {
      getUser: async () => ({ ...from('user', 'user', 'cap:user.read').getUser() }),
    },
  };
}

/**
 * The WIT record for a reference-style response: `headers` is optional in
 * the reference's TypeScript type but a list in the WIT record.
 */
export function toWitResponse(response: ExecuteResponse): {
  status: number;
  headers: HttpHeader[];
  body: Uint8Array | undefined;
} {
  return { status: response.status, headers: response.headers ?? [], body: response.body ?? undefined };
}
