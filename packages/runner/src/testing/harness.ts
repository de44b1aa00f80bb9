/** Shared set-up for in-process runner tests: temp bundle store, keyring, captured logs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import { secretAad, type ExecuteRequest, type SecretEnvelope } from '@alga-psa/protocol';
import { LocalKeyring } from '@alga-psa/transit';
import { createRunner, type Runner, type RunnerOptions } from '../index.ts';

export interface Harness {
  dir: string;
  bundleStore: DirectoryBundleStore;
  keyring: LocalKeyring;
  runner: Runner;
  /** Every JSON log line the runner wrote. */
  logs: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function createHarness(options: Partial<RunnerOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-runner-test-'));
  const bundleStore = new DirectoryBundleStore(path.join(dir, 'bundles'));
  const keyring = await LocalKeyring.open(path.join(dir, 'transit.key'), { create: true });
  const logs: Array<Record<string, unknown>> = [];
  const runner = await createRunner({
    bundleStore,
    decrypter: keyring,
    workers: 1,
    ...options,
    logger: {
      level: 'debug',
      stream: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    },
  });
  return {
    dir,
    bundleStore,
    keyring,
    runner,
    logs,
    async close() {
      await runner.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const TENANT = 'tenant-1';
export const INSTALL = 'install-1';

export async function envelopeFor(
  keyring: LocalKeyring,
  secrets: Record<string, string>,
  overrides: Partial<SecretEnvelope> = {},
): Promise<SecretEnvelope> {
  const ciphertexts: Record<string, string> = {};
  for (const [key, value] of Object.entries(secrets)) {
    ciphertexts[key] = await keyring.encrypt(Buffer.from(value, 'utf8'), secretAad(TENANT, INSTALL, key));
  }
  return {
    version: 'v1',
    algorithm: 'aes-256-gcm',
    key_ref: keyring.keyRef,
    expires_at: null,
    ciphertexts,
    ...overrides,
  };
}

export function executeRequest(
  contentHash: string,
  overrides: Partial<ExecuteRequest> & { path?: string; query?: string } = {},
): ExecuteRequest {
  const { path: reqPath = '/echo', query = '', ...rest } = overrides;
  return {
    context: {
      request_id: 'req-1',
      tenant_id: TENANT,
      extension_id: 'ext-1',
      install_id: INSTALL,
      version_id: 'ver-1',
      content_hash: contentHash,
    },
    config: {},
    providers: ['cap:context.read', 'cap:log.emit'],
    secret_envelope: null,
    http: { method: 'GET', path: reqPath, query, headers: {}, body_b64: null },
    ...rest,
  };
}
