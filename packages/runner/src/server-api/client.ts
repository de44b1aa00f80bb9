/**
 * The runner's side of the server's runner API (`/api/internal/ext-runner`):
 * one JSON call with the execution's `alga-server` token, bounded in time (by
 * the execution's own deadline too) and in response size, aborted when the
 * execution ends. Shared by the storage provider and log shipping.
 */
import { request, type Dispatcher } from 'undici';
import type { ExecutionScope } from '../types.ts';

export const RUNNER_API_PREFIX = '/api/internal/ext-runner';

/**
 * The execution's server token. Read defensively: the field is optional in
 * the protocol (older gateways do not send it) and typed there by the
 * runner's owners.
 */
export function serverToken(scope: ExecutionScope): string | undefined {
  const token = (scope.request as { server_token?: unknown }).server_token;
  return typeof token === 'string' && token.length > 0 ? token : undefined;
}

export interface ServerCallOptions {
  serverUrl: string;
  token: string;
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  /** Below the runner API prefix, already URL-encoded. */
  path: string;
  body?: unknown;
  timeoutMs: number;
  maxResponseBytes: number;
  signal?: AbortSignal | undefined;
  dispatcher?: Dispatcher | undefined;
}

export type ServerCallResult =
  | { kind: 'response'; status: number; body: unknown }
  /** The call never produced a usable answer: network error, timeout, oversized or non-JSON body. */
  | { kind: 'transport'; reason: string };

export class ResponseTooLarge extends Error {
  constructor(limit: number) {
    super(`The server's answer exceeded ${limit} bytes.`);
    this.name = 'ResponseTooLarge';
  }
}

export async function callServer(options: ServerCallOptions): Promise<ServerCallResult> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) return { kind: 'transport', reason: 'the execution ended' };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error('timeout')), options.timeoutMs);
  try {
    const url = new URL(`${RUNNER_API_PREFIX}${options.path}`, options.serverUrl);
    const response = await request(url, {
      method: options.method,
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: controller.signal,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const declared = Number(response.headers['content-length']);
    if (Number.isFinite(declared) && declared > options.maxResponseBytes) {
      response.body.destroy();
      return { kind: 'transport', reason: new ResponseTooLarge(options.maxResponseBytes).message };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxResponseBytes) {
        response.body.destroy();
        return { kind: 'transport', reason: new ResponseTooLarge(options.maxResponseBytes).message };
      }
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.length === 0) return { kind: 'response', status: response.statusCode, body: undefined };
    try {
      return { kind: 'response', status: response.statusCode, body: JSON.parse(text) as unknown };
    } catch {
      return { kind: 'transport', reason: `the server answered ${response.statusCode} with a body that is not JSON` };
    }
  } catch (error) {
    if (controller.signal.aborted) {
      const reason = controller.signal.reason as Error | undefined;
      return {
        kind: 'transport',
        reason: reason?.message === 'timeout' ? `timed out after ${options.timeoutMs} ms` : 'the execution ended',
      };
    }
    const code = (error as { code?: unknown }).code;
    return { kind: 'transport', reason: typeof code === 'string' ? code : ((error as Error).name ?? 'error') };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** `{error: {code, message}}` from the server's error registry, when the body has one. */
export function serverError(body: unknown): { code: string; message: string } | undefined {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (error && typeof error.code === 'string') {
    return { code: error.code, message: typeof error.message === 'string' ? error.message : '' };
  }
  return undefined;
}
