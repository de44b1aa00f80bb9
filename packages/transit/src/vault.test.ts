import assert from 'node:assert/strict';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { inspect } from 'node:util';
import { FakeVault, type FakeVaultOptions } from './testing/fake-vault.ts';
import { TransitError, type TransitErrorReason } from './types.ts';
import { sanitizeVaultError, VaultTransit, type VaultTransitOptions } from './vault.ts';

const TOKEN = 'hvs.CAESIJtesttokenNeverPrintThis0123456789abcdefghijklmnopqrstuv';
const SECRET = 'sk_live_super_secret_value';
const CONTEXT = 'tenant-a/install-1/API_KEY';

/** Per-attempt timeout for calls a test expects answered: beyond anything a slow machine causes. */
const NO_DEADLINE_MS = 15 * 60_000;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function tokenFile(token = TOKEN): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-vault-'));
  const file = path.join(dir, 'token');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return file;
}

async function setup(
  fakeOptions: Partial<FakeVaultOptions> = {},
  clientOptions: Partial<VaultTransitOptions> = {},
): Promise<{ fake: FakeVault; client: VaultTransit; file: string }> {
  const fake = await FakeVault.start({ token: TOKEN, ...fakeOptions });
  const file = await tokenFile();
  const client = new VaultTransit({
    address: fake.address,
    keyName: fake.keyName,
    tokenFile: file,
    timeoutMs: NO_DEADLINE_MS,
    retryBaseDelayMs: 5,
    ...clientOptions,
  });
  cleanups.push(
    () => client.close(),
    () => fake.close(),
  );
  return { fake, client, file };
}

function transitError(reason: TransitErrorReason, check?: (e: TransitError) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof TransitError, `expected TransitError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    check?.(error);
    assertClean(error.message);
    assertClean(inspect(error, { depth: 5 }));
    return true;
  };
}

/** Nothing secret in a string meant for logs. */
function assertClean(text: string, ciphertext?: string) {
  assert.ok(!text.includes(TOKEN), `token leaked: ${text}`);
  assert.ok(!text.includes(SECRET), `plaintext leaked: ${text}`);
  assert.ok(!text.includes(Buffer.from(SECRET).toString('base64')), `plaintext leaked: ${text}`);
  assert.ok(!/vault:v\d+:[A-Za-z0-9+/]/.test(text), `ciphertext leaked: ${text}`);
  if (ciphertext) assert.ok(!text.includes(ciphertext.slice(9, 40)), `ciphertext leaked: ${text}`);
}

test('round trip: encrypt then decrypt in the same context', async () => {
  const { client, fake } = await setup();
  assert.equal(client.keyRef, 'vault:transit/alga-ext');
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.match(ct, /^vault:v1:/);
  assert.ok(!ct.includes(SECRET));
  assert.equal(Buffer.from(await client.decrypt(ct, CONTEXT)).toString('utf8'), SECRET);
  assert.deepEqual(
    fake.transitRequests.map((r) => `${r.method} ${r.path}`),
    ['POST /v1/transit/encrypt/alga-ext', 'POST /v1/transit/decrypt/alga-ext'],
  );
});

test('a ciphertext does not decrypt under another context: bad-ciphertext, not retried', async () => {
  const { client, fake } = await setup();
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  await assert.rejects(
    client.decrypt(ct, 'tenant-b/install-2/API_KEY'),
    transitError('bad-ciphertext', (e) => assertClean(e.message, ct)),
  );
  assert.equal(fake.transitRequests.length, 2);
});

test('a ciphertext below the min decryption version maps to key-version', async () => {
  const { client, fake } = await setup();
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.equal(await client.rotate(), 2);
  const rewrapped = await client.rewrap(ct, CONTEXT);
  assert.match(rewrapped, /^vault:v2:/);
  fake.setMinDecryptionVersion(2);
  await assert.rejects(client.decrypt(ct, CONTEXT), transitError('key-version'));
  assert.equal(Buffer.from(await client.decrypt(rewrapped, CONTEXT)).toString(), SECRET);
});

test('403 (wrong token) is denied after exactly one request, naming the policy path', async () => {
  const { client, fake } = await setup();
  fake.token = 'hvs.someOtherTokenThatTheClientDoesNotHave';
  await assert.rejects(
    client.decrypt('vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', CONTEXT),
    transitError('denied', (e) => assert.match(e.message, /grants update on transit\/decrypt\/alga-ext/)),
  );
  assert.equal(fake.transitRequests.length, 1);
  assert.equal(fake.transitRequests[0]!.tokenAccepted, false);
});

test('a 500 whose text is an auth failure is denied, not retried', async () => {
  const { client, fake } = await setup();
  fake.failNext({ kind: 'status', status: 500, errors: ['1 error occurred:\n\t* permission denied\n\n'] }, Infinity);
  await assert.rejects(client.encrypt(Buffer.from(SECRET), CONTEXT), transitError('denied'));
  assert.equal(fake.transitRequests.length, 1);
});

test('a 500 saying "message authentication failed" is not mistaken for an auth failure', async () => {
  const { client, fake } = await setup({}, { retries: 1 });
  fake.failNext({ kind: 'status', status: 500, errors: ['cipher: message authentication failed'] }, Infinity);
  await assert.rejects(client.encrypt(Buffer.from(SECRET), CONTEXT), transitError('unavailable'));
  assert.equal(fake.transitRequests.length, 2);
});

test('503 twice then OK succeeds on the third request', async () => {
  const { client, fake } = await setup();
  fake.failNext({ kind: 'status', status: 503 }, 2);
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.match(ct, /^vault:v1:/);
  assert.equal(fake.transitRequests.length, 3);
});

test('429 is retried like 503', async () => {
  const { client, fake } = await setup();
  fake.failNext({ kind: 'status', status: 429 }, 1);
  await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.equal(fake.transitRequests.length, 2);
});

test('503 forever is unavailable after 1 + retries requests', async () => {
  const { client, fake } = await setup({}, { retries: 3 });
  fake.failNext({ kind: 'status', status: 503 }, Infinity);
  await assert.rejects(
    client.encrypt(Buffer.from(SECRET), CONTEXT),
    transitError('unavailable', (e) => assert.match(e.message, /after 4 attempts/)),
  );
  assert.equal(fake.transitRequests.length, 4);
});

test('a hanging Vault is unavailable after 1 + retries timed-out attempts, within a bounded time', async () => {
  const { client, fake } = await setup({}, { timeoutMs: 150, retries: 2 });
  // Vault never answers: the call ends only because each of its 3 attempts is cut at 150 ms.
  fake.failNext({ kind: 'hang' }, Infinity);
  await assert.rejects(
    client.decrypt('vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', CONTEXT),
    transitError('unavailable', (e) =>
      assert.match(e.message, /after 3 attempts.*(no answer within 150 ms|timed out)/),
    ),
  );
  assert.equal(fake.transitRequests.length, 3);
});

test('a dropped connection is retried', async () => {
  const { client, fake } = await setup();
  fake.failNext({ kind: 'drop' }, 1);
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.match(ct, /^vault:v1:/);
  assert.equal(fake.transitRequests.length, 2);
});

test('connection refused (closed port) is unavailable', async () => {
  const port = await new Promise<number>((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const client = new VaultTransit({
    address: `http://127.0.0.1:${port}`,
    keyName: 'alga-ext',
    tokenFile: await tokenFile(),
    timeoutMs: 300,
    retryBaseDelayMs: 5,
  });
  cleanups.push(() => client.close());
  await assert.rejects(
    client.encrypt(Buffer.from(SECRET), CONTEXT),
    transitError('unavailable', (e) => assert.match(e.message, /ECONNREFUSED/)),
  );
  await assert.rejects(client.ready(), transitError('unavailable'));
});

test('400, 403 and 404 are never retried; 404 names the mount', async () => {
  const { client, fake } = await setup({}, { mount: 'elsewhere' });
  await assert.rejects(
    client.encrypt(Buffer.from(SECRET), CONTEXT),
    transitError('config', (e) => assert.match(e.message, /mounted at 'elsewhere'/)),
  );
  assert.equal(fake.transitRequests.length, 1);
  fake.failNext({ kind: 'status', status: 400, errors: ['invalid request'] }, Infinity);
  await assert.rejects(client.encrypt(Buffer.from(SECRET), CONTEXT), transitError('config'));
  assert.equal(fake.transitRequests.length, 2);
});

test('the namespace header is sent, and without it the mount is not found', async () => {
  const { client, fake } = await setup({ namespace: 'tenants/alga' }, { namespace: 'tenants/alga' });
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.equal(fake.transitRequests[0]!.namespace, 'tenants/alga');

  const file = await tokenFile();
  const noNamespace = new VaultTransit({ address: fake.address, keyName: 'alga-ext', tokenFile: file });
  cleanups.push(() => noNamespace.close());
  await assert.rejects(noNamespace.decrypt(ct, CONTEXT), transitError('config'));
  assert.equal(fake.transitRequests[1]!.namespace, undefined);
});

test('the token is re-read after the token file changes', async () => {
  const { client, fake, file } = await setup();
  await client.encrypt(Buffer.from(SECRET), CONTEXT);
  const renewed = 'hvs.RenewedTokenWrittenBySidecarAbcdefghijklmnopqrstuvwxyz012345';
  fake.token = renewed;
  // Sidecars replace the file atomically; a rename gives it a new inode.
  await writeFile(`${file}.new`, renewed);
  await rename(`${file}.new`, file);
  await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.deepEqual(
    fake.transitRequests.map((r) => r.tokenAccepted),
    [true, true],
  );
});

test('a missing token file is a config error', async () => {
  const { client } = await setup({}, { tokenFile: '/nonexistent/alga/token' });
  await assert.rejects(client.encrypt(Buffer.from(SECRET), CONTEXT), transitError('config'));
  await assert.rejects(client.ready(), transitError('config'));
});

test('no message, inspect or JSON output contains the token, plaintext or ciphertext', async () => {
  const { client, fake } = await setup();
  const ct = await client.encrypt(Buffer.from(SECRET), CONTEXT);
  assert.equal(inspect(client), 'VaultTransit(vault:transit/alga-ext)');
  assert.equal(JSON.stringify({ client }), '{"client":"VaultTransit(vault:transit/alga-ext)"}');
  assertClean(inspect(client, { showHidden: true, depth: 10 }));

  // Vault error text echoing the ciphertext and the token is sanitized.
  fake.failNext({ kind: 'status', status: 400, errors: [`invalid ciphertext ${ct} for token ${TOKEN}`] });
  await assert.rejects(
    client.decrypt(ct, CONTEXT),
    transitError('bad-ciphertext', (e) => assertClean(e.message, ct)),
  );
  // Even a short base64 echo of this request's plaintext is removed.
  fake.failNext({ kind: 'status', status: 503, errors: [`sealed; saw ${Buffer.from(SECRET).toString('base64')}`] }, 3);
  await assert.rejects(client.encrypt(Buffer.from(SECRET), CONTEXT), transitError('unavailable'));
});

test('sanitizeVaultError drops ciphertexts, tokens and long base64', () => {
  const out = sanitizeVaultError(`bad vault:v3:QUJDREVGR0g= and s.abcdefghijklmnopqrstuvwx and ${'A'.repeat(44)} ok`);
  assert.equal(out, 'bad [redacted] and [redacted] and [redacted] ok');
  assert.equal(sanitizeVaultError('permission denied'), 'permission denied');
});

test('readiness: active and standby are ready; sealed and uninitialized are unavailable', async () => {
  const { client, fake } = await setup();
  await client.ready();
  fake.health = 'standby';
  await client.ready();
  fake.health = 'perf-standby';
  await client.ready();
  fake.health = 'sealed';
  await assert.rejects(
    client.ready(),
    transitError('unavailable', (e) => assert.match(e.message, /sealed/)),
  );
  fake.health = 'uninitialized';
  await assert.rejects(
    client.ready(),
    transitError('unavailable', (e) => assert.match(e.message, /not initialized/)),
  );
  assert.equal(fake.transitRequests.length, 0);
});

test('verifyKey refuses a key that is not derived', async () => {
  const { client } = await setup();
  assert.deepEqual(await client.verifyKey(), {
    type: 'aes256-gcm96',
    derived: true,
    latestVersion: 1,
    minDecryptionVersion: 1,
  });
  const { client: plain } = await setup({ derived: false });
  await assert.rejects(plain.verifyKey(), transitError('config'));
});

test('rotate is not retried after an ambiguous failure', async () => {
  const { client, fake } = await setup();
  fake.failNext({ kind: 'status', status: 500 }, 1);
  await assert.rejects(client.rotate(), transitError('unavailable'));
  assert.equal(fake.transitRequests.length, 1);
});

test('configuration is validated up front', () => {
  const base = { keyName: 'k', tokenFile: '/t' };
  assert.throws(() => new VaultTransit({ ...base, address: 'not a url' }), transitError('config'));
  assert.throws(() => new VaultTransit({ ...base, address: 'http://u:p@127.0.0.1:8200' }), transitError('config'));
  assert.throws(
    () => new VaultTransit({ ...base, address: 'http://127.0.0.1', keyName: '../x' }),
    transitError('config'),
  );
});
