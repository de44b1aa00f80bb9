/**
 * Ships an execution's guest log lines to the server (`POST …/logs`), which
 * keeps the newest lines per install for the tenant's admins.
 *
 * Lines are buffered on the execution (bounded in count and bytes), masked
 * when it ends, then gathered per install for up to `batchWindowMs` (or a
 * full batch) and sent with that install's latest `alga-server` token, so a
 * busy install costs the server one insert per window instead of one per
 * request. Shipping is fire-and-forget with its own timeout: it never delays
 * the response, never fails the execution, and a broken server costs one
 * warning per outage (the failure counter keeps the rest).
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
/** The server accepts at most 500 lines per POST. */
const MAX_BATCH_LINES = 500;
/** Installs with lines waiting; beyond this a batch is sent at once rather than held. */
const MAX_PENDING_INSTALLS = 1000;

/** One install's lines waiting for the window to close. */
interface PendingBatch {
  token: string;
  logger: ExecutionScope['logger'];
  lines: ShippedLine[];
  timer: NodeJS.Timeout;
}

export class LogShipper {
  readonly #serverUrl: string | undefined;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #stats: ShipStats = { shipped: 0, failed: 0, dropped: 0 };
  readonly #inflight = new Set<Promise<void>>();
  readonly #pending = new Map<string, PendingBatch>();
  readonly #batchWindowMs: number;
  /** True between a failure and the next success: one warning per outage. */
  #failing = false;

  constructor(options: {
    serverUrl?: string | undefined;
    timeoutMs: number;
    /** How long an install's lines may wait to be sent together (default 500 ms; 0 sends per execution). */
    batchWindowMs?: number;
    dispatcher?: Dispatcher | undefined;
  }) {
    this.#serverUrl = options.serverUrl;
    this.#timeoutMs = options.timeoutMs;
    this.#batchWindowMs = options.batchWindowMs ?? 500;
    this.#dispatcher = options.dispatcher;
  }

  stats(): ShipStats {
    return { ...this.#stats };
  }

  /** Sends every waiting batch now and resolves when all shipments have finished (tests, shutdown). */
  async idle(): Promise<void> {
    for (const key of [...this.#pending.keys()]) this.#sendPending(key);
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
    const { tenant_id: tenantId, install_id: installId } = scope.request.context;
    const key = JSON.stringify([tenantId, installId]);
    const token = serverToken(scope)!;
    const pending = this.#pending.get(key);
    if (pending) {
      // The newest token for the install: it lives at least as long as the older one.
      pending.token = token;
      pending.logger = scope.logger;
      pending.lines.push(...lines);
      if (pending.lines.length >= MAX_BATCH_LINES - MAX_SHIPPED_LINES) this.#sendPending(key);
      return;
    }
    if (this.#batchWindowMs === 0 || this.#pending.size >= MAX_PENDING_INSTALLS) {
      this.#start(scope.logger, token, lines);
      return;
    }
    const timer = setTimeout(() => this.#sendPending(key), this.#batchWindowMs);
    timer.unref();
    this.#pending.set(key, { token, logger: scope.logger, lines, timer });
  }

  #sendPending(key: string): void {
    const batch = this.#pending.get(key);
    if (!batch) return;
    this.#pending.delete(key);
    clearTimeout(batch.timer);
    this.#start(batch.logger, batch.token, batch.lines);
  }

  #start(logger: ExecutionScope['logger'], token: string, lines: ShippedLine[]): void {
    const shipment = this.#send(logger, token, lines).finally(() => this.#inflight.delete(shipment));
    this.#inflight.add(shipment);
  }

  async #send(logger: ExecutionScope['logger'], token: string, lines: ShippedLine[]): Promise<void> {
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
      this.#failed(logger, reason);
    } catch (error) {
      this.#failed(logger, (error as Error).name);
    }
  }

  #failed(logger: ExecutionScope['logger'], reason: string): void {
    this.#stats.failed += 1;
    const detail = { provider: 'logging', reason, failed: this.#stats.failed };
    if (this.#failing) {
      logger.debug(detail, 'guest log shipping failed again');
    } else {
      this.#failing = true;
      logger.warn(detail, `guest log lines could not be shipped to the server (${reason}); they are in this log only`);
    }
  }
}
