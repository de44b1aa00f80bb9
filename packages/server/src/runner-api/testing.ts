/** Shared set-up for the runner API's tests (and the runner's storage/logging provider tests). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureServiceKeys, loadSigner, loadVerifier, type ServiceTokenSigner } from '@alga-psa/service-auth';
import type { Db } from '../db/index.ts';
import type { ServerOptions } from '../server.ts';
import { install, publish, sampleManifest, startTestServer, type TestContext } from '../testing/fixtures.ts';
import type { StorageQuotas } from './storage.ts';

export interface RunnerApiTestContext extends TestContext {
  signer: ServiceTokenSigner;
  /** Install ids: tenant A and B each install `store-ext`; A also installs `plain-ext` (no storage). */
  installA: string;
  installB: string;
  installPlain: string;
  /** `Authorization` value of a fresh `alga-server` token. */
  token(
    installId: string,
    options?: { tenantId?: string; scope?: string[]; audience?: 'alga-server' | 'alga-runner' },
  ): Promise<string>;
}

export async function startRunnerApiServer(
  db: Db,
  options: Partial<ServerOptions> & { storageQuotas?: Partial<StorageQuotas>; installLogRetention?: number } = {},
): Promise<RunnerApiTestContext> {
  const keyDir = await mkdtemp(path.join(tmpdir(), 'alga-runner-api-keys-'));
  const files = await ensureServiceKeys(keyDir);
  const signer = await loadSigner(files.privateKeyFile);
  const verifier = await loadVerifier(files.publicKeyFile);
  const ctx = await startTestServer(db, { serviceVerifier: verifier, ...options } as Partial<ServerOptions>);
  const manifest = sampleManifest({
    name: 'store-ext',
    capabilities: ['cap:storage.kv'],
    settings: [],
  });
  await publish(ctx, manifest);
  await publish(ctx, sampleManifest({ name: 'plain-ext', capabilities: [], settings: [] }));
  const idOf = async (response: Awaited<ReturnType<typeof install>>) => {
    if (response.statusCode >= 300) throw new Error(`install failed: ${response.statusCode} ${response.body}`);
    return (response.json() as { install: { id: string } }).install.id;
  };
  const installA = await idOf(await install(ctx, 'store-ext', ctx.adminA));
  const installB = await idOf(await install(ctx, 'store-ext', ctx.adminB));
  const installPlain = await idOf(await install(ctx, 'plain-ext', ctx.adminA));
  const tenantOf = new Map([
    [installA, ctx.tenantA],
    [installB, ctx.tenantB],
    [installPlain, ctx.tenantA],
  ]);
  return {
    ...ctx,
    signer,
    installA,
    installB,
    installPlain,
    async token(installId, extra = {}) {
      const jwt = await signer.sign(
        {
          audience: extra.audience ?? 'alga-server',
          tenantId: extra.tenantId ?? tenantOf.get(installId) ?? ctx.tenantA,
          installId,
          scope: extra.scope ?? ['storage', 'logs'],
        },
        60,
      );
      return `Bearer ${jwt}`;
    },
    async close() {
      await ctx.close();
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}
