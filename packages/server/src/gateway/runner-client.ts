/**
 * The gateway's side of `POST /v1/execute`. The client deadline is the
 * runner's execution deadline plus a margin, so a guest that runs too long is
 * reported by the runner (ALGA_TIMEOUT → 504) and never races our own timer.
 */
import { Agent, request, errors as undiciErrors } from 'undici';
import {
  AlgaError,
  HEADER_CONFIG_VERSION,
  HEADER_REQUEST_ID,
  HEADER_SECRETS_VERSION,
  isErrorCode,
  type ExecuteRequest,
  type ExecuteResponse,
} from '@alga-psa/protocol';

export interface RunnerClientOptions {
  runnerUrl: string;
  /** How long the gateway waits for the runner, in ms (must exceed the execution deadline). */
  timeoutMs: number;
}

const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const MAX_RUNNER_RESPONSE_BYTES = 16 * 1024 * 1024;

export class RunnerClient {
  readonly #url: URL;
  readonly #timeoutMs: number;
  readonly #agent: Agent;

  constructor(options: RunnerClientOptions) {
    this.#url = new URL('/v1/execute', options.runnerUrl);
    this.#timeoutMs = options.timeoutMs;
    this.#agent = new Agent({ connectTimeout: 5_000, keepAliveTimeout: 10_000 });
  }

  async execute(body: ExecuteRequest): Promise<ExecuteResponse> {
    let response;
    try {
      response = await request(this.#url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: {
          'content-type': 'application/json',
          [HEADER_REQUEST_ID]: body.context.request_id,
          [HEADER_CONFIG_VERSION]: body.config_version ?? '0',
          [HEADER_SECRETS_VERSION]: body.secret_envelope?.version ?? '0',
        },
        body: JSON.stringify(body),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      throw transportError(error);
    }
    let text: string;
    try {
      const bytes = Buffer.from(await response.body.arrayBuffer());
      if (bytes.length > MAX_RUNNER_RESPONSE_BYTES)
        throw new AlgaError('ALGA_EXECUTION_FAILED', 'The extension response is too large.');
      text = bytes.toString('utf8');
    } catch (error) {
      if (error instanceof AlgaError) throw error;
      throw transportError(error);
    }
    if (response.statusCode === 200) return parseExecuteResponse(text);
    throw runnerError(response.statusCode, text);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function transportError(error: unknown): AlgaError {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new AlgaError('ALGA_TIMEOUT', 'The runner did not answer before the gateway deadline.', { cause: error });
  }
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  if (code && CONNECT_FAILURES.has(code)) {
    return new AlgaError(
      'ALGA_RUNNER_UNAVAILABLE',
      'No runner is reachable; check that the runner is started and ALGA_RUNNER_URL points to it.',
      {
        cause: error,
      },
    );
  }
  return new AlgaError('ALGA_EXECUTION_FAILED', 'The connection to the runner failed while the request was running.', {
    cause: error,
  });
}

function parseExecuteResponse(text: string): ExecuteResponse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AlgaError('ALGA_EXECUTION_FAILED', 'The runner answered with a body that is not JSON.');
  }
  const response = value as Partial<ExecuteResponse>;
  if (
    typeof response.status !== 'number' ||
    !Number.isInteger(response.status) ||
    response.status < 100 ||
    response.status > 599 ||
    (response.body_b64 !== null && response.body_b64 !== undefined && typeof response.body_b64 !== 'string')
  ) {
    throw new AlgaError(
      'ALGA_EXECUTION_FAILED',
      'The extension returned an invalid response (status must be 100–599).',
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(response.headers ?? {})) {
    if (typeof headerValue === 'string') headers[name.toLowerCase()] = headerValue;
  }
  return { status: response.status, headers, body_b64: response.body_b64 ?? null };
}

/**
 * Runner errors keep their code and message. A guest timeout stays 504; every
 * other runner failure is a 502 to the client, because a runner-side 4xx
 * (say, its own auth) says nothing about the client's request.
 */
function runnerError(status: number, text: string): AlgaError {
  let code: unknown;
  let message: string | undefined;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    code = body.error?.code;
    message = typeof body.error?.message === 'string' ? body.error.message : undefined;
  } catch {
    // Not our error shape: fall through to a generic 502.
  }
  if (code === 'ALGA_TIMEOUT' || (code === undefined && status === 504)) return new AlgaError('ALGA_TIMEOUT', message);
  if (code === 'ALGA_EXECUTION_FAILED' || code === 'ALGA_MEMORY_LIMIT') return new AlgaError(code, message);
  return new AlgaError('ALGA_EXECUTION_FAILED', message ?? `The runner answered HTTP ${status}.`, {
    details: { runnerStatus: status, ...(isErrorCode(code) ? { runnerCode: code } : {}) },
  });
}
