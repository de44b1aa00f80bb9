/** Shared set-up for in-process runner tests: temp bundle store, keyring, service keys, captured logs. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import { secretAad, type ExecuteRequest, type ExecuteResponse, type SecretEnvelope } from '@alga-psa/protocol';
import {
  ensureServiceKeys,
  loadSigner,
  loadVerifier,
  type ServiceClaims,
  type ServiceTokenSigner,
} from '@alga-psa/service-auth';
import { LocalKeyring } from '@alga-psa/transit';
import { createRunner, type Runner, type RunnerOptions } from '../index.ts';
import { buildFixture } from './build-fixture.ts';
import { FIXTURE_GUEST, FIXTURE_WORLD } from './guest.ts';
import { secretForms } from '../redact.ts';
import { NO_DEADLINE_MS } from './wait.ts';

/**
 * A secret value the runner tests set on installs on purpose. Every harness
 * records what the runner logged and answered, and `assertNoCanary` proves
 * that none of it holds the value in any encoding.
 */
export const CANARY = `canary-${randomBytes(12).toString('hex')}`;

export interface Harness {
  dir: string;
  bundleStore: DirectoryBundleStore;
  keyring: LocalKeyring;
  runner: Runner;
  /** Signs service tokens as the server would. */
  signer: ServiceTokenSigner;
  /** Every JSON log line the runner wrote. */
  logs: Array<Record<string, unknown>>;
  /** Every response body `execute` received. */
  responses: string[];
  /** POST /v1/execute with a valid `alga-runner` token for the payload's tenant and install. */
  execute(payload: ExecuteRequest, token?: string | null): Promise<LightMyRequestResponse>;
  /** A token as the server mints it; `claims` override the payload-derived ones. */
  token(payload: ExecuteRequest, claims?: Partial<ServiceClaims>, ttlSeconds?: number): Promise<string>;
  /** Throws if any captured log line or response holds the canary in any form. */
  assertNoCanary(): void;
  close(): Promise<void>;
}

export async function createHarness(options: Partial<RunnerOptions> = {}): Promise<Harness> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-runner-test-'));
  const bundleStore = new DirectoryBundleStore(path.join(dir, 'bundles'));
  const keyring = await LocalKeyring.open(path.join(dir, 'transit.key'), { create: true });
  const keys = await ensureServiceKeys(path.join(dir, 'service'));
  const signer = await loadSigner(keys.privateKeyFile);
  const logs: Array<Record<string, unknown>> = [];
  const responses: string[] = [];
  const runner = await createRunner({
    bundleStore,
    decrypter: keyring,
    verifier: await loadVerifier(keys.publicKeyFile),
    workers: 1,
    // A request a test expects to be answered has no deadline a slow machine could reach
    // (its worker may still be starting); tests of deadlines set `limits.timeout_ms`.
    defaultTimeoutMs: NO_DEADLINE_MS,
    maxTimeoutMs: NO_DEADLINE_MS,
    // `npm test` shares one transpile cache among every runner of the run (scripts/test.ts).
    ...(process.env['RUNNER_TRANSPILE_CACHE_DIR']
      ? { transpileCacheDir: process.env['RUNNER_TRANSPILE_CACHE_DIR'] }
      : {}),
    ...options,
    logLevel: 'debug',
    logStream: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  });
  const token: Harness['token'] = (payload, claims = {}, ttlSeconds = 30) =>
    signer.sign(
      {
        audience: 'alga-runner',
        tenantId: payload.context.tenant_id,
        installId: payload.context.install_id,
        requestId: payload.context.request_id,
        scope: ['execute'],
        ...claims,
      },
      ttlSeconds,
    );
  return {
    dir,
    bundleStore,
    keyring,
    runner,
    signer,
    logs,
    responses,
    token,
    async execute(payload, given) {
      const bearer = given === undefined ? await token(payload) : given;
      const res = await runner.app.inject({
        method: 'POST',
        url: '/v1/execute',
        headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
        payload,
      });
      responses.push(res.body);
      return res;
    },
    assertNoCanary() {
      const everything = `${logs.map((line) => JSON.stringify(line)).join('\n')}\n${responses.join('\n')}`;
      for (const form of canaryForms()) {
        if (everything.includes(form))
          throw new Error(`The runner wrote the canary secret (form ${form.slice(0, 6)}…).`);
      }
    },
    async close() {
      await runner.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The canary in every encoding a log line might carry it, plus a JSON-escaped form. */
export function canaryForms(value = CANARY): string[] {
  return [...secretForms(value), JSON.stringify(value).slice(1, -1)];
}

/** A harness with the fixture guest (testing/guest.ts) already in its bundle store. */
export async function fixtureHarness(options: Partial<RunnerOptions> = {}): Promise<{ h: Harness; hash: string }> {
  const component = await buildFixture(FIXTURE_GUEST, FIXTURE_WORLD);
  const h = await createHarness(options);
  return { h, hash: await h.bundleStore.put(component) };
}

export const TENANT = 'tenant-1';
export const INSTALL = 'install-1';

export async function envelopeFor(
  keyring: LocalKeyring,
  secrets: Record<string, string>,
  overrides: Partial<SecretEnvelope> = {},
  owner: { tenant?: string; install?: string } = {},
): Promise<SecretEnvelope> {
  const ciphertexts: Record<string, string> = {};
  for (const [key, value] of Object.entries(secrets)) {
    ciphertexts[key] = await keyring.encrypt(
      Buffer.from(value, 'utf8'),
      secretAad(owner.tenant ?? TENANT, owner.install ?? INSTALL, key),
    );
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

/** One series' value from the runner's /metrics, e.g. `alga_runner_queue_depth` or `alga_runner_limit_kills_total{kind="timeout"}` (0 when absent). */
export async function metric(h: Harness, series: string): Promise<number> {
  const metrics = (await h.runner.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** The guest's JSON answer inside a runner response. */
/** A count of `alga_runner_instance_events_total{event}` from the runner's /metrics (NaN when absent). */
export async function instanceEvents(h: Harness, event: string): Promise<number> {
  const metrics = (await h.runner.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = new RegExp(`^alga_runner_instance_events_total\\{event="${event}"\\} (\\d+)$`, 'm').exec(metrics);
  return Number(line?.[1]);
}

export function bodyOf(response: ExecuteResponse): Record<string, unknown> {
  return JSON.parse(Buffer.from(response.body_b64 ?? '', 'base64').toString('utf8')) as Record<string, unknown>;
}
