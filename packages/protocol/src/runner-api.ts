/**
 * The server API runners call back into while a guest runs: the install's
 * key-value storage and the shipping of guest log lines. Every call carries
 * the execution's `alga-server` token, which names the install; the server
 * acts on that install and nothing else. One schema per message, used by the
 * server to validate and by the runner to type (and check) what it gets.
 */
import { Type, type Static } from 'typebox';

export const RUNNER_API_PREFIX = '/api/internal/ext-runner';

/** The `alga-server` token scopes, one per route family. */
export const RUNNER_API_SCOPES = { storage: 'storage', logs: 'logs' } as const;

/** Paths below `RUNNER_API_PREFIX`, already URL-encoded. */
export const runnerApiPaths = {
  /** GET (a page of entries: `?cursor=&limit=`) */
  namespace: (namespace: string) => `/storage/${encodeURIComponent(namespace)}`,
  /** GET, PUT, DELETE one entry. */
  entry: (namespace: string, key: string) => `/storage/${encodeURIComponent(namespace)}/${encodeURIComponent(key)}`,
  /** POST a batch of guest log lines. */
  logs: '/logs',
} as const;

/** A revision on the wire: a decimal string (u64 does not fit a JSON number). */
export const RevisionSchema = Type.String({ pattern: '^(0|[1-9][0-9]{0,19})$' });

export const StorageEntrySchema = Type.Object({
  namespace: Type.String(),
  key: Type.String(),
  value_b64: Type.String(),
  revision: RevisionSchema,
  expires_at: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type StorageEntryWire = Static<typeof StorageEntrySchema>;

export const StoragePutSchema = Type.Object(
  {
    value_b64: Type.String(),
    /** Absent: write unconditionally; null: the key must not exist yet; a revision: it must be at that one. */
    expected_revision: Type.Optional(Type.Union([RevisionSchema, Type.Null()])),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 24 * 3600 })),
  },
  { additionalProperties: false },
);
export type StoragePut = Static<typeof StoragePutSchema>;

export const StoragePutResultSchema = Type.Object({
  namespace: Type.String(),
  key: Type.String(),
  revision: RevisionSchema,
  expires_at: Type.Union([Type.String(), Type.Null()]),
});
export type StoragePutResult = Static<typeof StoragePutResultSchema>;

export const StorageDeleteQuerySchema = Type.Object(
  { expected_revision: Type.Optional(RevisionSchema) },
  { additionalProperties: false },
);

export const StorageListQuerySchema = Type.Object(
  {
    cursor: Type.Optional(Type.String({ maxLength: 2048 })),
    // A string: the server's Ajv never coerces types.
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' })),
  },
  { additionalProperties: false },
);

export const StoragePageSchema = Type.Object({
  entries: Type.Array(StorageEntrySchema),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});
export type StoragePageWire = Static<typeof StoragePageSchema>;

export const GUEST_LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type GuestLogLevel = (typeof GUEST_LOG_LEVELS)[number];
/** Lines the server accepts in one POST. */
export const MAX_LOG_BATCH = 500;
export const MAX_LOG_LINE_CHARS = 8 * 1024;

export const GuestLogLineSchema = Type.Object(
  {
    level: Type.Enum(GUEST_LOG_LEVELS),
    message: Type.String({ maxLength: MAX_LOG_LINE_CHARS }),
    /** ISO time the guest wrote it. */
    at: Type.String({ maxLength: 64 }),
    request_id: Type.Optional(Type.Union([Type.String({ maxLength: 128 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type GuestLogLine = Static<typeof GuestLogLineSchema>;

export const LogBatchSchema = Type.Object(
  { lines: Type.Array(GuestLogLineSchema, { maxItems: MAX_LOG_BATCH }) },
  { additionalProperties: false },
);
export type LogBatch = Static<typeof LogBatchSchema>;

/** One stored guest line as `GET /api/v1/installs/:extensionId/logs` answers it. */
export interface InstallLogLine {
  /** Increasing per install; pass the last one as `?after=` to read only newer lines. */
  id: string;
  at: string;
  level: GuestLogLevel;
  message: string;
  requestId: string | null;
}

/** `GET /api/v1/installs/:extensionId/logs`: oldest first; `nextAfter` is the cursor for the next poll. */
export interface InstallLogsPage {
  lines: InstallLogLine[];
  nextAfter: string | null;
}
