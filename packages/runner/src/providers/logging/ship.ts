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
import { MAX_LOG_BATCH, runnerApiPaths, type GuestLogLine } from '@alga-psa/protocol';
import { executionState, type ExecutionScope, type StateKey } from '../../host-calls/index.ts';
import { maskSecrets } from '../../redact.ts';
import { serverToken, type ServerApi } from '../../server-api/client.ts';

/** Per execution; the server accepts at most 500 lines per batch. */
export const MAX_SHIPPED_LINES = 200;
export const MAX_SHIPPED_BYTES = 256 * 1024;

type ShippedLine = GuestLogLine;

/** One execution's lines, kept until it ends. */
interface ExecutionLines {
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
  readonly #serverApi: ServerApi | undefined;
  readonly #timeoutMs: number;
  readonly #lines: StateKey<ExecutionLines>;
  readonly #stats: ShipStats = { shipped: 0, failed: 0, dropped: 0 };
  readonly #inflight = new Set<Promise<void>>();
  readonly #pending = new Map<string, PendingBatch>();
  readonly #batchWindowMs: number;
  /** True between a failure and the next success: one warning per outage. */
  #failing = false;

  constructor(options: {
    serverApi?: ServerApi | undefined;
    timeoutMs: number;
    /** How long an install's lines may wait to be sent together (default 500 ms; 0 sends per execution). */
    batchWindowMs?: number | undefined;
  }) {
    this.#serverApi = options.serverApi;
    this.#timeoutMs = options.timeoutMs;
    this.#batchWindowMs = options.batchWindowMs ?? 500;
    this.#lines = executionState('logging.ship', (scope) => {
      const lines: ExecutionLines = { lines: [], bytes: 0, dropped: 0 };
      scope.defer(() => this.#flush(scope, lines));
      return lines;
    });
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
    if (!this.#serverApi || !serverToken(scope.request)) return;
    const kept = scope.state(this.#lines);
    const size = Buffer.byteLength(message, 'utf8');
    if (kept.lines.length >= MAX_SHIPPED_LINES || kept.bytes + size > MAX_SHIPPED_BYTES) {
      kept.dropped += 1;
      this.#stats.dropped += 1;
      return;
    }
    kept.bytes += size;
    kept.lines.push({ level, message, at: new Date().toISOString(), request_id: scope.request.context.request_id });
  }

  #flush(scope: ExecutionScope, kept: ExecutionLines): void {
    if (kept.lines.length === 0) return;
    // Mask again with every secret the execution read, including those read
    // after a line was written (deferred clean-ups run before the set is wiped).
    const lines = kept.lines.map((line) => ({ ...line, message: maskSecrets(line.message, scope.masked) }));
    if (kept.dropped > 0) {
      lines.push({
        level: 'warn',
        message: `[runner] ${kept.dropped} more log line(s) of this request were not kept (limit ${MAX_SHIPPED_LINES} lines / ${MAX_SHIPPED_BYTES} bytes).`,
        at: new Date().toISOString(),
        request_id: scope.request.context.request_id,
      });
    }
    const { tenant_id: tenantId, install_id: installId } = scope.request.context;
    const key = JSON.stringify([tenantId, installId]);
    const token = serverToken(scope.request)!;
    const pending = this.#pending.get(key);
    if (pending) {
      // The newest token for the install: it lives at least as long as the older one.
      pending.token = token;
      pending.logger = scope.logger;
      pending.lines.push(...lines);
      if (pending.lines.length >= MAX_LOG_BATCH - MAX_SHIPPED_LINES) this.#sendPending(key);
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
      const result = await this.#serverApi!.call({
        token,
        method: 'POST',
        path: runnerApiPaths.logs,
        body: { lines },
        timeoutMs: this.#timeoutMs,
        maxResponseBytes: 64 * 1024,
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
