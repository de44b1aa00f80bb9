/**
 * The error registry: every error the platform returns to a client has a
 * stable code and exactly one HTTP status. Codes are never reused or renamed;
 * retire a code by leaving its row in place with a note.
 *
 * Throw sites do not write prose: each package defines its error kinds once
 * (`defineError(code, template)` in its own `errors.ts`) and a throw site
 * passes the template's arguments, as Fastify's `createError` does.
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
  ALGA_REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  ALGA_PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  ALGA_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "The request body's Content-Type is not one this route takes." },
  ALGA_HEADERS_TOO_LARGE: { status: 431, message: "The request's headers are too large." },
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
  ALGA_SIGNATURE_REQUIRED: {
    status: 422,
    message: 'The bundle is not signed, and signed bundles are required; publish it with `alga publish --sign <key>`.',
  },
  ALGA_SIGNATURE_INVALID: {
    status: 422,
    message: 'The bundle signature does not verify or does not match the bundle.',
  },
  ALGA_SIGNATURE_UNTRUSTED: {
    status: 422,
    message: 'The bundle is signed by a key that is not trusted for this tenant.',
  },
  ALGA_SIGNING_KEY_REVOKED: { status: 403, message: 'The bundle is signed by a revoked key and may not run.' },
  ALGA_CAPABILITY_DISABLED: {
    status: 403,
    message: 'The platform operator has disabled a capability this extension needs.',
  },
  ALGA_ALREADY_EXISTS: { status: 409, message: 'Something with this name already exists.' },
  ALGA_CONFLICT: {
    status: 409,
    message: 'The request conflicts with the current state; see the message for what to do first.',
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId?: string; details?: unknown };
}

export interface AlgaErrorOptions {
  /** Structured detail for the client (field errors, the ids it may retry with). Never a secret. */
  details?: unknown;
  /** The underlying error, for the server's own log only. */
  cause?: unknown;
}

export class AlgaError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: AlgaErrorOptions) {
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

  /**
   * The error a peer answered with (an `ErrorBody`), or undefined when the
   * body is not one. For clients of our own APIs (the gateway reading a
   * runner's answer, the CLI reading the server's).
   */
  static fromBody(body: unknown): AlgaError | undefined {
    const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    if (!error || !isErrorCode(error.code)) return undefined;
    return new AlgaError(error.code, typeof error.message === 'string' ? error.message : undefined, {
      ...(error.details === undefined ? {} : { details: error.details }),
    });
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

const PLACEHOLDER = /\{[A-Za-z0-9_]+\}/;
const PLACEHOLDERS = /\{([A-Za-z0-9_]+)\}/g;

/** The `{name}` placeholders of a message template. */
type Placeholders<T extends string> = T extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** What an error kind is called with: the template's arguments (when it has any), then options. */
export type ErrorArgs<T extends string> = [Placeholders<T>] extends [never]
  ? [options?: AlgaErrorOptions]
  : [params: Record<Placeholders<T>, string | number | bigint>, options?: AlgaErrorOptions];

/** One kind of error: a registry code and the message template its throw sites fill in. */
export interface ErrorKind<T extends string> {
  (...args: ErrorArgs<T>): AlgaError;
  readonly code: ErrorCode;
  readonly template: T;
}

/**
 * Defines an error kind once: `const notInstalled = defineError('ALGA_NOT_FOUND',
 * 'Extension "{extensionId}" is not installed for this tenant.')`, thrown as
 * `throw notInstalled({ extensionId })`. Hand-written rather than
 * `@fastify/error`: the placeholders are checked by the compiler, and the
 * module stays free of Node built-ins so the browser UI can import it.
 */
export function defineError<const T extends string>(code: ErrorCode, template: T): ErrorKind<T> {
  const kind = (...args: unknown[]): AlgaError => {
    const hasParams = PLACEHOLDER.test(template);
    const params = (hasParams ? args[0] : undefined) as Record<string, unknown> | undefined;
    const options = (hasParams ? args[1] : args[0]) as AlgaErrorOptions | undefined;
    const message = template.replace(PLACEHOLDERS, (whole, name: string) =>
      params && Object.hasOwn(params, name) ? String(params[name]) : whole,
    );
    return new AlgaError(code, message, options);
  };
  return Object.assign(kind, { code, template }) as ErrorKind<T>;
}
