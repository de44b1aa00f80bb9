/**
 * The UI proxy's `__method` override, as the reference host's
 * `/api/ext-proxy` honours it (REFERENCE-HOST.md §3): an iframe's bridge can
 * only POST, so a POST may name the method it stands for in the query
 * (`?__method=DELETE`) or as a field of its JSON object body. The query wins.
 * The field is removed before the guest sees the request; an override to
 * GET drops the body, and a JSON body left empty is dropped too.
 */

export const METHOD_OVERRIDE_FIELD = '__method';

const OVERRIDABLE = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

export interface ProxiedRequest {
  method: string;
  /** Raw query string without `?`. */
  query: string;
  body: Buffer | undefined;
}

function methodOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return OVERRIDABLE.has(upper) ? upper : undefined;
}

function jsonObject(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body || body.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The request the guest sees after the override; anything but a POST is left as it is. */
export function applyMethodOverride(request: ProxiedRequest): ProxiedRequest {
  if (request.method !== 'POST') return request;
  const params = new URLSearchParams(request.query);
  const fromQuery = methodOf(params.get(METHOD_OVERRIDE_FIELD));
  const parsed = jsonObject(request.body);
  const fromBody =
    parsed && Object.hasOwn(parsed, METHOD_OVERRIDE_FIELD) ? methodOf(parsed[METHOD_OVERRIDE_FIELD]) : undefined;
  const method = fromQuery ?? fromBody;
  if (!method) return request;
  let query = request.query;
  if (fromQuery) {
    params.delete(METHOD_OVERRIDE_FIELD);
    query = params.toString();
  }
  if (method === 'GET') return { method, query, body: undefined };
  if (parsed && fromBody) {
    const { [METHOD_OVERRIDE_FIELD]: _dropped, ...rest } = parsed;
    const body = Object.keys(rest).length > 0 ? Buffer.from(JSON.stringify(rest), 'utf8') : undefined;
    return { method, query, body };
  }
  return { method, query, body: request.body };
}
