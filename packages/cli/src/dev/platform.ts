/**
 * The real platform, in this process, for `alga dev`: the server (PGlite
 * under `.alga/dev/`, local transit keyring, bundle directory) and a runner
 * with the real capability providers, wired with local service keys. Nothing
 * is mocked, so what works here works on a deployed platform; and because
 * the install lives in the local database, its storage survives reloads.
 */
import { mkdir } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import type * as ServiceAuth from '@alga-psa/service-auth';
import { ApiClient } from '../api/client.ts';

export interface RunnerLogLine {
  level: number;
  msg?: string;
  source?: string;
  provider?: string;
  add?: string;
  origin?: string;
  [field: string]: unknown;
}

export interface LocalPlatform {
  serverUrl: string;
  apiKey: string;
  client: ApiClient;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Splits pino's JSON lines for the caller (guest logs, egress refusals). */
function lineStream(onLine: (line: RunnerLogLine) => void): Writable {
  let partial = '';
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          onLine(JSON.parse(line) as RunnerLogLine);
        } catch {
          // not JSON: ignore
        }
      }
      callback();
    },
  });
}

export async function startLocalPlatform(options: {
  dataDir: string;
  onRunnerLog: (line: RunnerLogLine) => void;
}): Promise<LocalPlatform> {
  // Loaded on demand: only `alga dev` needs the whole platform.
  const [
    { createServer, openPglite, migrate, bootstrapTenant },
    runnerPkg,
    { LocalKeyring },
    { DirectoryBundleStore },
  ] = await Promise.all([
    import('@alga-psa/server'),
    import('@alga-psa/runner'),
    import('@alga-psa/transit'),
    import('@alga-psa/bundle-store'),
  ]);
  const dataDir = options.dataDir;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const keyring = await LocalKeyring.open(path.join(dataDir, 'transit-keys.json'), { create: true });
  const bundleStore = new DirectoryBundleStore(path.join(dataDir, 'bundles'));

  // Service keys: the runner verifies what the server signs, exactly as deployed.
  const serviceAuth = (await import('@alga-psa/service-auth')) as typeof ServiceAuth;
  const keys = await serviceAuth.ensureServiceKeys(path.join(dataDir, 'service-keys'));
  const signer = await serviceAuth.loadSigner(keys.privateKeyFile);
  const verifier = await serviceAuth.loadVerifier(keys.publicKeyFile);

  // The runner calls the server back (storage, log shipping) and the server
  // calls the runner: reserve the runner's port first so each knows the other.
  const runnerPort = await freePort();
  const runnerUrl = `http://127.0.0.1:${runnerPort}`;

  const db = await openPglite(path.join(dataDir, 'pgdata'));
  await migrate(db);
  const credentialsFile = path.join(dataDir, 'dev-credentials.json');
  await bootstrapTenant(db, credentialsFile);
  const serverOptions = {
    db,
    encrypter: keyring,
    bundleStore,
    runnerUrl,
    // The platform's own logs stay quiet unless asked for: the author cares about their extension's lines.
    logger: (process.env['ALGA_DEV_SERVER_LOG'] ?? 'error') as 'error',
    migrate: false,
    serviceVerifier: verifier,
    serviceSigner: signer,
    // Generous: the first request after a reload compiles the new component.
    executionTimeoutMs: 10_000,
  };
  const server = await createServer(serverOptions as Parameters<typeof createServer>[0]);
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address();
  const serverUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const runnerOptions = {
    bundleStore,
    decrypter: keyring,
    verifier,
    serverUrl,
    workers: 1,
    logLevel: 'info' as const,
    logStream: lineStream(options.onRunnerLog),
  };
  const runner = await runnerPkg.createRunner(runnerOptions as Parameters<typeof runnerPkg.createRunner>[0]);
  await runner.app.listen({ host: '127.0.0.1', port: runnerPort });

  const { readFile } = await import('node:fs/promises');
  const { apiKey } = JSON.parse(await readFile(credentialsFile, 'utf8')) as { apiKey: string };
  return {
    serverUrl,
    apiKey,
    client: new ApiClient({ serverUrl, apiKey }),
    async close() {
      await server.close();
      await db.close();
      await runner.close();
    },
  };
}
