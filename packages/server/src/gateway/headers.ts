/**
 * What crosses the gateway in each direction. Allowlists, not blocklists:
 * a header nobody thought about (a new auth scheme, a tracing header with a
 * tenant id) stays on its side of the gateway by default.
 */

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

/** Filters the guest's headers; the version stamps the gateway sets itself cannot be spoofed by a guest. */
export function responseHeadersForClient(fromGuest: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(fromGuest)) {
    const name = rawName.toLowerCase();
    // CR/LF would let a guest inject headers; Node refuses them, but filter before it throws.
    if (/[\r\n]/.test(value)) continue;
    if (RESPONSE_HEADER_ALLOWLIST.has(name) || name.startsWith(RESPONSE_HEADER_PREFIX)) headers[name] = value;
  }
  return headers;
}
