import type { ExecuteRequest, ExecuteResponse } from 'alga:extension/types@0.3.0';
import { createCtx, type Ctx, type RuntimeCtx } from './context.ts';
import type { CapabilityId, DeclaredCapability, DeclaredConfig, DeclaredSecretKey } from './types.ts';
import { host, WARM_UP, WARM_UP_HEADER } from './host.ts';
import { json, type ExtensionResponse } from './response.ts';

export interface ExtensionRequest {
  method: string;
  /** Path below the extension's mount point, e.g. `/hello`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  text(): string;
  json<T = unknown>(): T;
}

export type Handler<
  Config extends Record<string, unknown> = DeclaredConfig,
  SecretKey extends string = DeclaredSecretKey,
  Caps extends CapabilityId = DeclaredCapability,
> = (request: ExtensionRequest, ctx: Ctx<Config, SecretKey, Caps>) => ExtensionResponse | Promise<ExtensionResponse>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Wraps an async handler into the component's `handler` export:
 *
 *   export const handler = createHandler(async (request, ctx) => {
 *     const token = await ctx.secrets.get('api_token');
 *     return json({ ok: true });
 *   });
 *
 * The type parameters default to the types `alga build` generates from
 * manifest.json (`.alga/types.d.ts`), so they rarely need spelling out.
 */
export function createHandler<
  Config extends Record<string, unknown> = DeclaredConfig,
  SecretKey extends string = DeclaredSecretKey,
  Caps extends CapabilityId = DeclaredCapability,
>(fn: Handler<Config, SecretKey, Caps>): (request: ExecuteRequest) => Promise<ExecuteResponse> {
  // The runtime object has every member; the generated types decide which the author may use.
  const handler = (raw: ExecuteRequest) => serve(raw, fn as unknown as RuntimeHandler);
  // The runner's warm-up call (wit/README.md, "Warm-up") takes the same
  // path with a built-in handler, so the extension's code never runs in it.
  Object.defineProperty(handler, WARM_UP, { value: (raw: ExecuteRequest) => serve(raw, warmUpHandler) });
  return handler;
}

type RuntimeHandler = (request: ExtensionRequest, ctx: RuntimeCtx) => ExtensionResponse | Promise<ExtensionResponse>;

async function serve(raw: ExecuteRequest, fn: RuntimeHandler): Promise<ExecuteResponse> {
  const runtime = createCtx(requestContext(raw));
  let response: ExtensionResponse;
  try {
    response = await fn(toRequest(raw), runtime);
  } catch (error) {
    // An uncaught error is the extension's bug: log it (the runner masks
    // secret values in log lines) and answer a generic 500.
    runtime.log.error(`Unhandled error: ${describeError(error)}`);
    response = json({ error: 'internal_error' }, { status: 500 });
  }
  return toExecuteResponse(response);
}

/**
 * What an uncaught error's log line says: its name and message, then its
 * stack. V8's stack starts with "Name: message"; SpiderMonkey's (the built
 * component's runtime) lists only the frames, so the message is added.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    if (typeof error !== 'object' || error === null) return String(error);
    try {
      return JSON.stringify(error) ?? String(error);
    } catch {
      return String(error);
    }
  }
  const head = error.message ? `${error.name}: ${error.message}` : error.name;
  const stack = typeof error.stack === 'string' ? error.stack.trimEnd() : '';
  if (!stack) return head;
  return stack.startsWith(head) ? stack : `${head}\n${stack}`;
}

/**
 * The request's ids. The request record carries them, the same
 * `context-data` that `get-context` returns, so the host is asked only
 * when the record lacks the install id (a host that fills it in only
 * through the import). Each host call costs the binding's bookkeeping.
 */
function requestContext(raw: ExecuteRequest): ExecuteRequest['context'] {
  if (raw.context.installId !== undefined) return raw.context;
  const context = host().context?.getContext();
  return context ? { ...raw.context, ...context } : raw.context;
}

/**
 * What a typical handler does, against the warm-up's empty host: read the
 * request and the config, ask for a secret (the host answers `missing`),
 * log a line (dropped) and build a JSON response. Every failure is expected.
 */
const warmUpHandler: RuntimeHandler = async (request, runtime) => {
  void request.query.get('warm-up');
  try {
    void runtime.config.all();
  } catch {
    // ConfigError: the extension did not declare cap:context.read.
  }
  await runtime.secrets.get('alga-warm-up').catch(() => undefined);
  await warmUpWebCrypto().catch(() => undefined);
  runtime.log.info('warm-up');
  void json({ warmUp: true });
  return { status: 204, headers: { [WARM_UP_HEADER]: 'done' } };
};

/**
 * The engine sets up its crypto library on the first Web Crypto call: ~3 ms of CPU that a
 * reset would make every request pay again (docs/perf/046). A digest and an HMAC put it in
 * the snapshot. Nothing here draws random bytes, so no generator state is snapshotted.
 */
async function warmUpWebCrypto(): Promise<void> {
  const data = new TextEncoder().encode('warm-up');
  await crypto.subtle.digest('SHA-256', data);
  const key = await crypto.subtle.importKey('raw', data, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  await crypto.subtle.sign('HMAC', key, data);
}

// The guest runs in SpiderMonkey's interpreter, where `for…of`, array
// destructuring and Array.prototype.map go through self-hosted JavaScript:
// the per-request code below uses index loops instead (docs/perf/044).
function toRequest(raw: ExecuteRequest): ExtensionRequest {
  const url = raw.http.url;
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  const given = raw.http.headers;
  for (let i = 0; i < given.length; i++) headers[given[i]!.name.toLowerCase()] = given[i]!.value;
  const body = raw.http.body;
  let query: URLSearchParams | undefined;
  return {
    method: raw.http.method.toUpperCase(),
    path: q === -1 ? url : url.slice(0, q),
    // Parsed on first use: most handlers never read it.
    get query() {
      return (query ??= new URLSearchParams(q === -1 ? '' : url.slice(q + 1)));
    },
    set query(value) {
      query = value;
    },
    headers,
    body,
    text: () => (body ? decoder.decode(body) : ''),
    // An empty body (a POST without one arrives as zero bytes) reads as null, as no body does.
    json: <T>() => JSON.parse(body?.length ? decoder.decode(body) : 'null') as T,
  };
}

function toExecuteResponse(response: ExtensionResponse): ExecuteResponse {
  const status = response.status ?? 200;
  // A 1xx is an interim answer, not a response: the host refuses it too.
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`Response status must be an integer from 200 to 599, got ${String(status)}.`);
  }
  const body = response.body;
  return {
    status,
    headers: toHeaderList(response.headers),
    body: body === undefined ? undefined : typeof body === 'string' ? encoder.encode(body) : body,
  };
}

function toHeaderList(headers: Record<string, string> | undefined): ExecuteResponse['headers'] {
  const list: ExecuteResponse['headers'] = [];
  if (!headers) return list;
  const names = Object.keys(headers);
  for (let i = 0; i < names.length; i++) list.push({ name: names[i]!, value: String(headers[names[i]!]) });
  return list;
}
