/**
 * `alga:extension/logging`: the guest's log lines, written by the runner's
 * logger with the request's ids and `source: 'guest'`. Requires `cap:log.emit`.
 *
 * Every secret value decrypted in this execution is masked (plain, base64,
 * base64url and URL-encoded) before the line is written, and a message is
 * capped at 8 KiB so one guest cannot flood the log pipeline.
 *
 * The lines are also kept per install on the server, so a tenant's admins can
 * read their install's recent logs: see `ship.ts`.
 */
import type { Dispatcher } from 'undici';
import { maskSecrets } from '../../redact.ts';
import type { ExecutionScope, Provider } from '../types.ts';
import { LogShipper, type ShipStats } from './ship.ts';

export { MAX_SHIPPED_LINES, MAX_SHIPPED_BYTES, type ShipStats } from './ship.ts';

export interface LoggingProviderOptions {
  /** The server's base URL (`ALGA_SERVER_URL`); without it lines stay in the runner's own log only. */
  serverUrl?: string | undefined;
  /** How long one shipment may take. Default 2000 ms. */
  shipTimeoutMs?: number;
  /** How long an install's lines may wait to be shipped together. Default 500 ms. */
  shipBatchWindowMs?: number;
  /** For tests. */
  dispatcher?: Dispatcher;
}

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

function write(level: Level, shipper: LogShipper) {
  return (scope: ExecutionScope, message: string): void => {
    // Mask before truncating, so a cut cannot leave half a secret unmasked.
    const { text, truncated } = truncate(maskSecrets(String(message), scope.secretValues));
    scope.logger[level]({ source: 'guest', ...(truncated ? { truncated: true } : {}) }, text);
    shipper.keep(scope, level, text);
  };
}

export function createLoggingProvider(
  options: LoggingProviderOptions = {},
): Provider & { shipStats(): ShipStats; shipIdle(): Promise<void> } {
  const shipper = new LogShipper({
    serverUrl: options.serverUrl,
    timeoutMs: options.shipTimeoutMs ?? 2000,
    batchWindowMs: options.shipBatchWindowMs,
    dispatcher: options.dispatcher,
  });
  return {
    shipStats: () => shipper.stats(),
    shipIdle: () => shipper.idle(),
    close: () => shipper.idle(),
    name: 'logging',
    iface: 'logging',
    capability: 'cap:log.emit',
    functions: {
      logInfo: write('info', shipper),
      logWarn: write('warn', shipper),
      logError: write('error', shipper),
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
