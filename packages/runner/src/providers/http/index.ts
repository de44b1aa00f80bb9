/**
 * `alga:extension/http`: outbound HTTP for the guest. Unlocked by `cap:http.fetch`.
 *
 * Deny by default, in this order, before any byte leaves the runner:
 * 1. the URL must be http(s), without credentials, at most 8 KiB (`invalid-url`);
 * 2. it must match the manifest's `allowedHosts` (`egress.allowed_hosts`);
 *    an empty or absent list allows nothing (`not-allowed`, and a warn line
 *    naming the entry to add);
 * 3. the execution must still have subrequests left (`not-allowed`);
 * 4. every address the host resolves to must be public (`not-allowed`);
 *    the connection then goes to that vetted address only (resolve, vet, pin).
 *
 * Secret handles (`ctx.secrets.handle`) in the URL, header values or body are
 * replaced by their values on each hop only when that hop's scheme, host and
 * port are one of the secret's `egress` entries (checked on the URL's host,
 * whose vetted addresses are then the only ones connected to); otherwise the
 * call is refused (`fetch-v2`: `secret-not-allowed(key)`). Echoes of a sent
 * value in the response are masked before the guest sees it (handles.ts).
 *
 * Redirects are followed by hand (at most 5), each hop checked again. Sizes
 * and time are capped; errors on the wire are `transport`. Log lines name the
 * origin and the error class, never headers, query strings or bodies.
 */
import { lookup } from 'node:dns/promises';
import { Type } from 'typebox';
import type { HttpRequest, HttpResponse } from '../../../generated/interfaces/alga-extension-types.js';
import { endSpan } from '@alga-psa/protocol/tracing';
import {
  callBudget,
  callSignal,
  executionState,
  providerSpan,
  witErr,
  type ExecutionScope,
} from '../../host-calls/index.ts';
import { ResponseTooLargeError } from '../../read-body.ts';
import { defineProvider, type ProviderImpl } from '../types.ts';
import { isIpLiteral, PrivateAllowList, vetAddress } from './address.ts';
import { handlesIn, maskResponse, refusedHandle, substitute } from './handles.ts';
import { findAllowing, parseAllowList, parseRequestUrl, suggestEntry } from './policy.ts';
import { defaultConnector, send, type Connector, type RawResponse } from './transport.ts';

export { PrivateAllowList } from './address.ts';
export type { Connector } from './transport.ts';

export const DEFAULT_MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
export const DEFAULT_MAX_REQUEST_BYTES = 5 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_SUBREQUESTS = 50;
export const DEFAULT_MAX_REDIRECTS = 5;

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves a hostname to every address it has (like `dns.lookup(host, {all: true})`). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface HttpProviderOptions {
  /**
   * CIDR ranges that may be reached although private or special-purpose
   * (`RUNNER_HTTP_ALLOW_PRIVATE`, for local development). Default: none.
   * Cloud metadata addresses stay refused regardless.
   */
  allowPrivate?: readonly string[] | PrivateAllowList;
  /** Largest response body per call (default 5 MiB); beyond it the stream is aborted → `transport`. */
  maxResponseBytes?: number;
  /** Largest request body (default 5 MiB); beyond it → `not-allowed`. */
  maxRequestBytes?: number;
  /** Total time per call, redirects included (default 10 s); never beyond the execution's own limit. */
  timeoutMs?: number;
  /** Outbound requests per execution, each redirect hop included (default 50). */
  maxSubrequests?: number;
  /** Redirect hops followed per call (default 5). */
  maxRedirects?: number;
  /** DNS resolution (tests inject one). Default: `dns.lookup` with `all: true`. */
  resolve?: Resolver;
  /** Opens sockets to pinned addresses (tests wrap it to count connections). */
  connector?: Connector;
  /**
   * `alga test`: answers each request (values already in place of handles) instead of
   * the network; DNS, address vetting and redirects are skipped, every other check stays.
   * Throws `{ payload }` with an `http-error` case to fail the call.
   */
  exchange?: (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;
  /**
   * When tracing is on, send the upstream request's W3C `traceparent` (replacing
   * one the guest set), so the upstream can continue the trace. Default false:
   * a trace id is not handed to third parties unless the operator says so.
   */
  propagateTrace?: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7E\x80-\xFF]*$/;
const STANDARD_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
const REFUSED_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);
/** Hop-by-hop headers (RFC 9110 §7.6.1) and ones the runner sets itself. */
const STRIPPED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'http2-settings',
]);
/** Dropped when a redirect leaves the origin. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);
/** Dropped when a redirect turns the request into a body-less GET. */
const BODY_HEADERS = new Set(['content-type', 'content-encoding', 'content-language', 'content-location']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Vetted addresses tried in turn when one does not accept the connection. */
const MAX_PINNED_ADDRESSES = 4;

class Refusal {
  readonly error: 'invalid-url' | 'not-allowed' | 'transport';
  /** The key of the secret whose handle may not go where the request goes. */
  readonly secret: string | undefined;
  constructor(error: 'invalid-url' | 'not-allowed' | 'transport', secret?: string) {
    this.error = error;
    this.secret = secret;
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`http provider: ${name} must be a non-negative integer.`);
  return value;
}

const defaultResolve: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** This execution's outbound budget and allow-list, parsed once. */
const egress = executionState('http.egress', (scope) => {
  const allowList = parseAllowList(scope.request.egress?.allowed_hosts);
  if (allowList.malformed.length > 0) {
    scope.logger.warn(
      { provider: 'http', entries: allowList.malformed },
      'http: ignoring malformed allowedHosts entries',
    );
  }
  // Values of secret handles this execution sent: masked in every response the guest gets.
  return { allowList, subrequests: 0, sentSecrets: new Set<string>() };
});

export function httpImpl(options: HttpProviderOptions = {}): ProviderImpl<'http'> {
  const allowPrivate =
    options.allowPrivate instanceof PrivateAllowList
      ? options.allowPrivate
      : new PrivateAllowList(options.allowPrivate ?? []);
  const maxResponseBytes = positive('maxResponseBytes', options.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES);
  const maxRequestBytes = positive('maxRequestBytes', options.maxRequestBytes, DEFAULT_MAX_REQUEST_BYTES);
  const timeoutMs = Math.max(1, positive('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS));
  const maxSubrequests = positive('maxSubrequests', options.maxSubrequests, DEFAULT_MAX_SUBREQUESTS);
  const maxRedirects = positive('maxRedirects', options.maxRedirects, DEFAULT_MAX_REDIRECTS);
  const resolve = options.resolve ?? defaultResolve;
  const connector = options.connector ?? defaultConnector(timeoutMs);
  const propagateTrace = options.propagateTrace ?? false;

  /** Validates method, headers and body; answers the pieces to send or a refusal. */
  function prepare(
    scope: ExecutionScope,
    request: HttpRequest,
  ): { method: string; headers: Array<[string, string]>; body: Uint8Array | undefined } | Refusal {
    const log = scope.logger;
    const rawMethod = typeof request.method === 'string' ? request.method : '';
    if (!TOKEN.test(rawMethod)) {
      log.warn({ provider: 'http' }, 'http.fetch refused: the method is not a valid HTTP token');
      return new Refusal('transport');
    }
    const upper = rawMethod.toUpperCase();
    if (REFUSED_METHODS.has(upper)) {
      log.warn({ provider: 'http', method: upper }, `http.fetch refused: method ${upper} is not allowed`);
      return new Refusal('not-allowed');
    }
    const method = STANDARD_METHODS.has(upper) ? upper : rawMethod;

    const given = Array.isArray(request.headers) ? request.headers : [];
    const connectionListed = new Set<string>();
    for (const header of given) {
      if (header && typeof header.name === 'string' && header.name.toLowerCase() === 'connection') {
        for (const name of String(header.value).split(',')) connectionListed.add(name.trim().toLowerCase());
      }
    }
    const headers: Array<[string, string]> = [];
    const dropped = new Set<string>();
    for (const header of given) {
      const name = header && typeof header.name === 'string' ? header.name : '';
      const value = header && typeof header.value === 'string' ? header.value : undefined;
      // Names only: header values may carry the guest's credentials.
      if (!TOKEN.test(name) || value === undefined || !HEADER_VALUE.test(value)) {
        log.warn({ provider: 'http' }, 'http.fetch refused: a request header has an invalid name or value');
        return new Refusal('transport');
      }
      const lower = name.toLowerCase();
      if (STRIPPED_HEADERS.has(lower) || connectionListed.has(lower)) {
        dropped.add(lower);
        continue;
      }
      headers.push([lower, value]);
    }
    if (dropped.size > 0) {
      log.debug({ provider: 'http', headers: [...dropped] }, 'http.fetch dropped hop-by-hop or host headers');
    }

    const body = request.body ?? undefined;
    if (body !== undefined && !(body instanceof Uint8Array)) {
      log.warn({ provider: 'http' }, 'http.fetch refused: the body is not a byte list');
      return new Refusal('transport');
    }
    if (body && body.byteLength > maxRequestBytes) {
      log.warn(
        { provider: 'http', bytes: body.byteLength, limit: maxRequestBytes },
        `http.fetch refused: the request body is larger than ${maxRequestBytes} bytes`,
      );
      return new Refusal('not-allowed');
    }
    return { method, headers, body };
  }

  /** Resolves `url`'s host and vets every address; the ones to pin, or a refusal. */
  async function vetTarget(scope: ExecutionScope, url: URL, signal: AbortSignal): Promise<string[] | Refusal> {
    const log = scope.logger;
    const hostname = url.hostname;
    let candidates: string[];
    if (isIpLiteral(hostname)) {
      candidates = [hostname];
    } else {
      try {
        const resolved = await abortable(resolve(hostname.replace(/\.$/, '')), signal);
        candidates = resolved.map((entry) => entry.address);
      } catch (error) {
        log.warn(
          { provider: 'http', origin: url.origin, ...errorClass(error, signal) },
          'http.fetch failed: the host name did not resolve',
        );
        return new Refusal('transport');
      }
      if (candidates.length === 0) {
        log.warn({ provider: 'http', origin: url.origin }, 'http.fetch failed: the host name has no address');
        return new Refusal('transport');
      }
    }
    const verdicts = candidates.map((address) => vetAddress(address, allowPrivate));
    const refused = verdicts.find((verdict) => !verdict.ok);
    if (refused && !refused.ok) {
      log.warn(
        { provider: 'http', origin: url.origin, address: refused.address, reason: refused.reason },
        `http.fetch refused: ${url.host} resolves to a private address (${refused.address}: ${refused.reason}); ` +
          'outbound requests may only reach public addresses (operators can open ranges for local development with RUNNER_HTTP_ALLOW_PRIVATE)',
      );
      return new Refusal('not-allowed');
    }
    // Every address passed; connect to these only (at most four, in resolver order).
    return [...new Set(verdicts.map((verdict) => verdict.address))].slice(0, MAX_PINNED_ADDRESSES);
  }

  /** One exchange with `alga test`'s stand-in, values in place of handles and echoes masked as on the wire. */
  async function standIn(
    scope: ExecutionScope,
    exchange: NonNullable<HttpProviderOptions['exchange']>,
    request: { method: string; url: URL; headers: Array<[string, string]>; body: Uint8Array | undefined },
    handles: ReturnType<typeof handlesIn>,
  ): Promise<HttpResponse | Refusal> {
    const state = scope.state(egress);
    const wire = await substitute(request, handles, state.sentSecrets);
    if ('unreadable' in wire) return new Refusal('not-allowed', wire.unreadable);
    try {
      const response = await exchange({
        method: request.method,
        url: wire.url.href,
        headers: wire.headers.map(([name, value]) => ({ name, value })),
        ...(wire.body ? { body: wire.body } : {}),
      });
      return maskResponse(response, state.sentSecrets);
    } catch (error) {
      const payload = (error as { payload?: unknown }).payload;
      if (payload === 'invalid-url' || payload === 'not-allowed' || payload === 'transport')
        return new Refusal(payload);
      throw error;
    }
  }

  async function fetch(scope: ExecutionScope, request: HttpRequest): Promise<HttpResponse | Refusal> {
    const log = scope.logger;
    const state = scope.state(egress);
    const checked = parseRequestUrl(request?.url);
    if (!checked.ok) {
      log.warn({ provider: 'http', reason: checked.reason }, `http.fetch refused: invalid URL (${checked.reason})`);
      return new Refusal('invalid-url');
    }
    const prepared = prepare(scope, request);
    if (prepared instanceof Refusal) return prepared;
    let { method, headers, body } = prepared;
    let url = checked.url;

    // One clock for the whole call, redirects included, bounded by the execution's own limit;
    // the call is abandoned when the execution ends.
    const budget = callBudget(scope, timeoutMs);
    const signal = callSignal(scope, budget);
    for (let hop = 0; ; hop++) {
      const redirected = hop > 0 ? { redirect_hop: hop } : {};
      const entry = findAllowing(state.allowList, url);
      if (!entry) {
        const suggestion = suggestEntry(url);
        log.warn(
          { provider: 'http', origin: url.origin, ...redirected, add: suggestion },
          `http.fetch refused: ${url.origin} is not in allowedHosts${hop > 0 ? ' (redirect target)' : ''}; ` +
            `add "${suggestion}" to allowedHosts in manifest.json`,
        );
        return new Refusal('not-allowed');
      }
      if (state.subrequests >= maxSubrequests) {
        log.warn(
          { provider: 'http', origin: url.origin, limit: maxSubrequests },
          `http.fetch refused: this execution already made ${maxSubrequests} outbound requests (the limit)`,
        );
        return new Refusal('not-allowed');
      }
      const handles = handlesIn(scope, { url, headers, body });
      const outside = refusedHandle(handles, url);
      if (outside) {
        log.warn(
          { provider: 'http', origin: url.origin, ...redirected, secret: outside.key },
          `http.fetch refused: the request carries a handle of secret "${outside.key}", which may only be sent to its egress hosts in manifest.json; ${url.origin} is not one of them${hop > 0 ? ' (redirect target)' : ''}`,
        );
        return new Refusal('not-allowed', outside.key);
      }
      state.subrequests += 1;

      if (options.exchange) return standIn(scope, options.exchange, { method, url, headers, body }, handles);
      const addresses = await vetTarget(scope, url, signal);
      if (addresses instanceof Refusal) return addresses;

      // Values go in only now, for this hop's vetted and pinned destination; the template keeps the handles.
      const wire = await substitute({ url, headers, body }, handles, state.sentSecrets);
      if ('unreadable' in wire) {
        log.warn(
          { provider: 'http', origin: url.origin, secret: wire.unreadable },
          `http.fetch refused: secret "${wire.unreadable}" could not be read for its handle (missing, expired or not decryptable)`,
        );
        return new Refusal('not-allowed', wire.unreadable);
      }
      if (wire.url.origin !== url.origin || !wire.headers.every(([, value]) => HEADER_VALUE.test(value))) {
        // A value that would change the destination or break a header line is never sent.
        log.warn(
          { provider: 'http', origin: url.origin },
          'http.fetch refused: a secret value cannot be placed in this request',
        );
        return new Refusal('transport');
      }

      // One client span per hop: method, host and port only (a path or query may hold what the guest put there).
      const span = providerSpan(scope, method, {
        kind: 'client',
        attributes: {
          'http.request.method': method,
          'server.address': url.hostname,
          'server.port': Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
          'url.scheme': url.protocol.slice(0, -1),
          ...(hop > 0 ? { 'http.request.resend_count': hop } : {}),
        },
      });
      let response: RawResponse;
      try {
        let flat = wire.headers.flat();
        const traceparent = span && propagateTrace ? scope.trace!.tracing.traceparent(span) : undefined;
        if (traceparent) {
          flat = wire.headers.filter(([name]) => name !== 'traceparent' && name !== 'tracestate').flat();
          flat.push('traceparent', traceparent);
        }
        response = await send(
          { url: wire.url, addresses },
          { method, headers: flat, body: wire.body, signal, maxResponseBytes, timeoutMs: budget, connector },
        );
      } catch (error) {
        const failed = errorClass(error, signal);
        if (span) endSpan(span, { code: String(failed['code'] ?? failed['error']) });
        log.warn(
          { provider: 'http', origin: url.origin, ...redirected, ...failed },
          'http.fetch failed: transport error',
        );
        return new Refusal('transport');
      }
      if (span) {
        span.setAttribute('http.response.status_code', response.status);
        endSpan(span, response.status >= 500 ? { code: String(response.status) } : undefined);
      }

      const location = REDIRECTS.has(response.status)
        ? response.headers.find((header) => header.name === 'location')?.value
        : undefined;
      if (location === undefined) {
        log.debug(
          {
            provider: 'http',
            origin: url.origin,
            status: response.status,
            bytes: response.body.byteLength,
            hops: hop,
          },
          'http.fetch done',
        );
        return maskResponse(
          {
            status: response.status,
            headers: response.headers,
            // Always some, empty when the response had none, as the reference host answers.
            body: response.body,
          },
          state.sentSecrets,
        );
      }

      if (hop >= maxRedirects) {
        log.warn(
          { provider: 'http', origin: url.origin, limit: maxRedirects },
          `http.fetch failed: more than ${maxRedirects} redirects`,
        );
        return new Refusal('transport');
      }
      const target = URL.parse(location, url);
      const next = target ? parseRequestUrl(target.href) : { ok: false as const, reason: 'the URL does not parse' };
      if (!next.ok) {
        log.warn(
          { provider: 'http', origin: url.origin, reason: next.reason },
          `http.fetch refused: redirect to an invalid URL (${next.reason})`,
        );
        return new Refusal('not-allowed');
      }
      if (
        (response.status === 303 && method !== 'HEAD') ||
        ((response.status === 301 || response.status === 302) && method === 'POST')
      ) {
        method = 'GET';
        body = undefined;
        headers = headers.filter(([name]) => !BODY_HEADERS.has(name));
      }
      if (next.url.origin !== url.origin) {
        headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name));
      }
      url = next.url;
    }
  }

  return {
    functions: {
      async fetch(scope, request) {
        const outcome = await fetch(scope, request);
        return outcome instanceof Refusal ? witErr(outcome.error) : outcome;
      },
      async fetchV2(scope, request) {
        const outcome = await fetch(scope, request);
        if (!(outcome instanceof Refusal)) return outcome;
        return witErr(
          outcome.secret !== undefined ? { tag: 'secret-not-allowed', val: outcome.secret } : { tag: outcome.error },
        );
      },
    },
    denied(fn, scope) {
      scope.logger.debug({ provider: 'http' }, 'http.fetch refused: cap:http.fetch was not granted');
      return witErr(fn === 'fetchV2' ? { tag: 'not-allowed' } : 'not-allowed');
    },
  };
}

export const httpProvider = defineProvider({
  iface: 'http',
  settings: {
    httpAllowPrivate: Type.Codec(
      Type.String({
        default: '',
        env: 'RUNNER_HTTP_ALLOW_PRIVATE',
        description: 'Private CIDRs outbound HTTP may reach (development only; metadata addresses stay refused).',
      }),
    )
      .Decode((text: string) => {
        try {
          return PrivateAllowList.parse(text);
        } catch (error) {
          throw new Error(`${(error as Error).message} Use comma-separated CIDRs, e.g. 127.0.0.0/8.`, {
            cause: error,
          });
        }
      })
      .Encode((list: PrivateAllowList) => list.toString()),
    httpTraceparent: Type.Enum(['off', 'on'], {
      default: 'off',
      env: 'RUNNER_HTTP_TRACEPARENT',
      description:
        "`on`: with tracing on, the guest's outbound requests carry the W3C `traceparent` of their span (`off`: never sent).",
    }),
  },
  ownsStandIn: true,
  create: ({ settings, deps }) => {
    const exchange = deps.standIns?.http?.fetch as HttpProviderOptions['exchange'];
    return httpImpl({
      allowPrivate: settings.httpAllowPrivate,
      propagateTrace: settings.httpTraceparent === 'on',
      ...(exchange ? { exchange } : {}),
    });
  },
});

/** What a log line may say about an error: its class and code, never its message. */
function errorClass(error: unknown, signal: AbortSignal): Record<string, unknown> {
  if (error instanceof ResponseTooLargeError) return { error: error.name, reason: 'response too large' };
  if (signal.aborted) {
    return (signal.reason as Error | undefined)?.name === 'TimeoutError'
      ? { error: 'TimeoutError', reason: 'time limit reached' }
      : { error: 'AbortError', reason: 'execution ended' };
  }
  const name = error instanceof Error ? error.name : typeof error;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { error: name, code } : { error: name };
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
