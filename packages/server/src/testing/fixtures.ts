/** Shared setup for the server's in-process tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { contentHashOf, DirectoryBundleStore } from '@alga-psa/bundle-store';
import { LocalKeyring } from '@alga-psa/transit';
import type { Manifest } from '@alga-psa/protocol';
import { sampleManifest } from '@alga-psa/protocol/testing';

export { sampleManifest };
import type { Db } from '../db/index.ts';
import { createServer, type AlgaServer, type ServerOptions } from '../server.ts';
import { createTenantWithKey, createApiKey } from '../auth/api-keys.ts';

/**
 * A real (tiny) component with the given imports, built from WAT with jco's
 * wasm-tools, so publish-time import checks run on genuine binaries.
 */
export async function componentWithImports(imports: readonly string[]): Promise<Buffer> {
  const wat = `(component ${imports.map((name) => `(import ${JSON.stringify(name)} (instance))`).join(' ')})`;
  return withNonce(Buffer.from(await parse(wat)));
}

/** Appends a custom section with random bytes: same behaviour, different content hash. */
function withNonce(component: Buffer): Buffer {
  const name = Buffer.from('alga-test-nonce');
  const payload = Buffer.concat([Buffer.from([name.length]), name, randomBytes(16)]);
  return Buffer.concat([component, Buffer.from([0x00, payload.length]), payload]);
}

const EMPTY_COMPONENT = Buffer.from(await parse('(component)'));

/** A valid component that imports nothing, so it passes any manifest's import check (runner is faked). */
export function fakeComponent(): Buffer {
  return withNonce(EMPTY_COMPONENT);
}

export function coreModule(): Buffer {
  return Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
}

export interface TestContext {
  server: AlgaServer;
  db: Db;
  keyring: LocalKeyring;
  /** `Authorization` header values. */
  adminA: string;
  viewerA: string;
  adminB: string;
  tenantA: string;
  tenantB: string;
  close(): Promise<void>;
}

export async function startTestServer(db: Db, options: Partial<ServerOptions> = {}): Promise<TestContext> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-server-test-'));
  const keyring = await LocalKeyring.open(path.join(dir, 'transit-keys.json'), { create: true });
  const server = await createServer({
    db,
    encrypter: keyring,
    bundleStore: new DirectoryBundleStore(path.join(dir, 'bundles')),
    logger: false,
    ...options,
  });
  const suffix = randomBytes(3).toString('hex');
  const a = await createTenantWithKey(db, { name: `tenant-a-${suffix}`, role: 'admin' });
  const b = await createTenantWithKey(db, { name: `tenant-b-${suffix}`, role: 'admin' });
  const viewer = await createApiKey(db, { tenantId: a.tenantId, role: 'viewer' });
  return {
    server,
    db,
    keyring,
    adminA: `Bearer ${a.apiKey}`,
    viewerA: `Bearer ${viewer.apiKey}`,
    adminB: `Bearer ${b.apiKey}`,
    tenantA: a.tenantId,
    tenantB: b.tenantId,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Ends a suite: the server, then its database, then whatever else it started (stand-in runners). */
export async function closeAll(ctx: TestContext, ...others: { close(): Promise<void> }[]): Promise<void> {
  await ctx.close();
  await ctx.db.close();
  for (const other of others) await other.close();
}

/** Uploads a component (`PUT /api/v1/bundles/:hash`); returns its content hash. */
export async function uploadComponent(ctx: TestContext, bytes: Buffer, auth = ctx.adminA): Promise<string> {
  const contentHash = contentHashOf(bytes);
  const upload = await ctx.server.app.inject({
    method: 'PUT',
    url: `/api/v1/bundles/${contentHash}`,
    headers: { authorization: auth, 'content-type': 'application/wasm' },
    payload: bytes,
  });
  if (upload.statusCode >= 300) throw new Error(`upload failed: ${upload.statusCode} ${upload.body}`);
  return contentHash;
}

/** Uploads a bundle and publishes `manifest` against it; returns the content hash. */
export async function publish(
  ctx: TestContext,
  manifest: Manifest,
  auth = ctx.adminA,
  bytes = fakeComponent(),
): Promise<string> {
  const contentHash = await uploadComponent(ctx, bytes, auth);
  const published = await ctx.server.app.inject({
    method: 'POST',
    url: '/api/v1/extensions/versions',
    headers: { authorization: auth },
    payload: { manifest, contentHash },
  });
  if (published.statusCode >= 300) throw new Error(`publish failed: ${published.statusCode} ${published.body}`);
  return contentHash;
}

/**
 * An API caller for the test context `current()` returns (read at call time,
 * since suites create their context in `before`): one request as `auth` (an
 * `Authorization` header value), with an optional JSON body.
 */
export function apiCaller(current: () => TestContext) {
  return (method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, auth: string, payload?: unknown) =>
    current().server.app.inject({
      method,
      url,
      headers: { authorization: auth },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
}

export async function install(
  ctx: TestContext,
  extensionId: string,
  auth = ctx.adminA,
  extra: Record<string, unknown> = {},
) {
  return ctx.server.app.inject({
    method: 'POST',
    url: '/api/v1/installs',
    headers: { authorization: auth },
    payload: { extensionId, ...extra },
  });
}
