/**
 * `alga test`: runs the BUILT component (dist/component.wasm) in the real
 * runner, in this process, and checks its answers to the requests a fixture
 * file lists. Config, secrets (encrypted and decrypted as deployed), context,
 * logging and the grant checks are the runner's own; storage and outbound
 * HTTP are answered from the fixture by the SDK's mock host, behind the
 * runner's grant checks. What breaks only after componentize (a missing
 * export, a WIT mismatch, code StarlingMonkey cannot run) fails here, before
 * an upload.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import {
  secretAad,
  secretEgressField,
  secretKeys,
  settingsDefaults,
  type ExecuteRequest,
  type ExecuteResponse,
  type Manifest,
} from '@alga-psa/protocol';
import { loadManifest } from '../build/manifest.ts';
import { CliError } from '../lib/errors.ts';
import { trapSummary } from '../output.ts';

export const FIXTURE_FILE = 'alga.test.json';

const AnswerSchema = Type.Object(
  {
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.String()),
    json: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);

const CaseSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    method: Type.Optional(Type.String()),
    path: Type.String({ pattern: '^/' }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.String()),
    /** Per request, on top of the fixture's. */
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    expect: Type.Object(
      {
        status: Type.Optional(Type.Integer()),
        /** The whole JSON body, compared deeply. */
        json: Type.Optional(Type.Unknown()),
        bodyIncludes: Type.Optional(Type.String()),
        headers: Type.Optional(Type.Record(Type.String(), Type.String())),
        /** Each must be (part of) one of the guest's log lines of this request. */
        logs: Type.Optional(Type.Array(Type.String())),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const FixtureSchema = Type.Object(
  {
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    secrets: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** Initial values of the default storage namespace. */
    storage: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Canned outbound answers: `"GET https://host/path"` or `"https://host/path"` → answer. */
    http: Type.Optional(Type.Record(Type.String(), AnswerSchema)),
    requests: Type.Array(CaseSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type Fixture = Static<typeof FixtureSchema>;

export interface CaseResult {
  name: string;
  ok: boolean;
  problems: string[];
  status: number;
  logs: string[];
}

export async function readFixture(file: string): Promise<Fixture> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CliError(
      `No fixture file ${path.relative(process.cwd(), file) || file}; write one (see docs/cli.md, "alga test") or pass --fixture.`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${path.basename(file)} is not valid JSON: ${(error as Error).message}`);
  }
  const errors = [...Value.Errors(FixtureSchema, parsed)].slice(0, 5);
  if (errors.length > 0) {
    throw new CliError(
      `${path.basename(file)} is not a valid fixture: ${errors.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`,
    );
  }
  return parsed as Fixture;
}

/** Runs every request of the fixture against dist/component.wasm; never throws for a failed expectation. */
export async function runComponentTests(options: { dir: string; fixture: Fixture }): Promise<CaseResult[]> {
  const dir = path.resolve(options.dir);
  const { manifest } = await loadManifest(dir);
  const componentPath = path.join(dir, 'dist', 'component.wasm');
  if (!existsSync(componentPath)) throw new CliError('No dist/component.wasm; run: alga build');
  const fixture = options.fixture;
  for (const key of Object.keys(fixture.secrets ?? {})) {
    if (!secretKeys(manifest).includes(key)) {
      throw new CliError(`The fixture sets secret "${key}", which manifest.json does not declare.`);
    }
  }

  // Loaded on demand: only this command (and dev) needs the runner.
  const [{ createRunner }, { LocalKeyring }, { DirectoryBundleStore }, serviceAuth, { createMockHost }] =
    await Promise.all([
      import('@alga-psa/runner'),
      import('@alga-psa/transit'),
      import('@alga-psa/bundle-store'),
      import('@alga-psa/service-auth'),
      import('@alga-psa/extension-runtime/testing'),
    ]);
  const work = await mkdtemp(path.join(tmpdir(), 'alga-test-'));
  const guestLines: { requestId: string; message: string }[] = [];
  const other: string[] = [];
  try {
    const keyring = await LocalKeyring.open(path.join(work, 'transit.key'), { create: true });
    const keys = await serviceAuth.ensureServiceKeys(path.join(work, 'service'));
    const signer = await serviceAuth.loadSigner(keys.privateKeyFile);
    const bundleStore = new DirectoryBundleStore(path.join(work, 'bundles'));
    const contentHash = await bundleStore.put(await readFile(componentPath));

    // One mock for the whole run, like one install: a put in one request is seen by the next.
    const mock = createMockHost({
      manifest: { capabilities: manifest.capabilities, allowedHosts: manifest.allowedHosts ?? [] },
      ...(fixture.storage ? { storage: fixture.storage } : {}),
      ...(fixture.http ? { http: fixture.http } : {}),
    });
    const runner = await createRunner({
      bundleStore,
      decrypter: keyring,
      verifier: await serviceAuth.loadVerifier(keys.publicKeyFile),
      workers: 1,
      logLevel: 'info',
      logStream: {
        write(line: string) {
          const entry = JSON.parse(line) as {
            source?: string;
            msg?: string;
            request_id?: string;
            level?: number;
            detail?: string;
          };
          if (entry.source === 'guest')
            guestLines.push({ requestId: entry.request_id ?? '', message: entry.msg ?? '' });
          // A trap's detail (the guest's message and stack, masked) is what tells the author why.
          else if ((entry.level ?? 0) >= 40)
            other.push(entry.detail ? `${entry.msg}: ${trapSummary(entry.detail)}` : (entry.msg ?? line));
        },
      },
      standIns: { storage: mock.host.storage, http: mock.host.http } as never,
    });

    const tenantId = 'tenant-test';
    const installId = 'install-test';
    const envelope = await secretEnvelope(keyring, tenantId, installId, fixture.secrets ?? {});
    const results: CaseResult[] = [];
    try {
      for (const [index, testCase] of fixture.requests.entries()) {
        const requestId = `test-${index + 1}-${randomUUID()}`;
        const [pathname = '/', query = ''] = testCase.path.split(/\?(.*)/s);
        const request: ExecuteRequest = {
          context: {
            request_id: requestId,
            tenant_id: tenantId,
            extension_id: manifest.name,
            install_id: installId,
            version_id: manifest.version,
            content_hash: contentHash,
          },
          egress: { allowed_hosts: manifest.allowedHosts ?? [] },
          config: { ...settingsDefaults(manifest), ...fixture.config, ...testCase.config },
          providers: grantedCapabilities(manifest),
          secret_envelope: envelope,
          ...secretEgressField(manifest.settings ?? []),
          http: {
            method: testCase.method ?? 'GET',
            path: pathname,
            query,
            headers: Object.fromEntries(Object.entries(testCase.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
            body_b64: testCase.body === undefined ? null : Buffer.from(testCase.body, 'utf8').toString('base64'),
          },
        };
        const token = await signer.sign(
          { audience: 'alga-runner', tenantId, installId, requestId, scope: ['execute'] },
          60,
        );
        const reply = await runner.app.inject({
          method: 'POST',
          url: '/v1/execute',
          headers: { authorization: `Bearer ${token}` },
          payload: request,
        });
        const logs = guestLines.filter((l) => l.requestId === requestId).map((l) => l.message);
        const name = testCase.name ?? `${request.http.method} ${testCase.path}`;
        if (reply.statusCode !== 200) {
          const error = (reply.json() as { error?: { code?: string; message?: string } }).error;
          results.push({
            name,
            ok: false,
            status: reply.statusCode,
            logs,
            problems: [
              `the runner refused or failed the request: ${error?.code ?? reply.statusCode} ${error?.message ?? ''}`.trim(),
              ...other.splice(0).map((m) => `runner: ${m}`),
            ],
          });
          continue;
        }
        const response = reply.json() as ExecuteResponse;
        results.push({
          name,
          status: response.status,
          logs,
          ...check(testCase.expect, response, logs),
        });
      }
    } finally {
      await runner.close();
    }
    return results;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** What the gateway would grant on `alga install --yes`: the manifest's capabilities plus the defaults. */
function grantedCapabilities(manifest: Manifest): string[] {
  return [...new Set(['cap:context.read', 'cap:log.emit', ...manifest.capabilities])];
}

async function secretEnvelope(
  keyring: { encrypt(plain: Buffer, aad: string): Promise<string>; keyRef: string },
  tenantId: string,
  installId: string,
  secrets: Record<string, string>,
): Promise<ExecuteRequest['secret_envelope']> {
  const ciphertexts: Record<string, string> = {};
  for (const [key, value] of Object.entries(secrets)) {
    ciphertexts[key] = await keyring.encrypt(Buffer.from(value, 'utf8'), secretAad(tenantId, installId, key));
  }
  return { version: 'v1', algorithm: 'aes-256-gcm', key_ref: keyring.keyRef, expires_at: null, ciphertexts };
}

function check(
  expect: Fixture['requests'][number]['expect'],
  response: ExecuteResponse,
  logs: string[],
): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  const body = response.body_b64 ? Buffer.from(response.body_b64, 'base64').toString('utf8') : '';
  if (expect.status !== undefined && response.status !== expect.status) {
    problems.push(`status ${response.status}, expected ${expect.status}${body ? `; body: ${body.slice(0, 300)}` : ''}`);
  }
  if (expect.json !== undefined) {
    let actual: unknown;
    try {
      actual = JSON.parse(body);
    } catch {
      problems.push(`the body is not JSON: ${body.slice(0, 300)}`);
    }
    if (actual !== undefined && !isDeepStrictEqual(actual, expect.json)) {
      problems.push(`JSON body ${JSON.stringify(actual)}, expected ${JSON.stringify(expect.json)}`);
    }
  }
  if (expect.bodyIncludes !== undefined && !body.includes(expect.bodyIncludes)) {
    problems.push(`the body does not include ${JSON.stringify(expect.bodyIncludes)}: ${body.slice(0, 300)}`);
  }
  const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [name, value] of Object.entries(expect.headers ?? {})) {
    if (headers[name.toLowerCase()] !== value) {
      problems.push(
        `header ${name}: ${JSON.stringify(headers[name.toLowerCase()])}, expected ${JSON.stringify(value)}`,
      );
    }
  }
  for (const wanted of expect.logs ?? []) {
    if (!logs.some((line) => line.includes(wanted))) {
      problems.push(`no log line includes ${JSON.stringify(wanted)} (logged: ${JSON.stringify(logs)})`);
    }
  }
  return { ok: problems.length === 0, problems };
}
