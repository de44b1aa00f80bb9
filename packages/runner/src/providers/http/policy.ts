/**
 * Which URLs a guest may fetch: URL validation here, and the manifest's
 * `allowedHosts` (sent by the gateway as `egress.allowed_hosts`), whose
 * rules live in protocol's `allowed-hosts.ts` so publish applies the same.
 */
export {
  entryAllows,
  findAllowing,
  parseAllowEntry,
  parseAllowList,
  suggestEntry,
  type AllowEntry,
  type AllowList,
} from '@alga-psa/protocol';

/** Longest URL accepted from a guest, in bytes. */
export const MAX_URL_BYTES = 8 * 1024;

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** Validates a guest-supplied URL: http(s) only, no userinfo, at most 8 KiB. */
export function parseRequestUrl(raw: unknown): UrlCheck {
  if (typeof raw !== 'string') return { ok: false, reason: 'the URL is not a string' };
  if (Buffer.byteLength(raw, 'utf8') > MAX_URL_BYTES) return { ok: false, reason: 'the URL is longer than 8 KiB' };
  const url = URL.parse(raw);
  if (!url) return { ok: false, reason: 'the URL does not parse' };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, reason: 'only http and https URLs are supported' };
  }
  // `http://@host/` parses with an empty username: refuse any "@" in the authority too.
  const authority = raw.replace(/^[^:]*:\/*/, '').split(/[/?#\\]/, 1)[0] ?? '';
  if (url.username || url.password || authority.includes('@')) {
    return { ok: false, reason: 'credentials in the URL are not allowed' };
  }
  if (url.hostname === '') return { ok: false, reason: 'the URL has no host' };
  url.hash = '';
  return { ok: true, url };
}
