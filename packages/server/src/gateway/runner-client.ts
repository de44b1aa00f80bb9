/**
 * The gateway's side of `POST /v1/execute`, across one or more runners.
 *
 * - Each request carries a fresh `alga-runner` token (scope `execute`) bound
 *   to its tenant and install, and an `alga-server` token (scope `storage
 *   logs`, same binding) in the body for the runner's calls back to us.
 * - Runners are picked round-robin among those believed up. A runner that
 *   refuses a connection (or drops one mid-request) is taken out at once;
 *   a background probe of its `/readyz` puts it back when it answers again.
 * - An idempotent request that failed to CONNECT (so never reached a guest)
 *   is retried once on another runner. Nothing else is retried: a request
 *   that reached a runner may have had effects.
 * - The client deadline is the runner's execution deadline plus a margin, so
 *   a guest that runs too long is reported by the runner (ALGA_TIMEOUT → 504)
 *   and never races our own timer; a runner that dies mid-request ends the
 *   request with 502 (socket closed) or 504 (no answer), never a hang.
 */
// Not undici's BalancedPool/RetryAgent: neither says which upstream failed, so a refused runner could not be taken out and probed back in, nor a connect failure told from a reset after sending.
import { generateKeyPairSync } from 'node:crypto';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { FastifyBaseLogger } from 'fastify';
import {
  AlgaError,
  HEADER_CONFIG_VERSION,
  HEADER_REQUEST_ID,
  HEADER_SECRETS_VERSION,
  isGuestStatus,
  RUNNER_API_SCOPES,
  RUNNER_ROUTES,
  RUNNER_SCOPES,
  type BundleSignatureWire,
  type ErrorCode,
  type ExecuteRequest,
  type ExecuteResponse,
  type PrepareRequest,
} from '@alga-psa/protocol';
import { endSpan, type Span, type Tracing } from '@alga-psa/protocol/tracing';
import { MAX_TOKEN_TTL_SECONDS, ReusableTokens, ServiceTokenSigner } from '@alga-psa/service-auth';
import {
  guestResponseInvalid,
  guestTimeout,
  noRunnerReachable,
  runnerAnswerNotJson,
  runnerConnectionLost,
  runnerDeadline,
  runnerFailed,
  runnerResponseTooLarge,
  runnerStatus,
} from '../errors.ts';
import type { RunnerCallMetrics } from '../metrics.ts';

export interface RunnerClientOptions {
  /** One runner URL, or several separated by commas (`ALGA_RUNNER_URL`). */
  runnerUrl: string;
  /** How long the gateway waits for the runner, in ms (must exceed the execution deadline). */
  timeoutMs: number;
  /** Mints the per-request service tokens. */
  signer: ServiceTokenSigner;
  /** How often runners are probed on `/readyz` (default 2000 ms). */
  healthIntervalMs?: number;
  /** Connections kept per runner (default 64). */
  connectionsPerRunner?: number;
  logger?: FastifyBaseLogger;
  /** Counts failed runner calls by reason, and failovers. */
  metrics?: RunnerCallMetrics;
  /** A client span per attempt, its `traceparent` sent to the runner; absent: off. */
  tracing?: Tracing;
}

export interface RunnerStatus {
  url: string;
  up: boolean;
}

const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** The connection broke after the request was sent: the runner likely died. */
const CONNECTION_LOST = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
/** Safe to send twice (RFC 9110 §9.2.2), so safe to retry when the first try never connected. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const MAX_RUNNER_RESPONSE_BYTES = 16 * 1024 * 1024;
const PROBE_TIMEOUT_MS = 2_000;
/** Log shipping after the response: the runner's batch window (0.5 s) and its send timeout (2 s), with room. */
const SERVER_TOKEN_AFTER_RESPONSE_S = 10;

/**
 * A signer for servers built without a key file (in-process tests, embedders
 * that run their own runners): a fresh Ed25519 pair for the process's
 * lifetime, so tokens are always signed, but no runner outside can verify them.
 */
export function ephemeralSigner(): ServiceTokenSigner {
  const { privateKey } = generateKeyPairSync('ed25519');
  return ServiceTokenSigner.fromPem(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
}

/** Parses `ALGA_RUNNER_URL`: comma-separated absolute http(s) URLs, at least one. */
export function parseRunnerUrls(value: string): URL[] {
  const urls: URL[] = [];
  for (const part of value.split(',')) {
    const text = part.trim();
    if (!text) continue;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`ALGA_RUNNER_URL: ${JSON.stringify(text)} is not a URL.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`ALGA_RUNNER_URL: ${JSON.stringify(text)} must be http or https.`);
    }
    if (!urls.some((known) => known.origin === url.origin)) urls.push(url);
  }
  if (urls.length === 0) throw new Error('ALGA_RUNNER_URL names no runner.');
  return urls;
}

interface RunnerNode {
  url: URL;
  pool: Pool;
  up: boolean;
  probing: boolean;
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
}

/** Transpiling and compiling a large component takes about a second; allow for a busy runner. */
const PREPARE_TIMEOUT_MS = 30_000;

export class RunnerClient {
  readonly #nodes: RunnerNode[];
  readonly #timeoutMs: number;
  readonly #tokens: ReusableTokens;
  readonly #serverTokens: ReusableTokens;
  readonly #logger: FastifyBaseLogger | undefined;
  readonly #metrics: RunnerCallMetrics | undefined;
  readonly #tracing: Tracing | undefined;
  readonly #timer: NodeJS.Timeout;
  #next = 0;

  constructor(options: RunnerClientOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#tracing = options.tracing;
    // A token handed out must stay valid for the whole execution (the runner
    // uses the server token until the guest returns), never longer than the
    // verifier accepts; within that, one token per install is reused.
    this.#tokens = new ReusableTokens(options.signer, {
      minRemainingSeconds: Math.min(MAX_TOKEN_TTL_SECONDS, Math.ceil(options.timeoutMs / 1000)),
    });
    // The server token is used once more after the guest returns: the runner ships its log lines
    // up to a batch window later, so it must outlive the wait for the response by that much.
    this.#serverTokens = new ReusableTokens(options.signer, {
      minRemainingSeconds: Math.min(
        MAX_TOKEN_TTL_SECONDS,
        Math.ceil(options.timeoutMs / 1000) + SERVER_TOKEN_AFTER_RESPONSE_S,
      ),
    });
    this.#nodes = parseRunnerUrls(options.runnerUrl).map((url) => ({
      url,
      pool: new Pool(url.origin, {
        connections: options.connectionsPerRunner ?? 64,
        connectTimeout: 2_000,
        keepAliveTimeout: 10_000,
      }),
      // Optimistic at start: the first request should not wait for a probe.
      up: true,
      probing: false,
    }));
    this.#timer = setInterval(() => void this.probe(), options.healthIntervalMs ?? 2_000);
    this.#timer.unref();
  }

  /** Which runners the gateway currently sends to. */
  status(): RunnerStatus[] {
    return this.#nodes.map((node) => ({ url: node.url.origin, up: node.up }));
  }

  /** Probes every runner's `/readyz` now (also runs on a timer). */
  async probe(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => this.#probe(node)));
  }

  /** Sends one execution; `parent` (the gateway request's span, when tracing) parents each attempt's span. */
  async execute(body: ExecuteRequest, parent?: Span): Promise<ExecuteResponse> {
    const tried = new Set<RunnerNode>();
    const retryable = IDEMPOTENT_METHODS.has(body.http.method.toUpperCase());
    const binding = { tenantId: body.context.tenant_id, installId: body.context.install_id };
    const [serverToken, runnerToken] = await Promise.all([
      this.#serverTokens.get({
        audience: 'alga-server',
        ...binding,
        scope: [RUNNER_API_SCOPES.storage, RUNNER_API_SCOPES.logs],
      }),
      this.#tokens.get({ audience: 'alga-runner', ...binding, scope: [RUNNER_SCOPES.execute] }),
    ]);
    const payload = JSON.stringify({ ...body, server_token: serverToken });
    for (;;) {
      const node = this.#pick(tried);
      if (!node) throw noRunnerReachable();
      if (tried.size > 0) this.#metrics?.failover();
      tried.add(node);
      try {
        return await this.#traced(node, body, payload, runnerToken, parent);
      } catch (error) {
        if (!(error instanceof ConnectFailure)) throw error;
        this.#metrics?.runnerFailure('connect');
        this.#markDown(node, error.code);
        // Only one retry, and only where sending twice could not hurt.
        if (!retryable || tried.size > 1) throw error.alga;
      }
    }
  }

  /**
   * Asks every ready runner to load and compile a bundle now (after an
   * install or upgrade) and to have each of its workers make an instance
   * ready, so the first request pays for neither.
   * Best effort: a runner that fails simply loads on first use.
   */
  async prepare(target: {
    tenantId: string;
    installId: string;
    contentHash: string;
    signature?: BundleSignatureWire | null;
    memoryMb?: number;
  }): Promise<void> {
    const token = await this.#tokens.get({
      audience: 'alga-runner',
      tenantId: target.tenantId,
      installId: target.installId,
      scope: [RUNNER_SCOPES.prepare],
    });
    const prepare: PrepareRequest = {
      content_hash: target.contentHash,
      ...(target.signature ? { bundle_signature: target.signature } : {}),
      ...(target.memoryMb ? { memory_mb: target.memoryMb } : {}),
    };
    const body = JSON.stringify(prepare);
    await Promise.all(
      this.#nodes
        .filter((node) => node.up)
        .map(async (node) => {
          try {
            const response = await node.pool.request({
              path: RUNNER_ROUTES.prepare,
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body,
              headersTimeout: PREPARE_TIMEOUT_MS,
              bodyTimeout: PREPARE_TIMEOUT_MS,
            });
            await response.body.dump();
            if (response.statusCode !== 200) {
              this.#logger?.warn(
                { runner: node.url.origin, status: response.statusCode },
                'runner could not prepare bundle',
              );
            }
          } catch (error) {
            this.#logger?.warn({ runner: node.url.origin, code: errorCode(error) }, 'runner could not prepare bundle');
          }
        }),
    );
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#nodes.map((node) => node.pool.close()));
  }

  #pick(exclude: ReadonlySet<RunnerNode>): RunnerNode | undefined {
    for (let i = 0; i < this.#nodes.length; i++) {
      const node = this.#nodes[(this.#next + i) % this.#nodes.length]!;
      if (node.up && !exclude.has(node)) {
        this.#next = (this.#next + i + 1) % this.#nodes.length;
        return node;
      }
    }
    return undefined;
  }

  /** `#send` inside a client span whose `traceparent` the runner continues (one span per attempt). */
  async #traced(
    node: RunnerNode,
    body: ExecuteRequest,
    payload: string,
    token: string,
    parent: Span | undefined,
  ): Promise<ExecuteResponse> {
    const tracing = this.#tracing;
    if (!tracing) return this.#send(node, body, payload, token, undefined);
    const span = tracing.start(`POST ${RUNNER_ROUTES.execute}`, {
      kind: 'client',
      parent,
      attributes: {
        'http.request.method': 'POST',
        'server.address': node.url.hostname,
        'server.port': Number(node.url.port || (node.url.protocol === 'https:' ? 443 : 80)),
        'alga.request_id': body.context.request_id,
        'alga.tenant_id': body.context.tenant_id,
        'alga.install_id': body.context.install_id,
      },
    });
    try {
      const response = await this.#send(node, body, payload, token, tracing.traceparent(span));
      span.setAttribute('http.response.status_code', 200);
      endSpan(span);
      return response;
    } catch (error) {
      endSpan(span, {
        code: error instanceof AlgaError ? error.code : error instanceof ConnectFailure ? error.code : 'error',
      });
      throw error;
    }
  }

  async #send(
    node: RunnerNode,
    body: ExecuteRequest,
    payload: string,
    token: string,
    traceparent: string | undefined,
  ): Promise<ExecuteResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      [HEADER_REQUEST_ID]: body.context.request_id,
      [HEADER_CONFIG_VERSION]: body.config_version ?? '0',
      [HEADER_SECRETS_VERSION]: body.secret_envelope?.version ?? '0',
    };
    if (traceparent) headers['traceparent'] = traceparent;
    let response: { statusCode: number; text: string };
    try {
      response = await collect(node.pool, {
        path: RUNNER_ROUTES.execute,
        method: 'POST',
        headers,
        body: payload,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      if (error instanceof AlgaError) throw error;
      throw this.#transportError(node, error);
    }
    const { text } = response;
    if (response.statusCode === 200) {
      try {
        return parseExecuteResponse(text);
      } catch (error) {
        this.#metrics?.runnerFailure('invalid-answer');
        throw error;
      }
    }
    // A guest's own failure (timeout, trap, memory) is the request's outcome, not the runner's.
    const failure = runnerError(response.statusCode, text);
    if (!RELAYED_CODES.has(failure.code)) this.#metrics?.runnerFailure('status');
    throw failure;
  }

  #transportError(node: RunnerNode, error: unknown): Error {
    if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
      this.#metrics?.runnerFailure('deadline');
      return runnerDeadline({ cause: error });
    }
    const code = errorCode(error);
    if (code && CONNECT_FAILURES.has(code)) return new ConnectFailure(code, error);
    if (code && CONNECTION_LOST.has(code)) this.#markDown(node, code);
    this.#metrics?.runnerFailure('connection-lost');
    return runnerConnectionLost({ cause: error });
  }

  #markDown(node: RunnerNode, reason: string): void {
    if (!node.up) return;
    node.up = false;
    this.#logger?.warn({ runner: node.url.origin, reason }, 'runner marked down');
  }

  async #probe(node: RunnerNode): Promise<void> {
    if (node.probing) return;
    node.probing = true;
    let verdict: 'ready' | 'not ready' | 'slow';
    try {
      const response = await node.pool.request({
        path: RUNNER_ROUTES.ready,
        method: 'GET',
        headersTimeout: PROBE_TIMEOUT_MS,
        bodyTimeout: PROBE_TIMEOUT_MS,
      });
      await response.body.dump();
      verdict = response.statusCode === 200 ? 'ready' : 'not ready';
    } catch (error) {
      // A runner busy compiling a component can be slow to answer; that is
      // not down. Requests it cannot serve in time end with 504 anyway.
      const timedOut =
        error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError;
      verdict = timedOut ? 'slow' : 'not ready';
    } finally {
      node.probing = false;
    }
    if (verdict === 'ready' && !node.up) {
      node.up = true;
      this.#logger?.info({ runner: node.url.origin }, 'runner marked up');
    } else if (verdict === 'not ready') {
      this.#markDown(node, 'not ready');
    }
  }
}

/**
 * One request on the pool, its answer gathered as text. A dispatch handler
 * rather than `pool.request()`: the answer is always read whole, so the
 * stream and promise plumbing of a body Readable were per-request work for
 * nothing (docs/perf/039-gateway-path.md). Transport errors arrive as undici's.
 */
function collect(pool: Pool, options: Dispatcher.DispatchOptions): Promise<{ statusCode: number; text: string }> {
  return new Promise((resolve, reject) => {
    let statusCode = 0;
    let size = 0;
    const chunks: Buffer[] = [];
    pool.dispatch(options, {
      onRequestStart() {},
      onResponseStart(_controller, status) {
        statusCode = status;
      },
      onResponseData(controller, chunk) {
        size += chunk.length;
        if (size > MAX_RUNNER_RESPONSE_BYTES) return controller.abort(runnerResponseTooLarge());
        chunks.push(chunk);
      },
      onResponseEnd() {
        const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        resolve({ statusCode, text: bytes.toString('utf8') });
      },
      onResponseError(_controller, error) {
        reject(error);
      },
    });
  });
}

/** The request never reached the runner; `alga` is what the caller gets if it is not retried. */
class ConnectFailure extends Error {
  readonly code: string;
  readonly alga: AlgaError;
  constructor(code: string, cause: unknown) {
    super(`connect failed: ${code}`);
    this.code = code;
    this.alga = noRunnerReachable({ cause });
  }
}

function parseExecuteResponse(text: string): ExecuteResponse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw runnerAnswerNotJson();
  }
  const response = value as Partial<ExecuteResponse>;
  if (
    !isGuestStatus(response.status) ||
    (response.body_b64 !== null && response.body_b64 !== undefined && typeof response.body_b64 !== 'string')
  ) {
    throw guestResponseInvalid();
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(response.headers ?? {})) {
    if (typeof headerValue === 'string') headers[name.toLowerCase()] = headerValue;
  }
  return { status: response.status, headers, body_b64: response.body_b64 ?? null };
}

/** Runner errors the client gets with their own code (and status). */
const RELAYED_CODES: ReadonlySet<ErrorCode> = new Set([
  'ALGA_TIMEOUT',
  'ALGA_EXECUTION_FAILED',
  'ALGA_MEMORY_LIMIT',
  'ALGA_RUNNER_UNAVAILABLE',
  // The runner's own signature check: the client must hear which (and it is not a runner fault).
  'ALGA_SIGNATURE_REQUIRED',
  'ALGA_SIGNATURE_INVALID',
  'ALGA_SIGNATURE_UNTRUSTED',
  'ALGA_SIGNING_KEY_REVOKED',
]);

/**
 * Runner errors keep their code and message. A guest timeout stays 504; a
 * runner with no free worker is a 503 the client may retry; every other
 * runner failure is a 502 to the client, because a runner-side 4xx (say, its
 * own auth) says nothing about the client's request.
 */
function runnerError(status: number, text: string): AlgaError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Not our error shape: a generic 502 below.
  }
  const fromRunner = AlgaError.fromBody(body);
  if (!fromRunner)
    return status === 504 ? guestTimeout() : runnerStatus({ status }, { details: { runnerStatus: status } });
  // The runner's code and message, not its details (those describe the runner, not the request).
  if (RELAYED_CODES.has(fromRunner.code)) return new AlgaError(fromRunner.code, fromRunner.message);
  return runnerFailed(
    { runnerMessage: fromRunner.message },
    { details: { runnerStatus: status, runnerCode: fromRunner.code } },
  );
}
