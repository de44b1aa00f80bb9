/**
 * SSRF defence for outbound HTTP: which IP addresses a guest may reach.
 *
 * Only globally routable unicast addresses pass. Classification is done by
 * ipaddr.js (`process()` unwraps IPv4-mapped IPv6 first); there is no
 * hand-written CIDR arithmetic here. The operator can open specific private
 * ranges for local development (`allowPrivate`), but never the cloud
 * metadata endpoints.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Address = ReturnType<typeof ipaddr.parse>;
type Cidr = [Address, number];

/** Cloud metadata endpoints: refused even when an operator CIDR covers them. */
const METADATA: readonly Cidr[] = [
  ipaddr.parseCIDR('169.254.169.254/32'), // AWS, GCP, Azure, OpenStack, ...
  ipaddr.parseCIDR('fd00:ec2::254/128'), // AWS IPv6
  ipaddr.parseCIDR('100.100.100.200/32'), // Alibaba Cloud
];

/** IPv6 global unicast (2000::/3); everything else in IPv6 is special-purpose. */
const GLOBAL_UNICAST_V6: Cidr = ipaddr.parseCIDR('2000::/3');

export type AddressVerdict =
  { ok: true; address: string; family: 4 | 6 } | { ok: false; address: string; reason: string };

/** Operator-approved private ranges (RUNNER_HTTP_ALLOW_PRIVATE). */
export class PrivateAllowList {
  readonly #cidrs: Cidr[];
  readonly #texts: string[];

  constructor(cidrs: readonly string[] = []) {
    this.#texts = cidrs.map((text) => text.trim());
    this.#cidrs = cidrs.map((text) => {
      const trimmed = text.trim();
      if (!ipaddr.isValidCIDR(trimmed)) throw new Error(`Not a CIDR range: ${JSON.stringify(text)}.`);
      const [address, bits] = ipaddr.parseCIDR(trimmed);
      // Store IPv4-mapped ranges as IPv4, so they compare with processed addresses.
      if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
        return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96] as Cidr;
      }
      return [address, bits] as Cidr;
    });
  }

  /** Parses `RUNNER_HTTP_ALLOW_PRIVATE`-style text: comma-separated CIDRs, blanks ignored. */
  static parse(text: string | undefined): PrivateAllowList {
    return new PrivateAllowList(
      (text ?? '')
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean),
    );
  }

  get size(): number {
    return this.#cidrs.length;
  }

  /** The ranges as `parse` reads them. */
  toString(): string {
    return this.#texts.join(',');
  }

  covers(address: Address): boolean {
    return this.#cidrs.some((cidr) => matches(address, cidr));
  }
}

function matches(address: Address, [range, bits]: Cidr): boolean {
  return address.kind() === range.kind() && address.match(range, bits);
}

/** Why a (processed) address is not public, or undefined when it is. */
function specialPurpose(address: Address): string | undefined {
  if (address.kind() === 'ipv4') {
    const range = (address as ipaddr.IPv4).range();
    return range === 'unicast' ? undefined : range;
  }
  const v6 = address as ipaddr.IPv6;
  const range = v6.range();
  // NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 embed an IPv4 address: judge that one.
  if (range === 'rfc6052') {
    const embedded = ipaddr.fromByteArray(v6.toByteArray().slice(12));
    const inner = specialPurpose(embedded);
    return inner ? `${range} embedding ${inner}` : undefined;
  }
  if (range === '6to4') {
    const embedded = ipaddr.fromByteArray(v6.toByteArray().slice(2, 6));
    const inner = specialPurpose(embedded);
    return inner ? `${range} embedding ${inner}` : undefined;
  }
  if (range !== 'unicast') return range;
  // ipaddr.js calls every unlisted address "unicast", including the deprecated
  // IPv4-compatible ::a.b.c.d form; only 2000::/3 is globally routable.
  if (!matches(v6, GLOBAL_UNICAST_V6)) return 'reserved';
  return undefined;
}

/**
 * Decides whether the runner may connect to `text` (an IP address as DNS or a
 * URL gave it; IPv6 may be in brackets). Returns the canonical address to
 * connect to (IPv4-mapped IPv6 is connected to as IPv4).
 */
export function vetAddress(text: string, allowPrivate: PrivateAllowList): AddressVerdict {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  let address: Address;
  try {
    // process() turns ::ffff:a.b.c.d into a.b.c.d so it is judged as IPv4.
    address = ipaddr.process(bare);
  } catch {
    return { ok: false, address: bare, reason: 'unparseable address' };
  }
  const canonical = address.toString();
  if (METADATA.some((cidr) => matches(address, cidr))) {
    return { ok: false, address: canonical, reason: 'cloud metadata address' };
  }
  const special = specialPurpose(address);
  if (special && !allowPrivate.covers(address)) {
    return { ok: false, address: canonical, reason: special };
  }
  return { ok: true, address: canonical, family: address.kind() === 'ipv4' ? 4 : 6 };
}

/** True when `hostname` (as `URL.hostname` gives it) is an IP literal. */
export function isIpLiteral(hostname: string): boolean {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) !== 0;
}
