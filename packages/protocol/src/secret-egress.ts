/**
 * Where an egress-bound secret may be sent: a secret setting's `egress` list
 * (manifest), parsed once and matched against a request URL by the runner's
 * http provider and by `alga dev` / `alga test`, so all three agree.
 *
 * Grammar of one entry (no wildcards, no paths, exact host match):
 * - `api.example.com` / `api.example.com:8443` — HTTPS only, port 443 unless given;
 * - `http://host:port` / `https://host` — the scheme as written (plain HTTP must be asked for).
 */
import { entryAllows, parseAllowList } from './allowed-hosts.ts';
import type { SettingDefinition } from './settings.ts';

export interface SecretEgressEntry {
  protocol: 'http:' | 'https:';
  /** Lowercase, no trailing dot; an IPv6 literal keeps its brackets (as `URL.hostname` does). */
  hostname: string;
  port: number;
}

/** Prefix of every secret handle: greppable, and obviously not a credential. */
export const SECRET_HANDLE_PREFIX = 'alga-secret-handle:';

/**
 * A handle as the runner mints it: the prefix, then 32 random bytes as
 * base64url (43 characters). Also matched with its colon percent-encoded
 * (`%3A`), as `URLSearchParams` and form bodies write it.
 */
export const SECRET_HANDLE_PATTERN = /alga-secret-handle(?::|%3[Aa])[A-Za-z0-9_-]{43}/g;

/** A matched handle in its minted spelling. */
export function canonicalHandle(match: string): string {
  return match.replace(/%3[Aa]/, ':');
}

const ENTRY = /^(?:(https?):\/\/)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?$/;

/** Parses one `egress` entry; undefined when it is not one (wildcards, paths, bad ports). */
export function parseSecretEgress(entry: string): SecretEgressEntry | undefined {
  const match = ENTRY.exec(entry);
  if (!match) return undefined;
  const [, scheme, host, portText] = match;
  const protocol = scheme === 'http' ? 'http:' : 'https:';
  const port = portText === undefined ? (protocol === 'http:' ? 80 : 443) : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  // Let WHATWG URL normalise the host (case, IPv4 forms, IPv6 compression) as it will for the request.
  const parsed = URL.parse(`${protocol}//${host!}`);
  if (!parsed || parsed.hostname === '') return undefined;
  return { protocol, hostname: parsed.hostname.replace(/\.$/, ''), port };
}

/** Whether `url` (already parsed) is one of `entries`: same scheme, host and port. */
export function egressAllows(entries: readonly SecretEgressEntry[], url: URL): boolean {
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '');
  const port = url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : Number(url.port);
  return entries.some((entry) => entry.protocol === url.protocol && entry.hostname === hostname && entry.port === port);
}

/** Why `entry` cannot be in a secret's `egress` list, or undefined when it can. */
export function secretEgressProblem(entry: string): string | undefined {
  if (entry.includes('*')) {
    return `"${entry.slice(0, 80)}" has a wildcard; a secret's egress names exact hosts (e.g. "api.example.com").`;
  }
  return parseSecretEgress(entry)
    ? undefined
    : `"${entry.slice(0, 80)}" is not a host: use "api.example.com", "api.example.com:8443" or "http://host:port" (no path).`;
}

/** Secret key → its `egress` list as written, for the secret settings of a manifest that have one. */
export function secretEgressOf(settings: readonly SettingDefinition[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const setting of settings) {
    if (setting.secret && setting.egress && setting.egress.length > 0) out[setting.key] = [...setting.egress];
  }
  return out;
}

/** The `secret_egress` field of an ExecuteRequest for a manifest's settings (absent when no secret has `egress`). */
export function secretEgressField(settings: readonly SettingDefinition[]): {
  secret_egress?: Record<string, string[]>;
} {
  const egress = secretEgressOf(settings);
  return Object.keys(egress).length > 0 ? { secret_egress: egress } : {};
}

/**
 * Publish and build warnings: a secret's `egress` naming a host `allowedHosts` does not
 * list (scheme, host and port; paths aside). Not an error: a tenant admin may still grant
 * the host at install, but until then every request carrying the handle there is refused.
 */
export function egressOutsideAllowedHosts(manifest: {
  settings?: readonly SettingDefinition[] | undefined;
  allowedHosts?: readonly string[] | undefined;
}): string[] {
  const allowed = parseAllowList(manifest.allowedHosts ?? []);
  const notes: string[] = [];
  for (const [key, entries] of Object.entries(secretEgressOf(manifest.settings ?? []))) {
    for (const entry of entries) {
      const parsed = parseSecretEgress(entry);
      if (!parsed) continue; // refused by validation already
      const host = parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname;
      const covered = allowed.entries.some((allow) => {
        // The host, scheme and port of some path the entry allows.
        const root = URL.parse(`${parsed.protocol}//${host}:${parsed.port}${allow.pathPrefix}`);
        return root !== null && entryAllows(allow, root);
      });
      if (!covered)
        notes.push(
          `Secret "${key}" may be sent to ${entry} (its "egress"), but "allowedHosts" does not list that host: ` +
            `requests there are refused unless a tenant admin grants it at install. Add "${entry}" to "allowedHosts".`,
        );
    }
  }
  return notes;
}
