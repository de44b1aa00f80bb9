/**
 * The runner's client of the server's runner API (`RUNNER_API_PREFIX` in
 * protocol): one JSON call with the execution's `alga-server` token, bounded
 * in time and in response size, cancelled with the execution. Used by the
 * storage provider and by guest-log shipping.
 */
import { request, type Dispatcher } from 'undici';
import { RUNNER_API_PREFIX, type ExecuteRequest } from '@alga-psa/protocol';
import { readCapped, ResponseTooLargeError } from '../read-body.ts';

export interface ServerCall {
  token: string;
  method: 'GET' | 'PUT' | 'DELETE' | 'POST';
  /** Below the runner API prefix, already URL-encoded (protocol's `runnerApiPaths`). */
  path: string;
  body?: unknown;
  timeoutMs: number;
  maxResponseBytes: number;
  /** The execution's signal: the call is abandoned when it aborts. */
  signal?: AbortSignal | undefined;
  /** The W3C trace context of the client span this call is made in (tracing on); the server continues it. */
  traceparent?: string | undefined;
}

export type ServerCallResult =
  | { kind: 'response'; status: number; body: unknown }
  /** The call never produced a usable answer: network error, timeout, oversized or non-JSON body. */
  | { kind: 'transport'; reason: string };

export interface ServerApi {
  call(call: ServerCall): Promise<ServerCallResult>;
}

/** The execution's server token, when the gateway sent one. */
export function serverToken(request: Pick<ExecuteRequest, 'server_token'>): string | undefined {
  const token = request.server_token;
  return typeof token === 'string' && token.length > 0 ? token : undefined;
}

export function createServerApi(options: { serverUrl: string; dispatcher?: Dispatcher | undefined }): ServerApi {
  return {
    async call(call) {
      if (call.signal?.aborted) return { kind: 'transport', reason: 'the execution ended' };
      const deadline = AbortSignal.timeout(call.timeoutMs);
      const signal = call.signal ? AbortSignal.any([call.signal, deadline]) : deadline;
      try {
        const response = await request(new URL(`${RUNNER_API_PREFIX}${call.path}`, options.serverUrl), {
          method: call.method,
          headers: {
            authorization: `Bearer ${call.token}`,
            accept: 'application/json',
            ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(call.traceparent ? { traceparent: call.traceparent } : {}),
          },
          ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
          signal,
          ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        });
        const text = (await readCapped(response, call.maxResponseBytes)).toString('utf8');
        if (text.length === 0) return { kind: 'response', status: response.statusCode, body: undefined };
        try {
          return { kind: 'response', status: response.statusCode, body: JSON.parse(text) as unknown };
        } catch {
          return {
            kind: 'transport',
            reason: `the server answered ${response.statusCode} with a body that is not JSON`,
          };
        }
      } catch (error) {
        if (error instanceof ResponseTooLargeError) {
          return { kind: 'transport', reason: `The server's answer exceeded ${error.limit} bytes.` };
        }
        if (deadline.aborted) return { kind: 'transport', reason: `timed out after ${call.timeoutMs} ms` };
        if (signal.aborted) return { kind: 'transport', reason: 'the execution ended' };
        const code = (error as { code?: unknown }).code;
        return { kind: 'transport', reason: typeof code === 'string' ? code : ((error as Error).name ?? 'error') };
      }
    },
  };
}
