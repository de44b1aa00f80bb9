/** Conversions between the protocol's execute messages and the WIT records. */
import {
  isGuestStatus,
  isSendableHeader,
  MAX_GUEST_HEADER_BYTES,
  type ExecuteRequest,
  type ExecuteResponse,
} from '@alga-psa/protocol';
import type {
  ExecuteRequest as WitExecuteRequest,
  ExecuteResponse as WitExecuteResponse,
} from '../../generated/interfaces/alga-extension-types.js';
import { errors } from '../errors.ts';
import { contextData } from '../wit-records.ts';

export type { WitExecuteRequest, WitExecuteResponse };

/** Connection-level headers a guest cannot meaningfully set on a proxied response. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

export function toWitRequest(request: ExecuteRequest): WitExecuteRequest {
  const { http } = request;
  return {
    context: contextData(request.context),
    http: {
      method: http.method,
      url: http.path + (http.query ? `?${http.query}` : ''),
      headers: Object.entries(http.headers).map(([name, value]) => ({ name, value })),
      body: http.body_b64 === null ? undefined : new Uint8Array(Buffer.from(http.body_b64, 'base64')),
    },
  };
}

/**
 * The guest's answer as the protocol carries it. Header values pass through
 * `mask` (the execution's secret values): a header is metadata that proxies
 * and clients log, so a secret never leaves in one. The body is the guest's
 * deliberate output and is passed through as is.
 */
export function toExecuteResponse(
  response: WitExecuteResponse,
  mask: (text: string) => string = (t) => t,
): ExecuteResponse {
  const { status } = response;
  if (!isGuestStatus(status)) throw errors.invalidStatus({ status });
  const headers: Record<string, string> = {};
  let bytes = 0;
  for (const { name, value } of response.headers) {
    const key = name.toLowerCase();
    if (HOP_BY_HOP.has(key)) continue;
    const safe = mask(value);
    // One the HTTP layer would refuse to send (a NUL, a character above U+00FF, a space in the name) is dropped, not a 500.
    if (!isSendableHeader(key, safe)) continue;
    // Latin-1 only by now: a character is a byte. Past the budget a client could not read the response.
    const size = key.length + safe.length + 4;
    if (bytes + size > MAX_GUEST_HEADER_BYTES) continue;
    bytes += size;
    // Repeated headers fold into one comma-separated value (RFC 9110 §5.3).
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]}, ${safe}` : safe;
  }
  const body = response.body;
  return {
    status,
    headers,
    body_b64: body === undefined ? null : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
  };
}
