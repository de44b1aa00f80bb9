/**
 * `alga:extension/logging`: the guest's log lines, written by the runner's
 * logger with the request's ids and `source: 'guest'`. Unlocked by `cap:log.emit`.
 *
 * Every secret value decrypted in this execution is masked (plain, base64,
 * base64url and URL-encoded) before the line is written, and a message is
 * capped at 8 KiB and an execution at 1,000 lines, so one guest cannot flood
 * the log pipeline.
 *
 * The lines are also kept per install on the server, so a tenant's admins can
 * read their install's recent logs: see `ship.ts`.
 */
import { executionState, type ExecutionScope } from '../../host-calls/index.ts';
import { maskSecrets } from '../../redact.ts';
import type { ServerApi } from '../../server-api/client.ts';
import { defineProvider, type ProviderImpl } from '../types.ts';
import { LogShipper, type ShipStats } from './ship.ts';

export { MAX_SHIPPED_LINES, MAX_SHIPPED_BYTES, type ShipStats } from './ship.ts';

export interface LoggingOptions {
  /** The server's runner API; without it lines stay in the runner's own log only. */
  serverApi?: ServerApi | undefined;
  /** How long one shipment may take. Default 2000 ms. */
  shipTimeoutMs?: number;
  /** How long an install's lines may wait to be shipped together. Default 500 ms. */
  shipBatchWindowMs?: number;
}

export const MAX_GUEST_LOG_BYTES = 8 * 1024;
/** Lines one execution may write; past it they are only counted, and one line says how many (a loop of log calls cannot flood the log pipeline). */
export const MAX_GUEST_LOG_LINES = 1000;

type Level = 'info' | 'warn' | 'error';

/** Lines of this execution dropped because the capability is missing; the count is reported once, at the end. */
const dropped = executionState('logging.dropped', (scope) => {
  const state = { lines: 0 };
  scope.defer(() => {
    scope.logger.debug(
      { provider: 'logging', dropped: state.lines },
      'guest log lines dropped: cap:log.emit not granted',
    );
  });
  return state;
});

function truncate(message: string): { text: string; truncated: boolean } {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most lines need no encoding to know they fit.
  if (message.length * 3 <= MAX_GUEST_LOG_BYTES) return { text: message, truncated: false };
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= MAX_GUEST_LOG_BYTES) return { text: message, truncated: false };
  // May cut a multi-byte character; the decoder turns the tail into U+FFFD.
  return { text: bytes.subarray(0, MAX_GUEST_LOG_BYTES).toString('utf8'), truncated: true };
}

/** Lines of this execution written and dropped past `MAX_GUEST_LOG_LINES`. */
const volume = executionState('logging.volume', () => ({ lines: 0, dropped: 0 }));

function write(level: Level, shipper: LogShipper) {
  return (scope: ExecutionScope, message: string): void => {
    const counted = scope.state(volume);
    if (++counted.lines > MAX_GUEST_LOG_LINES) {
      if (counted.dropped++ === 0) scope.defer(() => reportDropped(scope, shipper, counted.dropped));
      return;
    }
    // Mask before truncating, so a cut cannot leave half a secret unmasked.
    const { text, truncated } = truncate(maskSecrets(String(message), scope.masked));
    scope.logger[level]({ source: 'guest', ...(truncated ? { truncated: true } : {}) }, text);
    // The server refuses text its database cannot store (a NUL): one such line must not lose its batch.
    shipper.keep(scope, level, text.replaceAll('\0', '\uFFFD'));
  };
}

function reportDropped(scope: ExecutionScope, shipper: LogShipper, dropped: number): void {
  const text = `${dropped} more log line(s) of this request were dropped: at most ${MAX_GUEST_LOG_LINES} are kept per request`;
  scope.logger.warn({ source: 'guest', dropped }, text);
  shipper.keep(scope, 'warn', text);
}

export function loggingImpl(
  options: LoggingOptions = {},
): ProviderImpl<'logging'> & { shipStats(): ShipStats; shipIdle(): Promise<void> } {
  const shipper = new LogShipper({
    serverApi: options.serverApi,
    timeoutMs: options.shipTimeoutMs ?? 2000,
    batchWindowMs: options.shipBatchWindowMs,
  });
  return {
    shipStats: () => shipper.stats(),
    shipIdle: () => shipper.idle(),
    close: () => shipper.idle(),
    functions: {
      logInfo: write('info', shipper),
      logWarn: write('warn', shipper),
      logError: write('error', shipper),
    },
    denied(_fn, scope) {
      // No error variant: drop the line, count it, report the count once.
      scope.state(dropped).lines += 1;
      return undefined;
    },
  };
}

export const loggingProvider = defineProvider({
  iface: 'logging',
  // Nothing to answer: a worker posts the line and the guest goes on.
  oneWay: true,
  // Warm-up lines are dropped.
  warmUp: { logInfo: undefined, logWarn: undefined, logError: undefined },
  create: ({ deps }) => loggingImpl({ serverApi: deps.serverApi }),
});
