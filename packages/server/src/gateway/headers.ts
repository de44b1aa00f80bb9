/**
 * What crosses the gateway in each direction. Allowlists, not blocklists:
 * a header nobody thought about (a new auth scheme, a tracing header with a
 * tenant id) stays on its side of the gateway by default.
 */
import { isSendableHeader } from '@alga-psa/protocol';

/** Client headers the guest may see. Never `authorization` or `cookie`. */
export const REQUEST_HEADER_ALLOWLIST: readonly string[] = [
  'accept',
  'accept-language',
  'content-type',
  'if-match',
  'if-none-match',
  'user-agent',
];

/** Guest response headers relayed to the client; `x-ext-*` is the guest's own namespace. */
export const RESPONSE_HEADER_ALLOWLIST: ReadonlySet<string> = new Set([
  'cache-control',
  'content-disposition',
  'content-language',
  'content-type',
  'etag',
  'expires',
  'last-modified',
  'link',
  'location',
  'retry-after',
  'vary',
]);
const RESPONSE_HEADER_PREFIX = 'x-ext-';

export function requestHeadersForGuest(
  incoming: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of REQUEST_HEADER_ALLOWLIST) {
    const value = incoming[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

/**
 * Set on every guest response: what an extension answers is never a document
 * of the platform's origin. A guest's `text/html` opens sandboxed (an opaque
 * origin, no script), so it cannot reach the signed-in admin's session, and
 * the browser does not sniff a body into an active type.
 */
export const GUEST_RESPONSE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "sandbox; default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
};

/** Filters the guest's headers; the version stamps the gateway sets itself cannot be spoofed by a guest. */
export function responseHeadersForClient(fromGuest: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(fromGuest)) {
    const name = rawName.toLowerCase();
    // CR/LF would inject headers, a NUL or non-Latin-1 character makes Node throw: drop what it cannot send.
    if (!isSendableHeader(name, value)) continue;
    if (RESPONSE_HEADER_ALLOWLIST.has(name) || name.startsWith(RESPONSE_HEADER_PREFIX)) headers[name] = value;
  }
  return headers;
}
