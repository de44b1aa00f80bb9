/**
 * The processes the bench's HTTP sections load: a runner of its own (with
 * the keys and bundle store it needs, and a client side that signs service
 * tokens) and the whole platform with the realistic extension deployed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '@alga-psa/cli';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import type { ExecuteRequest } from '@alga-psa/protocol';
import { ensureServiceKeys, loadSigner } from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';
import { startPlatform, type Platform } from '../../scripts/lib/platform.ts';
import { deployExtension } from '../../scripts/lib/demo.ts';
import { startService, type ServiceProcess } from '../../scripts/lib/processes.ts';
import { RUNNER_NODE_FLAGS } from '../../packages/runner/src/node-flags.ts';
import { realisticRequest } from '../engine.ts';
import { HOST_DATA } from './guest-source.ts';
import type { LoadTarget } from './load.ts';

/** The machine the bench runs on is shared: a process may take minutes to start when it is busy. */
const READY_TIMEOUT_MS = 180_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixtureDir = path.join(root, 'bench/fixtures/realistic');

export interface BenchRunner {
  work: string;
  bundleStore: DirectoryBundleStore;
  signer: Awaited<ReturnType<typeof loadSigner>>;
  request: ExecuteRequest;
  /** Starts a runner process on this work dir (several may run in turn), from `checkout` (default: this one). */
  start(name: string, checkout?: string): Promise<ServiceProcess>;
  /** Request headers with a service token, renewed every 30 s. */
  bearer(): Promise<Record<string, string>>;
  /** `POST /v1/execute` of `payload` on the runner at `origin`. */
  target(payload: object, origin: string): LoadTarget;
  /**
   * `POST /v1/prepare` of the bundle on the runner at `origin`, as the server
   * does at install: the first requests then do not pay for compiling it
   * (which, on a busy machine, can take longer than their deadline).
   */
  prepare(origin: string): Promise<void>;
  /** Removes the work dir (stop the runners first). */
  cleanUp(): Promise<void>;
}

export async function benchRunner(
  component: Uint8Array,
  env: NodeJS.ProcessEnv,
): Promise<BenchRunner & { hash: string }> {
  const work = await mkdtemp(path.join(tmpdir(), 'alga-bench-runner-'));
  const keyring = await LocalKeyring.open(path.join(work, 'transit.key'), { create: true });
  const keys = await ensureServiceKeys(path.join(work, 'service'));
  const signer = await loadSigner(keys.privateKeyFile);
  const bundleStore = new DirectoryBundleStore(path.join(work, 'bundles'));
  const hash = await bundleStore.put(component);
  const request = await realisticRequest(keyring, hash);
  let token = { value: '', at: 0 };
  const bearer = async () => {
    // Service tokens live at most 60 s: mint a new one every 30 s.
    if (!token.value || performance.now() - token.at > 30_000) {
      const value = await signer.sign(
        {
          audience: 'alga-runner',
          tenantId: request.context.tenant_id,
          installId: request.context.install_id,
          scope: ['execute'],
        },
        60,
      );
      token = { value, at: performance.now() };
    }
    return { authorization: `Bearer ${token.value}`, 'content-type': 'application/json' };
  };
  return {
    work,
    bundleStore,
    signer,
    request,
    hash,
    bearer,
    start: (name, checkout = root) =>
      startService({
        name,
        script: path.join(checkout, 'packages/runner/src/main.ts'),
        nodeArgs: RUNNER_NODE_FLAGS,
        env: {
          RUNNER_PORT: '0',
          ALGA_BUNDLE_DIR: path.join(work, 'bundles'),
          ALGA_TRANSIT_KEY_FILE: path.join(work, 'transit.key'),
          ALGA_SERVICE_VERIFY_KEY_FILE: keys.publicKeyFile,
          ...env,
        },
        ready: /Runner ready on (http:\/\/\S+)/,
        timeoutMs: READY_TIMEOUT_MS,
      }),
    target: (payload, origin) => ({
      origin,
      path: '/v1/execute',
      method: 'POST',
      headers: bearer,
      body: JSON.stringify(payload),
    }),
    async prepare(origin) {
      const token = await signer.sign(
        {
          audience: 'alga-runner',
          tenantId: request.context.tenant_id,
          installId: request.context.install_id,
          scope: ['prepare'],
        },
        60,
      );
      const response = await fetch(`${origin}/v1/prepare`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content_hash: hash }),
      });
      if (response.status !== 200) throw new Error(`prepare failed: HTTP ${response.status} ${await response.text()}`);
    },
    cleanUp: () => rm(work, { recursive: true, force: true }),
  };
}

export interface BenchPlatform {
  platform: Platform;
  /** `GET /api/ext/<id>/work` with the bootstrap API key. */
  target: LoadTarget;
  stop(): Promise<void>;
}

/**
 * The platform with `runners` runners and the realistic extension deployed, its secret set.
 * `env` goes to the server and every runner (the tracing row sets OTEL_*).
 */
export async function benchPlatform(
  runners: number,
  checkout?: string,
  env: NodeJS.ProcessEnv = {},
): Promise<BenchPlatform> {
  const dataDir = await mkdtemp(path.join(tmpdir(), `alga-bench-platform-${runners}-`));
  const platform = await startPlatform({
    dataDir,
    runners,
    ...(checkout ? { root: checkout } : {}),
    serverEnv: { ALGA_GATEWAY_RATE_LIMIT: '0', ...env },
    runnerEnv: env,
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
  const stop = async () => {
    await platform.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const client = new ApiClient({ serverUrl: platform.server.url, apiKey: platform.credentials.apiKey });
    const { extensionId } = await deployExtension(client, fixtureDir);
    await client.setSecret(extensionId, 'api_token', HOST_DATA.secret);
    const target: LoadTarget = {
      origin: platform.server.url,
      path: `/api/ext/${extensionId}/work`,
      headers: { authorization: `Bearer ${platform.credentials.apiKey}` },
    };
    return { platform, target, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
