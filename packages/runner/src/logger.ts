/** The runner's root logger: path redaction plus value masking for execution loggers. */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './settings.ts';
import { maskingLogMethod } from './redact.ts';

/** Paths pino must never print, whatever a future log call passes it. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'secret_envelope',
  '*.secret_envelope',
  '*.*.secret_envelope',
  'server_token',
  '*.server_token',
  '*.*.server_token',
];

export function createLogger(options: { level?: LogLevel; stream?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      // Value-based masking for execution loggers (see host-calls/scope.ts): pino's
      // `redact` only knows paths, a secret can sit inside any string.
      hooks: { logMethod: maskingLogMethod },
    },
    options.stream ?? asyncStdout(),
  );
}

/** Lines wait in the buffer until it holds this many bytes… */
export const LOG_BATCH_BYTES = 4096;
/** …or at most this long (ms): a quiet runner's line still shows within a tenth of a second. */
export const LOG_FLUSH_MS = 100;

/**
 * stdout, written asynchronously and in batches: lines collect in a buffer
 * that leaves in one write when it holds LOG_BATCH_BYTES or every
 * LOG_FLUSH_MS, so under load one write carries many requests' lines
 * instead of one each, and no request waits for the pipe. pino flushes the
 * buffer synchronously when the process exits. Why: docs/perf/034-request-path.md, 036-log-batches.md.
 */
export function asyncStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS });
}
