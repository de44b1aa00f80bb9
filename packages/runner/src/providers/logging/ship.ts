/**
 * Ships an execution's guest log lines to the server (`POST …/logs`), which
 * keeps the newest lines per install for the tenant's admins.
 *
 * Lines are buffered on the execution (bounded in count and bytes) and sent
 * once, after the execution ends, with that execution's `alga-server` token.
 * Shipping is fire-and-forget with its own timeout: it never delays the
 * response, never fails the execution, and a broken server costs one warning
 * per outage (the failure counter keeps the rest).
 */
import type { Dispatcher } from 'undici';
import { maskSecrets } from '../../redact.ts';
import type { ExecutionScope } from '../types.ts';
import { callServer, serverToken } from '../storage/client.ts';

/** Per execution; the server accepts at most 500 lines per batch. */
export const MAX_SHIPPED_LINES = 200;
export const MAX_SHIPPED_BYTES = 256 * 1024;

interface ShippedLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  at: string;
  request_id: string;
}

interface ShipMemo {
  lines: ShippedLine[];
  bytes: number;
  dropped: number;
}

/** Process-wide counters (no tenant data). */
export interface ShipStats {
  shipped: number;
  failed: number;
  /** Lines not kept because an execution's buffer was full. */
  dropped: number;
}

const MEMO_KEY = 'logging.ship';

export class LogShipper {
  readonly #serverUrl: string | undefined;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #stats: ShipStats = { shipped: 0, failed: 0, dropped: 0 };
  readonly #inflight = new Set<Promise<void>>();
  /** True between a failure and the next success: one warning per outage. */
  #failing = false;

  constructor(options: { serverUrl?: string | undefined; timeoutMs: number; dispatcher?: Dispatcher | undefined }) {
    this.#serverUrl = options.serverUrl;
    this.#timeoutMs = options.timeoutMs;
    this.#dispatcher = options.dispatcher;
  }

  stats(): ShipStats {
    return { ...this.#stats };
  }

  /** Resolves when every shipment started so far has finished (for tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#inflight]);
  }

  /** Buffers one (already masked and capped) line of this execution. */
  keep(scope: ExecutionScope, level: ShippedLine['level'], message: string): void {
    // Without a server or a token, the runner's own log is the only copy.
    if (!this.#serverUrl || !serverToken(scope)) return;
    let memo = scope.memo.get(MEMO_KEY) as ShipMemo | undefined;
    if (!memo) {
      const created: ShipMemo = { lines: [], bytes: 0, dropped: 0 };
      memo = created;
      scope.memo.set(MEMO_KEY, created);
      scope.defer(() => this.#flush(scope, created));
    }
    const size = Buffer.byteLength(message, 'utf8');
    if (memo.lines.length >= MAX_SHIPPED_LINES || memo.bytes + size > MAX_SHIPPED_BYTES) {
      memo.dropped += 1;
      this.#stats.dropped += 1;
      return;
    }
    memo.bytes += size;
    memo.lines.push({ level, message, at: new Date().toISOString(), request_id: scope.request.context.request_id });
  }

  #flush(scope: ExecutionScope, memo: ShipMemo): void {
    if (memo.lines.length === 0) return;
    // Mask again with every secret the execution read, including those read
    // after a line was written (deferred clean-ups run before the set is wiped).
    const lines = memo.lines.map((line) => ({ ...line, message: maskSecrets(line.message, scope.secretValues) }));
    if (memo.dropped > 0) {
      lines.push({
        level: 'warn',
        message: `[runner] ${memo.dropped} more log line(s) of this request were not kept (limit ${MAX_SHIPPED_LINES} lines / ${MAX_SHIPPED_BYTES} bytes).`,
        at: new Date().toISOString(),
        request_id: scope.request.context.request_id,
      });
    }
    const token = serverToken(scope)!;
    const shipment = this.#send(scope, token, lines).finally(() => this.#inflight.delete(shipment));
    this.#inflight.add(shipment);
  }

  async #send(scope: ExecutionScope, token: string, lines: ShippedLine[]): Promise<void> {
    try {
      const result = await callServer({
        serverUrl: this.#serverUrl!,
        token,
        method: 'POST',
        path: '/logs',
        body: { lines },
        timeoutMs: this.#timeoutMs,
        maxResponseBytes: 64 * 1024,
        dispatcher: this.#dispatcher,
      });
      if (result.kind === 'response' && result.status >= 200 && result.status < 300) {
        this.#stats.shipped += lines.length;
        this.#failing = false;
        return;
      }
      const reason = result.kind === 'transport' ? result.reason : `HTTP ${result.status}`;
      this.#failed(scope, reason);
    } catch (error) {
      this.#failed(scope, (error as Error).name);
    }
  }

  #failed(scope: ExecutionScope, reason: string): void {
    this.#stats.failed += 1;
    const detail = { provider: 'logging', reason, failed: this.#stats.failed };
    if (this.#failing) {
      scope.logger.debug(detail, 'guest log shipping failed again');
    } else {
      this.#failing = true;
      scope.logger.warn(
        detail,
        `guest log lines could not be shipped to the server (${reason}); they are in this log only`,
      );
    }
  }
}
