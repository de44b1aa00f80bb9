/**
 * `alga:extension/logging`: the guest's log lines, written by the runner's
 * logger with the request's ids and `source: 'guest'`. Requires `cap:log.emit`.
 *
 * Every secret value decrypted in this execution is masked (plain, base64,
 * base64url and URL-encoded) before the line is written, and a message is
 * capped at 8 KiB so one guest cannot flood the log pipeline.
 */
import { maskSecrets } from '../../redact.ts';
import type { ExecutionScope, Provider } from '../types.ts';

export const MAX_GUEST_LOG_BYTES = 8 * 1024;

type Level = 'info' | 'warn' | 'error';

/** Per-execution state: lines dropped because the capability is missing. */
interface LoggingMemo {
  dropped: number;
}

function truncate(message: string): { text: string; truncated: boolean } {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= MAX_GUEST_LOG_BYTES) return { text: message, truncated: false };
  // May cut a multi-byte character; the decoder turns the tail into U+FFFD.
  return { text: bytes.subarray(0, MAX_GUEST_LOG_BYTES).toString('utf8'), truncated: true };
}

function write(level: Level) {
  return (scope: ExecutionScope, message: string): void => {
    // Mask before truncating, so a cut cannot leave half a secret unmasked.
    const { text, truncated } = truncate(maskSecrets(String(message), scope.secretValues));
    scope.logger[level]({ source: 'guest', ...(truncated ? { truncated: true } : {}) }, text);
  };
}

export function createLoggingProvider(): Provider {
  return {
    name: 'logging',
    iface: 'logging',
    capability: 'cap:log.emit',
    functions: {
      logInfo: write('info'),
      logWarn: write('warn'),
      logError: write('error'),
    },
    denied(_fn, scope) {
      // No error variant: drop the line, count it, report the count once.
      let memo = scope.memo.get('logging') as LoggingMemo | undefined;
      if (!memo) {
        const created: LoggingMemo = { dropped: 0 };
        memo = created;
        scope.memo.set('logging', created);
        scope.defer(() => {
          scope.logger.debug(
            { provider: 'logging', dropped: created.dropped },
            'guest log lines dropped: cap:log.emit not granted',
          );
        });
      }
      memo.dropped += 1;
      return undefined;
    },
  };
}
