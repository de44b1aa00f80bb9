/**
 * A manifest's `allowedHosts`: how an entry parses and which URLs it allows.
 * The runner's http provider enforces it on every hop; publish and
 * `alga build` check a secret's `egress` hosts against it.
 *
 * Entry forms:
 * - `api.example.com`                      https, port 443, any path
 * - `api.example.com:8443`                 https, that port, any path
 * - `https://api.example.com[:port][/p]`   https, path prefix `/p`
 * - `http://api.example.com[:port][/p]`    plain http only when written so
 * - `*.example.com` (any of the above)     one or more labels below example.com, not the apex
 *
 * Hosts are normalized by `new URL` (lowercase, IDNA to punycode, IP literals
 * canonicalized) on both sides, and a trailing dot is ignored. Path prefixes
 * are segment-aware: `/v1` matches `/v1` and `/v1/x`, never `/v10`.
 */

export interface AllowEntry {
  /** The entry as written in the manifest (for logs). */
  readonly source: string;
  readonly protocol: 'http:' | 'https:';
  /** Normalized host; for a wildcard, the suffix after `*.`. */
  readonly host: string;
  readonly wildcard: boolean;
  /** Effective port, as a decimal string. */
  readonly port: string;
  /** `/` (any path) or a prefix without a trailing slash. */
  readonly pathPrefix: string;
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;
/** Placeholder label for `*` while `new URL` normalizes the rest of a wildcard host. */
const WILDCARD_LABEL = 'wildcard-label';

function defaultPort(protocol: string): string {
  return protocol === 'http:' ? '80' : '443';
}

function stripTrailingDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Parses one manifest entry; undefined when it is malformed (it then allows nothing). */
export function parseAllowEntry(source: string): AllowEntry | undefined {
  const text = source.trim();
  if (text === '' || /[\s\\]/.test(text)) return undefined;
  const scheme = SCHEME.exec(text);
  const protocol = scheme ? `${scheme[1]!.toLowerCase()}:` : 'https:';
  if (protocol !== 'http:' && protocol !== 'https:') return undefined;
  const rest = scheme ? text.slice(scheme[0].length) : text;
  const cut = rest.search(/[/?#]/);
  let authority = cut === -1 ? rest : rest.slice(0, cut);
  const path = cut === -1 ? '' : rest.slice(cut);
  if (authority.includes('@') || path.includes('?') || path.includes('#')) return undefined;
  const wildcard = authority.startsWith('*.');
  if (wildcard) authority = `${WILDCARD_LABEL}.${authority.slice(2)}`;
  if (authority.includes('*')) return undefined;
  const url = URL.parse(`${protocol}//${authority}${path}`);
  if (!url || url.username || url.password || url.search || url.hash) return undefined;
  let host = stripTrailingDot(url.hostname);
  if (wildcard) {
    if (!host.startsWith(`${WILDCARD_LABEL}.`)) return undefined;
    host = host.slice(WILDCARD_LABEL.length + 1);
    // "*.com" would allow a whole top-level domain.
    if (!host.includes('.')) return undefined;
  }
  if (host === '') return undefined;
  const pathPrefix = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  return {
    source,
    protocol,
    host,
    wildcard,
    port: url.port || defaultPort(protocol),
    pathPrefix: pathPrefix || '/',
  };
}

export interface AllowList {
  readonly entries: readonly AllowEntry[];
  /** Entries that did not parse (they allow nothing). */
  readonly malformed: readonly string[];
}

export function parseAllowList(sources: unknown): AllowList {
  const entries: AllowEntry[] = [];
  const malformed: string[] = [];
  // Anything but an array (absent, or a malformed request) allows nothing.
  if (!Array.isArray(sources)) return { entries, malformed };
  for (const source of sources as unknown[]) {
    const entry = typeof source === 'string' ? parseAllowEntry(source) : undefined;
    if (entry) entries.push(entry);
    else malformed.push(String(source));
  }
  return { entries, malformed };
}

/** True when `entry` permits `url` (scheme, host, port and path prefix). */
export function entryAllows(entry: AllowEntry, url: URL): boolean {
  if (url.protocol !== entry.protocol) return false;
  if ((url.port || defaultPort(url.protocol)) !== entry.port) return false;
  const host = stripTrailingDot(url.hostname);
  if (entry.wildcard ? !host.endsWith(`.${entry.host}`) : host !== entry.host) return false;
  const prefix = entry.pathPrefix;
  return prefix === '/' || url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
}

/** The first entry allowing `url`, if any. */
export function findAllowing(list: AllowList, url: URL): AllowEntry | undefined {
  return list.entries.find((entry) => entryAllows(entry, url));
}

/** The `allowedHosts` entry an extension author would add to reach `url`. */
export function suggestEntry(url: URL): string {
  const host = url.hostname.endsWith('.') ? url.host.replace(/\.(?=(:\d+)?$)/, '') : url.host;
  return url.protocol === 'https:' ? host : `http://${host}`;
}
