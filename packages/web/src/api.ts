/**
 * The one way the UI talks to the server. Every write carries the CSRF token
 * the server issued for this session; cookies are same-origin and HttpOnly,
 * so this code never sees the session itself.
 */
import type { ConfigFieldError, SessionInfo } from '@alga-psa/protocol';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Per-field messages from the server's validation (`details: [{field, message}]`). */
  get fieldErrors(): ConfigFieldError[] {
    return Array.isArray(this.details)
      ? (this.details as unknown[]).filter(
          (d): d is ConfigFieldError => typeof d === 'object' && d !== null && 'field' in d && 'message' in d,
        )
      : [];
  }
}

let csrfToken = '';

export async function loadSession(): Promise<SessionInfo> {
  const session = await request<SessionInfo>('GET', '/ui/api/session');
  csrfToken = session.csrfToken;
  return session;
}

function isCsrfFailure(error: unknown): boolean {
  return (
    error instanceof ApiError &&
    error.status === 403 &&
    (error.details as { reason?: string } | undefined)?.reason === 'csrf'
  );
}

async function request<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'UNKNOWN',
      error?.message ?? `The server answered ${response.status}.`,
      error?.details,
    );
  }
  return json as T;
}

/** A state-changing request. It retries once with a fresh token: a server restart invalidates the one we held. */
export async function mutate<T>(method: 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<T> {
  try {
    return await request<T>(method, url, body);
  } catch (error) {
    if (!isCsrfFailure(error)) throw error;
    await loadSession();
    return request<T>(method, url, body);
  }
}

export function get<T>(url: string): Promise<T> {
  return request<T>('GET', url);
}

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** The session's CSRF token, for requests the app makes outside `mutate` (extension pages' proxy calls). */
export function csrfTokenValue(): string {
  return csrfToken;
}
