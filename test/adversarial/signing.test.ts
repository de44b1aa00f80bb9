/**
 * Signed bundles through the real processes: the `alga` CLI makes a key and
 * signs, the server refuses what its trust policy does not allow, and the
 * runner — with its own copy of the policy — refuses a bundle that a
 * tampered database points it at, before compiling anything. Revoking a key
 * stops its versions, with a typed error, and is audited.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import { gatewayCall, repo, startSystem, type System } from './lib/system.ts';
import { runToExit } from '../../scripts/lib/processes.ts';

const ALGA = path.join(repo, 'packages/cli/bin/alga.js');
const FIXTURE = path.join(repo, 'test/fixtures/looper');

describe('signed bundles: refused at publish, and by the runner when the database is altered', () => {
  let sys: System;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let trustedKey: { id: string; file: string };
  let strangerKey: { id: string; file: string };
  /** As published: the component's hash and the signature document. */
  let publishedHash: string;
  let goodSignature: string;

  const alga = (args: string[]) =>
    runToExit(process.execPath, [ALGA, ...args], {
      cwd: work,
      env: { ...process.env, XDG_CONFIG_HOME: path.join(work, 'config'), ...env },
    });

  const generate = async (name: string) => {
    const run = await alga(['keys', 'generate', '--name', name, '--out', path.join(work, 'keys')]);
    assert.equal(run.code, 0, run.stderr);
    const id = /Created publisher key (ed25519:[0-9a-f]{32})/.exec(run.stdout)?.[1];
    assert.ok(id, run.stdout);
    return { id, file: path.join(work, 'keys', `${name}.key.pem`) };
  };

  const call = (extPath: string) => gatewayCall(sys.server.url, sys.tenants[0].apiKey, `looper${extPath}`);
  const codeOf = (answer: { json: () => Record<string, unknown> }) =>
    (answer.json()['error'] as { code?: string } | undefined)?.code;

  /** Alters the server's database while the server is stopped (PGlite allows one process), then starts it again. */
  const behindTheServersBack = async (sql: string, params: unknown[]) => {
    await sys.server.stop();
    const db = await sys.openDb();
    try {
      // Whoever can write the database can drop its immutability trigger too.
      await db.query('ALTER TABLE extension_versions DISABLE TRIGGER extension_versions_immutable');
      await db.query(sql, params);
      await db.query('ALTER TABLE extension_versions ENABLE TRIGGER extension_versions_immutable');
    } finally {
      await db.close();
    }
    await sys.restartServer();
  };

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'alga-signing-'));
    env = { ALGA_SERVER_URL: '', ALGA_API_KEY: '' };
    trustedKey = await generate('release');
    strangerKey = await generate('stranger');
    const publicKey = await readFile(path.join(work, 'keys', 'release.pub.pem'), 'utf8');
    // One policy, two copies: the server's and the runner's own (the runner never takes keys from the server).
    const policy = JSON.stringify({ requireSigned: true, keys: [{ publicKey, name: 'release' }] });
    await writeFile(path.join(work, 'server-trust.json'), policy);
    await writeFile(path.join(work, 'runner-trust.json'), policy);
    sys = await startSystem({
      name: 'signing',
      serverEnv: { ALGA_TRUST_POLICY_FILE: path.join(work, 'server-trust.json'), ALGA_GATEWAY_RATE_LIMIT: '0' },
      runnerEnv: { RUNNER_TRUST_POLICY_FILE: path.join(work, 'runner-trust.json') },
    });
    env = { ALGA_SERVER_URL: sys.server.url, ALGA_API_KEY: sys.tenants[0].apiKey };
  });

  after(async () => {
    await sys?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('the private key is written 0600 and the public key is what the operator trusts', async () => {
    const { stat } = await import('node:fs/promises');
    assert.equal((await stat(trustedKey.file)).mode & 0o777, 0o600);
    assert.notEqual(trustedKey.id, strangerKey.id);
  });

  test('publish refuses an unsigned bundle (required) and one signed by an untrusted key, saying which', async () => {
    const unsigned = await alga(['publish', '-C', FIXTURE]);
    assert.equal(unsigned.code, 1, unsigned.stdout);
    assert.match(unsigned.stderr, /not signed, and this tenant requires signed bundles/);
    const untrusted = await alga(['publish', '-C', FIXTURE, '--sign', strangerKey.file]);
    assert.equal(untrusted.code, 1, untrusted.stdout);
    assert.match(untrusted.stderr, new RegExp(`signed by key ${strangerKey.id}, which is not trusted`));
  });

  test('alga sign writes a detached signature that publish sends; the signed version installs and runs', async () => {
    const pack = await alga(['pack', '-C', FIXTURE]);
    assert.equal(pack.code, 0, pack.stderr);
    const bundle = /Packed (\S+)/.exec(pack.stdout)?.[1];
    assert.ok(bundle, pack.stdout);
    const signed = await alga(['sign', path.resolve(work, bundle), '--key', trustedKey.file]);
    assert.equal(signed.code, 0, signed.stderr);
    goodSignature = await readFile(`${path.resolve(work, bundle)}.sig.json`, 'utf8');
    assert.equal((JSON.parse(goodSignature) as { keyId: string }).keyId, trustedKey.id);
    const published = await alga(['publish', '-C', FIXTURE, '--signature', `${path.resolve(work, bundle)}.sig.json`]);
    assert.equal(published.code, 0, published.stderr);
    assert.match(published.stdout, new RegExp(`signed by ${trustedKey.id}`));
    publishedHash = /\((sha256:[0-9a-f]{64})\)/.exec(published.stdout)![1]!;
    assert.doesNotMatch(published.stderr, /is not signed/);
    await sys.tenants[0].client.install({ extensionId: 'looper', version: '0.1.0' });
    // The first request compiles the bundle; on a loaded machine that can outlast the gateway's wait (504), never refuse.
    let ok = await call('/ok');
    while (ok.status === 504) ok = await call('/ok');
    assert.equal(ok.status, 200, ok.text);
  });

  test('the database pointed at other bytes (signature kept): the runner refuses before compiling', async () => {
    // An attacker who can write the database and the bundle store: new bytes, stored under their real hash.
    const evil = Buffer.concat([Buffer.from('\0asm\x0d\0\x01\0'), randomBytes(64)]);
    const evilHash = await new DirectoryBundleStore(path.join(sys.dataDir, 'bundles')).put(evil);
    await behindTheServersBack("UPDATE extension_versions SET content_hash = $1 WHERE extension_id = 'looper'", [
      evilHash,
    ]);
    const refused = await call('/ok');
    assert.equal(refused.status, 422, refused.text);
    assert.equal(codeOf(refused), 'ALGA_SIGNATURE_INVALID');
    assert.match(refused.text, /covers a different component/);

    // Forged the other way: the signature swapped for one the attacker made with a key of their own.
    const forged = await alga(['sign', '--key', strangerKey.file, '-C', FIXTURE, '--out', path.join(work, 'f.json')]);
    assert.equal(forged.code, 0, forged.stderr);
    await behindTheServersBack(
      "UPDATE extension_versions SET content_hash = $1, signature = $2::jsonb WHERE extension_id = 'looper'",
      [publishedHash, await readFile(path.join(work, 'f.json'), 'utf8')],
    );
    const untrusted = await call('/ok');
    assert.equal(untrusted.status, 422, untrusted.text);
    assert.equal(codeOf(untrusted), 'ALGA_SIGNATURE_UNTRUSTED');

    // Put back as published: it runs again.
    await behindTheServersBack("UPDATE extension_versions SET signature = $1::jsonb WHERE extension_id = 'looper'", [
      goodSignature,
    ]);
    assert.equal((await call('/ok')).status, 200);
  });

  test('revoking the key stops the versions it signed with a typed error, and is audited', async () => {
    const revoke = await alga(['keys', 'revoke', trustedKey.id, '--reason', 'laptop lost']);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(revoke.stdout, /1 version\(s\)/);
    const refused = await call('/ok');
    assert.equal(refused.status, 403, refused.text);
    assert.equal(codeOf(refused), 'ALGA_SIGNING_KEY_REVOKED');
    assert.match(refused.text, /revoked \(laptop lost\)/);
    // A new publish signed with it is refused too.
    const again = await alga(['publish', '-C', FIXTURE, '--sign', trustedKey.file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /revoked/);

    await sys.server.stop();
    const db = await sys.openDb();
    try {
      const { rows } = await db.query<{ action: string; key_names: string[] }>(
        "SELECT action, key_names FROM audit_log WHERE action = 'signing.key.revoke'",
      );
      assert.deepEqual(
        rows.map((r) => [r.action, r.key_names]),
        [['signing.key.revoke', [trustedKey.id]]],
      );
    } finally {
      await db.close();
      await sys.restartServer();
    }
  });
});
