/**
 * One HTTP exchange with an address that was vetted beforehand.
 *
 * Each hop gets its own undici `Client` whose connector connects to the
 * pinned IP address only (no second DNS lookup, so DNS rebinding cannot swap
 * the target), while the Host header and the TLS SNI / certificate check keep
 * using the URL's hostname. No redirect is followed here, and no proxy
 * environment variable applies.
 */
import { isIP } from 'node:net';
import { Client, buildConnector } from 'undici';
import type { HttpHeader } from '../../../generated/interfaces/alga-extension-types.js';
import { readCapped } from '../../read-body.ts';

export type Connector = buildConnector.connector;

export interface PinnedTarget {
  url: URL;
  /** The vetted IP addresses to connect to, tried in order until one accepts. */
  addresses: readonly string[];
}

export interface SendOptions {
  method: string;
  /** Flat `[name, value, name, value, ...]` list; repeated names are kept. */
  headers: string[];
  body: Uint8Array | undefined;
  signal: AbortSignal;
  maxResponseBytes: number;
  /** Upper bound for undici's own header and body timers. */
  timeoutMs: number;
  /** Opens the socket; `hostname` is already the pinned address. */
  connector: Connector;
}

export interface RawResponse {
  status: number;
  headers: HttpHeader[];
  /** A fresh, exactly sized copy (never a view into a pooled buffer). */
  body: Uint8Array;
}

/** The default connector: HTTP/1.1 only, bounded connect time. */
export function defaultConnector(connectTimeoutMs: number): Connector {
  return buildConnector({ allowH2: false, timeout: connectTimeoutMs });
}

function pinnedConnector(target: PinnedTarget, base: Connector): Connector {
  const hostname = target.url.hostname;
  const servername =
    target.url.protocol === 'https:' && isIP(hostname.replace(/^\[|\]$/g, '')) === 0
      ? hostname.replace(/\.$/, '')
      : undefined;
  return (options, callback) => {
    let index = 0;
    const attempt = (): void => {
      const hostname = target.addresses[index]!;
      base({ ...options, hostname, ...(servername ? { servername } : {}) }, (error, socket) => {
        // Unreachable address (e.g. IPv6 without a route): try the next vetted one.
        if (error && index + 1 < target.addresses.length) {
          index += 1;
          attempt();
          return;
        }
        if (error) callback(error, null);
        else callback(null, socket!);
      });
    };
    attempt();
  };
}

function responseHeaders(headers: Record<string, string | string[] | undefined>): HttpHeader[] {
  const list: HttpHeader[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) list.push({ name, value: one });
  }
  return list;
}

export async function send(target: PinnedTarget, options: SendOptions): Promise<RawResponse> {
  const client = new Client(target.url.origin, {
    connect: pinnedConnector(target, options.connector),
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    keepAliveTimeout: 1000,
    pipelining: 1,
  });
  try {
    const response = await client.request({
      path: `${target.url.pathname}${target.url.search}`,
      method: options.method as never,
      headers: options.headers,
      body: options.body ? Buffer.from(options.body.buffer, options.body.byteOffset, options.body.byteLength) : null,
      signal: options.signal,
    });
    const body = await readCapped(response, options.maxResponseBytes);
    return { status: response.statusCode, headers: responseHeaders(response.headers), body };
  } finally {
    client.destroy().catch(() => {});
  }
}
