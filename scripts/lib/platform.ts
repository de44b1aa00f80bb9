import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureServiceKeys } from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';
import { RUNNER_NODE_FLAGS } from '../../packages/runner/src/node-flags.ts';
import { readBootstrap, type BootstrapCredentials } from './demo.ts';
import { startService, type ServiceProcess } from './processes.ts';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface PlatformOptions {
  /** Everything lives here: database, keys, bundles, logs. Created if missing. */
  dataDir: string;
  /** How many runner processes (default 1). */
  runners?: number;
  /** Server port (default: a free one). */
  port?: string;
  runnerEnv?: NodeJS.ProcessEnv;
  serverEnv?: NodeJS.ProcessEnv;
  /** Append each process's output to `<dataDir>/logs/<name>.log`. */
  logToFiles?: boolean;
  /** How long each process may take to say it is ready (default 30 s for a runner, 60 s for the server). */
  readyTimeoutMs?: number;
  /** The checkout whose server and runner are started (default: this one; the bench's baseline rows use another). */
  root?: string;
  /** Runs after keys exist and before the server starts (e.g. to seed its database). */
  beforeServer?: (files: { dataDir: string; bootstrapFile: string }) => Promise<void>;
}

export interface Platform {
  server: ServiceProcess;
  runners: ServiceProcess[];
  credentials: BootstrapCredentials;
  /** The platform operator's key (provider policy), kept 0600 in `operatorKeyFile`; undefined when serverEnv brings its own. */
  operatorKey: string | undefined;
  operatorKeyFile: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The whole platform on embedded defaults, as real processes: local transit
 * keyring and service keys in the data dir, N runners, then the server (on
 * PGlite unless the caller passes DATABASE_URL) with a bootstrap tenant.
 * `npm start`, the whole-system tests and the benchmark all start it this way.
 */
export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const { dataDir } = options;
  const root = options.root ?? here;
  const logDir = path.join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  const transitKeyFile = path.join(dataDir, 'transit-keys.json');
  await LocalKeyring.open(transitKeyFile, { create: true });
  // The server signs service tokens with the private key; runners only verify.
  const serviceKeys = await ensureServiceKeys(dataDir);
  const bundleDir = path.join(dataDir, 'bundles');
  const logFile = (name: string) => (options.logToFiles ? path.join(logDir, `${name}.log`) : undefined);

  // Runners call the server back (storage, logs) and the server calls the
  // runners: fix the server's port first so each side can be told the other.
  const port = options.port && options.port !== '0' ? options.port : String(await freePort());
  const serverUrl = `http://127.0.0.1:${port}`;

  const runners: ServiceProcess[] = [];
  let server: ServiceProcess | undefined;
  const stop = async () => {
    await server?.stop();
    await Promise.all(runners.map((r) => r.stop()));
  };
  try {
    for (let i = 0; i < (options.runners ?? 1); i++) {
      const name = options.runners && options.runners > 1 ? `runner-${i + 1}` : 'runner';
      runners.push(
        await startService({
          name,
          script: path.join(root, 'packages/runner/src/main.ts'),
          nodeArgs: RUNNER_NODE_FLAGS,
          env: {
            RUNNER_PORT: '0',
            ALGA_BUNDLE_DIR: bundleDir,
            ALGA_TRANSIT_KEY_FILE: transitKeyFile,
            ALGA_SERVICE_VERIFY_KEY_FILE: serviceKeys.publicKeyFile,
            ALGA_SERVER_URL: serverUrl,
            // A restarted platform does not transpile its extensions again (docs/perf/040).
            RUNNER_TRANSPILE_CACHE_DIR:
              process.env['RUNNER_TRANSPILE_CACHE_DIR'] ?? path.join(dataDir, 'transpile-cache'),
            ...options.runnerEnv,
          },
          ready: /Runner ready on (http:\/\/\S+)/,
          ...(options.readyTimeoutMs ? { timeoutMs: options.readyTimeoutMs } : {}),
          logFile: logFile(name),
        }),
      );
    }
    const bootstrapFile = path.join(dataDir, 'bootstrap.json');
    // The operator key (provider policy) lives next to the other keys, made once; the server keeps only its hash.
    const operatorKeyFile = path.join(dataDir, 'operator-key');
    const ownOperatorKey = !options.serverEnv?.['ALGA_OPERATOR_KEY'] && !options.serverEnv?.['ALGA_OPERATOR_KEY_FILE'];
    const operatorKey = ownOperatorKey ? await ensureOperatorKey(operatorKeyFile) : undefined;
    await options.beforeServer?.({ dataDir, bootstrapFile });
    server = await startService({
      name: 'server',
      script: path.join(root, 'packages/server/src/main.ts'),
      env: {
        PORT: port,
        ALGA_DATA_DIR: dataDir,
        ALGA_RUNNER_URL: runners.map((r) => r.url).join(','),
        ALGA_SERVICE_SIGNING_KEY_FILE: serviceKeys.privateKeyFile,
        ALGA_BOOTSTRAP_FILE: bootstrapFile,
        ...(ownOperatorKey ? { ALGA_OPERATOR_KEY_FILE: operatorKeyFile } : {}),
        ...options.serverEnv,
      },
      ready: /Server ready on (http:\/\/\S+)/,
      timeoutMs: options.readyTimeoutMs ?? 60_000,
      logFile: logFile('server'),
    });
    return {
      server,
      runners,
      credentials: await readBootstrap(bootstrapFile),
      operatorKey,
      operatorKeyFile,
      dataDir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The key in `file`, or a new random one written there 0600. */
async function ensureOperatorKey(file: string): Promise<string> {
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing) return existing.trim();
  const key = `alga_op_${randomBytes(32).toString('base64url')}`;
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/** A port that was free a moment ago (the OS picks it; we release it for the server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
