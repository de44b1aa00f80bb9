/**
 * The real platform as processes, for adversarial and fault tests: N runners
 * and the server, with two tenants created straight in the database before
 * the server starts (the server's bootstrap makes only one), and every
 * process log written under the canary artifacts dir so the final scan reads
 * it. Loopback only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '@alga-psa/cli';
import { ensureServiceKeys, type ServiceKeyFiles } from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';
import { createTenantWithKey } from '../../../packages/server/src/auth/api-keys.ts';
import { createUser } from '../../../packages/server/src/auth/session.ts';
import { migrate, openPglite, openPostgres, type Db } from '../../../packages/server/src/db/index.ts';
import { freePort } from '../../../scripts/lib/platform.ts';
import { startService, type ServiceProcess } from '../../../scripts/lib/processes.ts';
import { canaryRun, recordArtifact } from './canary.ts';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Tenant {
  tenantId: string;
  apiKey: string;
  client: ApiClient;
}

/**
 * The execution deadline the server sends (ALGA_EXECUTION_TIMEOUT_MS) unless a
 * test sets its own: long enough that no request a test expects to succeed
 * can reach it on a slow or busy machine (the busiest, 1,000 outbound calls,
 * takes about 1.5 s on a loaded 2-core machine), and still what stops the
 * hostile guests that never end. The gateway waits 5 s longer than this.
 */
export const EXECUTION_TIMEOUT_MS = 10_000;

/**
 * How long a test waits for a process to become ready or for an answer before
 * it gives up: no deadline a slow machine could reach; a process that exits
 * fails the wait at once, and the test runner's timeout is the backstop.
 */
export const NO_DEADLINE_MS = 15 * 60_000;

/** Resolves once `condition` holds, checked every 50 ms, with no deadline of its own. */
export async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 50));
}

export interface SystemOptions {
  /** Names the log files under the artifacts dir. */
  name: string;
  runners?: number;
  runnerEnv?: NodeJS.ProcessEnv;
  serverEnv?: NodeJS.ProcessEnv;
  /** PostgreSQL instead of PGlite (the caller owns that database). */
  databaseUrl?: string;
  /** Web UI admin for tenant A: admin@a.test with this password. */
  uiPassword?: string;
}

export interface System {
  server: ServiceProcess;
  runners: ServiceProcess[];
  dataDir: string;
  serviceKeys: ServiceKeyFiles;
  transitKeyFile: string;
  tenants: [Tenant, Tenant];
  /** Starts the server process again (same data, same env). */
  restartServer(): Promise<void>;
  /** Opens the database the server uses (only while the server is stopped, for PGlite). */
  openDb(): Promise<Db>;
  stop(): Promise<void>;
}

export async function startSystem(options: SystemOptions): Promise<System> {
  const { dir: artifacts } = canaryRun();
  const dataDir = await mkdtemp(path.join(tmpdir(), `alga-${options.name}-`));
  const transitKeyFile = path.join(dataDir, 'transit-keys.json');
  await LocalKeyring.open(transitKeyFile, { create: true });
  const serviceKeys = await ensureServiceKeys(dataDir);
  const openDb = () =>
    options.databaseUrl
      ? openPostgres({ connectionString: options.databaseUrl })
      : openPglite(path.join(dataDir, 'pgdata'));

  const db = await openDb();
  let tenants: Array<{ tenantId: string; apiKey: string }>;
  try {
    await migrate(db);
    tenants = [
      await createTenantWithKey(db, { name: 'tenant-a', role: 'admin' }),
      await createTenantWithKey(db, { name: 'tenant-b', role: 'admin' }),
    ];
    if (options.uiPassword) {
      await createUser(db, {
        tenantId: tenants[0]!.tenantId,
        email: 'admin@a.test',
        role: 'admin',
        password: options.uiPassword,
      });
    }
  } finally {
    await db.close();
  }

  // Runners call the server back (storage, logs): fix its port first, and keep it across restarts.
  const port = String(await freePort());
  const logFile = (name: string) => path.join(artifacts, 'logs', `${options.name}-${name}.log`);
  await recordArtifact('logs', `${options.name}-started.log`, new Date().toISOString());
  const runners: ServiceProcess[] = [];
  let server: ServiceProcess | undefined;
  const stop = async () => {
    await server?.stop();
    await Promise.all(runners.map((runner) => runner.stop()));
  };
  const startServer = async () =>
    startService({
      name: 'server',
      script: path.join(repo, 'packages/server/src/main.ts'),
      env: {
        PORT: port,
        ALGA_DATA_DIR: dataDir,
        ALGA_RUNNER_URL: runners.map((runner) => runner.url).join(','),
        ALGA_SERVICE_SIGNING_KEY_FILE: serviceKeys.privateKeyFile,
        ALGA_TRANSIT_KEY_FILE: transitKeyFile,
        DATABASE_URL: options.databaseUrl ?? '',
        ALGA_EXECUTION_TIMEOUT_MS: String(EXECUTION_TIMEOUT_MS),
        ...options.serverEnv,
      },
      ready: /Server ready on (http:\/\/\S+)/,
      timeoutMs: NO_DEADLINE_MS,
      logFile: logFile('server'),
    });
  try {
    for (let i = 0; i < (options.runners ?? 1); i++) {
      runners.push(
        await startService({
          name: `runner-${i + 1}`,
          script: path.join(repo, 'packages/runner/src/main.ts'),
          env: {
            RUNNER_PORT: '0',
            RUNNER_WORKERS: '2',
            ALGA_BUNDLE_DIR: path.join(dataDir, 'bundles'),
            ALGA_TRANSIT_KEY_FILE: transitKeyFile,
            ALGA_SERVICE_VERIFY_KEY_FILE: serviceKeys.publicKeyFile,
            ALGA_SERVER_URL: `http://127.0.0.1:${port}`,
            ...options.runnerEnv,
          },
          ready: /Runner ready on (http:\/\/\S+)/,
          timeoutMs: NO_DEADLINE_MS,
          logFile: logFile(`runner-${i + 1}`),
        }),
      );
    }
    server = await startServer();
  } catch (error) {
    await stop();
    throw error;
  }
  const system: System = {
    get server() {
      return server!;
    },
    runners,
    dataDir,
    serviceKeys,
    transitKeyFile,
    tenants: tenants.map((t) => ({ ...t, client: new ApiClient({ serverUrl: server!.url, apiKey: t.apiKey }) })) as [
      Tenant,
      Tenant,
    ],
    async restartServer() {
      await server?.stop();
      server = await startServer();
      for (const t of system.tenants) t.client = new ApiClient({ serverUrl: server.url, apiKey: t.apiKey });
    },
    openDb,
    async stop() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return system;
}

/** A gateway call that keeps its status, headers and body as an artifact for the canary scan. */
export async function gatewayCall(
  serverUrl: string,
  apiKey: string,
  extPath: string,
  init: { method?: string; body?: string; timeoutMs?: number; record?: boolean } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => Record<string, unknown> }> {
  const response = await fetch(`${serverUrl}/api/ext/${extPath}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${apiKey}`, ...(init.body ? { 'content-type': 'application/json' } : {}) },
    ...(init.body ? { body: init.body } : {}),
    // The gateway ends every call (at the latest EXECUTION_TIMEOUT_MS + 5 s); the client never cuts one short.
    signal: AbortSignal.timeout(init.timeoutMs ?? NO_DEADLINE_MS),
  });
  const text = await response.text();
  if (init.record ?? true) {
    await recordArtifact(
      'responses',
      'gateway.log',
      JSON.stringify({ path: extPath, status: response.status, headers: [...response.headers], body: text }),
    );
  }
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

/** How long the upstream's /drip answer goes on if nothing cuts it. */
export const DRIP_LIFETIME_MS = 600_000;

/** The fixed ports the hostile fixture's allowedHosts name (a manifest cannot say "any port"). */
export const UPSTREAM_PORTS = [41911, 41912, 41913] as const;

/** One request the upstream's /echo and /redirect-to received, as it arrived. */
export interface Received {
  path: string;
  host: string;
  /** The raw request line target, headers and body as text. */
  text: string;
}

export interface Upstream {
  url: string;
  port: number;
  /** Requests received, by path. */
  hits: Map<string, number>;
  /** What /echo and /redirect-to received, in order. */
  received: Received[];
  /** The headers of the last request received, by path. */
  lastHeaders: Map<string, IncomingMessage['headers']>;
  /** Bytes written by /stream before the client went away, and when it went away. */
  streamed: { bytes: number; closedAt?: number };
  close(): Promise<void>;
}

/** A loopback HTTP server on the first free fixture port, with hostile answers. */
export async function startUpstream(): Promise<Upstream> {
  const hits = new Map<string, number>();
  const received: Received[] = [];
  const lastHeaders = new Map<string, IncomingMessage['headers']>();
  const streamed: Upstream['streamed'] = { bytes: 0 };
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://upstream');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    lastHeaders.set(url.pathname, request.headers);
    if (url.pathname === '/echo' || url.pathname === '/redirect-to') {
      // Echoes everything it got (URL, headers, body) in its body and headers: a server that
      // reflects a credential. /redirect-to?to=URL answers 307 (method and body kept) instead.
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const text = `${request.url ?? ''}\n${JSON.stringify(request.headers)}\n${body}`;
        received.push({ path: url.pathname, host: request.headers.host ?? '', text });
        if (url.pathname === '/redirect-to') {
          response.writeHead(307, { location: url.searchParams.get('to') ?? '/' }).end();
          return;
        }
        response
          .writeHead(200, {
            'content-type': 'text/plain',
            'x-echo-auth': String(request.headers.authorization ?? ''),
          })
          .end(text);
      });
      return;
    }
    switch (url.pathname) {
      case '/redirect-metadata':
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        return;
      case '/redirect-loopback':
        response.writeHead(302, { location: 'http://127.0.0.2:41911/ok' }).end();
        return;
      case '/huge':
        // Declares 5 GB; the provider must refuse it on the header alone.
        response.writeHead(200, { 'content-length': String(5 * 1024 ** 3) });
        response.write(Buffer.alloc(1024));
        return;
      case '/stream': {
        // No length, endless chunks (bounded here at 256 MiB): the provider must stop reading at its cap.
        response.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 7);
        const pump = () => {
          while (streamed.bytes < 256 * 1024 * 1024 && !response.destroyed) {
            streamed.bytes += chunk.length;
            if (!response.write(chunk)) return void response.once('drain', pump);
          }
          response.end();
        };
        response.on('close', () => (streamed.closedAt = Date.now()));
        pump();
        return;
      }
      case '/drip': {
        // One byte every 200 ms, forever (bounded at DRIP_LIFETIME_MS): only the time cap ends it.
        response.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => response.write('.'), 200);
        const stop = setTimeout(() => response.end(), DRIP_LIFETIME_MS);
        response.on('close', () => {
          clearInterval(timer);
          clearTimeout(stop);
          streamed.closedAt = Date.now();
        });
        return;
      }
      default:
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }
  };
  for (const port of UPSTREAM_PORTS) {
    const server: Server = createHttpServer(handler);
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!listening) continue;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      hits,
      received,
      lastHeaders,
      streamed,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
  throw new Error(`None of the upstream fixture ports ${UPSTREAM_PORTS.join(', ')} is free on 127.0.0.1.`);
}

/**
 * Writes `head` on a raw socket, then feeds `next()` chunks every `intervalMs`
 * until the server answers or closes; reports what it saw. For clients that
 * fetch() cannot be: slowloris, huge declared bodies.
 */
export function rawExchange(
  url: string,
  head: string,
  next: (sent: number) => Buffer | undefined,
  options: { intervalMs: number; giveUpMs: number },
): Promise<{ answer: string; sentBytes: number; closedByServer: boolean; elapsedMs: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname);
    let answer = '';
    let sentBytes = 0;
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ answer, sentBytes, closedByServer, elapsedMs: Date.now() - started });
    };
    socket.on('data', (data) => {
      answer += data.toString('latin1');
      // A complete status line and headers are enough: the server has answered.
      if (answer.includes('\r\n\r\n')) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.write(head);
    sentBytes += Buffer.byteLength(head);
    const timer = setInterval(() => {
      const chunk = next(sentBytes);
      if (!chunk || socket.destroyed) return;
      socket.write(chunk);
      sentBytes += chunk.length;
    }, options.intervalMs);
    const giveUp = setTimeout(() => finish(false), options.giveUpMs);
  });
}
