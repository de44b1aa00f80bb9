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

/**
 * stdout, written asynchronously: a line is appended to a buffer and the
 * buffer leaves in one write when the previous write is done, so under load
 * many lines share a write and no request waits for the pipe. pino flushes
 * the buffer synchronously when the process exits. Why: docs/perf/034-request-path.md.
 */
export function asyncStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}
