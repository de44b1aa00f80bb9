/**
 * The error registry: every error the platform returns to a client has a
 * stable code and exactly one HTTP status. Codes are never reused or renamed;
 * retire a code by leaving its row in place with a note.
 *
 * Messages are written for the person reading them: what went wrong and what
 * to do. They never contain secret values, ciphertext or another tenant's ids.
 */
export const ERRORS = {
  ALGA_BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  ALGA_VALIDATION_FAILED: { status: 400, message: 'The request failed validation.' },
  ALGA_UNKNOWN_CAPABILITY: { status: 400, message: 'Unknown capability id.' },
  ALGA_UNAUTHENTICATED: { status: 401, message: 'Missing or invalid credentials.' },
  ALGA_FORBIDDEN: { status: 403, message: 'The credential is not allowed to do this.' },
  ALGA_NOT_FOUND: { status: 404, message: 'Not found.' },
  ALGA_ROUTE_NOT_FOUND: { status: 404, message: 'The extension declares no endpoint for this method and path.' },
  ALGA_BUNDLE_NOT_FOUND: { status: 404, message: 'No bundle with this content hash.' },
  ALGA_VERSION_CONFLICT: { status: 409, message: 'This version was already published with different content.' },
  ALGA_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  ALGA_BUNDLE_HASH_MISMATCH: { status: 422, message: 'The bundle does not match its content hash.' },
  ALGA_INVALID_COMPONENT: { status: 422, message: 'The bundle is not a valid extension component.' },
  ALGA_INVALID_MANIFEST: { status: 422, message: 'The extension manifest is invalid.' },
  ALGA_RATE_LIMITED: { status: 429, message: 'Too many requests.' },
  ALGA_INTERNAL: { status: 500, message: 'Internal error.' },
  ALGA_EXECUTION_FAILED: { status: 502, message: 'The extension failed while handling the request.' },
  ALGA_MEMORY_LIMIT: { status: 502, message: 'The extension exceeded its memory limit.' },
  ALGA_RUNNER_UNAVAILABLE: { status: 503, message: 'No runner is available.' },
  ALGA_TRANSIT_UNAVAILABLE: { status: 503, message: 'The secret transit backend is unavailable.' },
  ALGA_DATABASE_UNAVAILABLE: { status: 503, message: 'The database is unavailable; retry shortly.' },
  ALGA_TIMEOUT: { status: 504, message: 'The extension did not answer before its deadline.' },
  ALGA_INVALID_ARCHIVE: {
    status: 422,
    message: 'The bundle archive is malformed or holds an entry that is not allowed; rebuild it with `alga pack`.',
  },
  ALGA_IMPORT_NOT_ALLOWED: {
    status: 422,
    message: 'The component imports an interface that its manifest does not allow.',
  },
  ALGA_STORAGE_CONFLICT: {
    status: 409,
    message: 'The entry has a different revision than expected; read it again and retry.',
  },
  ALGA_STORAGE_QUOTA_EXCEEDED: { status: 413, message: "The write would exceed the install's storage quota." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string; details?: unknown };
}

export class AlgaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { details?: unknown; cause?: unknown }) {
    super(message ?? ERRORS[code].message, { cause: options?.cause });
    this.name = 'AlgaError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options?.details;
  }

  toBody(requestId?: string): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(requestId ? { requestId } : {}),
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
