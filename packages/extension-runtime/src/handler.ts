import type { ExecuteRequest, ExecuteResponse } from 'alga:extension/types@0.1.0';
import { createCtx, type Ctx } from './context.ts';
import type { CapabilityId, DeclaredCapability, DeclaredConfig, DeclaredSecretKey } from './types.ts';
import { host } from './host.ts';
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
  return async (raw) => {
    const context = host().context?.getContext() ?? {
      tenantId: raw.context.tenantId,
      extensionId: raw.context.extensionId,
    };
    const runtime = createCtx({ ...raw.context, ...context });
    // The runtime object has every member; the generated types decide which the author may use.
    const ctx = runtime as unknown as Ctx<Config, SecretKey, Caps>;
    let response: ExtensionResponse;
    try {
      response = await fn(toRequest(raw), ctx);
    } catch (error) {
      // An uncaught error is the extension's bug: log it (the runner masks
      // secret values in log lines) and answer a generic 500.
      runtime.log.error(`Unhandled error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      response = json({ error: 'internal_error' }, { status: 500 });
    }
    return toExecuteResponse(response);
  };
}

function toRequest(raw: ExecuteRequest): ExtensionRequest {
  const url = raw.http.url;
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const { name, value } of raw.http.headers) headers[name.toLowerCase()] = value;
  const body = raw.http.body;
  return {
    method: raw.http.method.toUpperCase(),
    path: q === -1 ? url : url.slice(0, q),
    query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
    headers,
    body,
    text: () => (body ? decoder.decode(body) : ''),
    json: <T>() => JSON.parse(body ? decoder.decode(body) : 'null') as T,
  };
}

function toExecuteResponse(response: ExtensionResponse): ExecuteResponse {
  const status = response.status ?? 200;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`Response status must be an integer from 100 to 599, got ${String(status)}.`);
  }
  const body = response.body;
  return {
    status,
    headers: Object.entries(response.headers ?? {}).map(([name, value]) => ({ name, value: String(value) })),
    body: body === undefined ? undefined : typeof body === 'string' ? encoder.encode(body) : body,
  };
}
