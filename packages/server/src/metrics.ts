/**
 * The server's Prometheus metrics (`GET /metrics`), on a Registry of its own
 * so two servers in one process (tests) never share counters. Labels stay
 * bounded: entry door, status class, error code from the registry, runner
 * failure reason — never a tenant, user, install, extension or request id.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db, Queryable } from './db/index.ts';

export type GatewayEntry = 'api' | 'ui-proxy';
/** Why a call to a runner failed (bounded: one of these). */
export type RunnerFailure = 'connect' | 'connection-lost' | 'deadline' | 'status' | 'invalid-answer';

/** What the runner client reports; optional so the client works without metrics (tests, embedders). */
export interface RunnerCallMetrics {
  runnerFailure(reason: RunnerFailure): void;
  /** A request that could not connect to one runner was sent to another. */
  failover(): void;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DB_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

export class ServerMetrics implements RunnerCallMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'entry' | 'outcome' | 'status_class'>;
  readonly #duration: Histogram<'entry' | 'status_class'>;
  readonly #rateLimited: Counter<'entry'>;
  readonly #runnerFailures: Counter<'reason'>;
  readonly #failovers: Counter;
  readonly #installCache: Counter<'result'>;
  readonly #dbDuration: Histogram<'op' | 'result'>;

  /**
   * `gauges` are read at scrape time only: runners up, and secrets by how
   * soon they expire (a database query per scrape, never per request).
   */
  constructor(gauges: { runnersUp?: () => number; secretsExpiring?: () => Promise<SecretsExpiring> } = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'alga_gateway_requests_total',
      help:
        'Gateway requests by entry (api, ui-proxy), outcome (ok when the guest answered, else the ALGA_* error code) ' +
        'and status class (2xx … 5xx).',
      labelNames: ['entry', 'outcome', 'status_class'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'alga_gateway_request_duration_seconds',
      help: 'Gateway request time, from the first byte to the response sent, by entry and status class.',
      labelNames: ['entry', 'status_class'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'alga_gateway_rate_limited_total',
      help: "Gateway requests refused by an install's rate limit (429), by entry.",
      labelNames: ['entry'],
      registers,
    });
    this.#runnerFailures = new Counter({
      name: 'alga_gateway_runner_failures_total',
      help: 'Calls to a runner that failed, by reason (connect, connection-lost, deadline, status, invalid-answer).',
      labelNames: ['reason'],
      registers,
    });
    this.#failovers = new Counter({
      name: 'alga_gateway_runner_failovers_total',
      help: 'Requests that could not connect to one runner and were sent to another.',
      registers,
    });
    this.#installCache = new Counter({
      name: 'alga_gateway_install_cache_lookups_total',
      help: "Lookups of an install's runtime (config, secret envelope) by the gateway, by result (hit, miss).",
      labelNames: ['result'],
      registers,
    });
    this.#dbDuration = new Histogram({
      name: 'alga_db_query_duration_seconds',
      help: 'Database round trips, by op (query, transaction) and result (ok, error).',
      labelNames: ['op', 'result'],
      buckets: DB_BUCKETS,
      registers,
    });
    if (gauges.runnersUp) {
      const read = gauges.runnersUp;
      new Gauge({
        name: 'alga_gateway_runners_up',
        help: 'Runners the gateway currently sends requests to.',
        registers,
        collect() {
          this.set(read());
        },
      });
    }
    if (gauges.secretsExpiring) {
      const read = gauges.secretsExpiring;
      new Gauge({
        name: 'alga_secrets_expiring',
        help:
          'Install secrets with an expiry, by window: expired, within 1d, within 7d, within 30d (cumulative: ' +
          'within 7d includes within 1d; expired ones are in no window).',
        labelNames: ['window'],
        registers,
        async collect() {
          const counts = await read();
          for (const [window, count] of Object.entries(counts)) this.set({ window }, count);
        },
      });
    }
  }

  gatewayRequest(entry: GatewayEntry, outcome: string, status: number, seconds: number): void {
    const status_class = `${Math.floor(status / 100)}xx`;
    this.#requests.inc({ entry, outcome, status_class });
    this.#duration.observe({ entry, status_class }, seconds);
  }
  rateLimited(entry: GatewayEntry): void {
    this.#rateLimited.inc({ entry });
  }
  runnerFailure(reason: RunnerFailure): void {
    this.#runnerFailures.inc({ reason });
  }
  failover(): void {
    this.#failovers.inc();
  }
  installCacheLookup(hit: boolean): void {
    this.#installCache.inc({ result: hit ? 'hit' : 'miss' });
  }
  dbQuery(op: 'query' | 'transaction', ok: boolean, seconds: number): void {
    this.#dbDuration.observe({ op, result: ok ? 'ok' : 'error' }, seconds);
  }
}

export interface SecretsExpiring {
  expired: number;
  '1d': number;
  '7d': number;
  '30d': number;
}

/** Counts install secrets by how soon they expire (one indexed query, at scrape time). */
export async function countSecretsExpiring(db: Queryable): Promise<SecretsExpiring> {
  const { rows } = await db.query<{ expired: string; d1: string; d7: string; d30: string }>(
    `SELECT count(*) FILTER (WHERE expires_at <= now()) AS expired,
            count(*) FILTER (WHERE expires_at > now() AND expires_at <= now() + interval '1 day') AS d1,
            count(*) FILTER (WHERE expires_at > now() AND expires_at <= now() + interval '7 days') AS d7,
            count(*) FILTER (WHERE expires_at > now() AND expires_at <= now() + interval '30 days') AS d30
       FROM install_secrets WHERE expires_at IS NOT NULL`,
  );
  const row = rows[0]!;
  return { expired: Number(row.expired), '1d': Number(row.d1), '7d': Number(row.d7), '30d': Number(row.d30) };
}

/** The same database, every round trip timed into `alga_db_query_duration_seconds`. */
export function timedDb(db: Db, metrics: Pick<ServerMetrics, 'dbQuery'>): Db {
  const timed = async <T>(op: 'query' | 'transaction', run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    let ok = false;
    try {
      const result = await run();
      ok = true;
      return result;
    } finally {
      metrics.dbQuery(op, ok, (performance.now() - started) / 1000);
    }
  };
  return {
    engine: db.engine,
    query<T>(sql: string, params?: unknown[]) {
      return timed('query', () => db.query<T>(sql, params));
    },
    exec: (sql) => db.exec(sql),
    transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      return timed('transaction', () => db.transaction(fn));
    },
    close: () => db.close(),
  };
}
