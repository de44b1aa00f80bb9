import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LocalKeyring } from './local-keyring.ts';
import { TransitError } from './types.ts';

async function freshKeyring() {
  const dir = await mkdtemp(path.join(tmpdir(), 'alga-transit-'));
  const file = path.join(dir, 'keys.json');
  return { file, keyring: await LocalKeyring.open(file, { create: true }) };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

test('creates the key file with mode 0600 and round-trips a value in its context', async () => {
  const { file, keyring } = await freshKeyring();
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const ct = await keyring.encrypt(Buffer.from('s3cret'), 'ctx-a');
  assert.match(ct, /^vault:v1:/);
  assert.ok(!ct.includes('s3cret'));
  assert.equal(text(await keyring.decrypt(ct, 'ctx-a')), 's3cret');
});

test('a ciphertext does not decrypt under another context (owner binding)', async () => {
  const { keyring } = await freshKeyring();
  const ct = await keyring.encrypt(Buffer.from('s3cret'), 'tenant-a/install-1');
  await assert.rejects(
    keyring.decrypt(ct, 'tenant-b/install-2'),
    (e: unknown) => e instanceof TransitError && e.reason === 'bad-ciphertext',
  );
});

test('a bit-flipped ciphertext is refused', async () => {
  const { keyring } = await freshKeyring();
  const ct = await keyring.encrypt(Buffer.from('s3cret'), 'ctx');
  const body = Buffer.from(ct.split(':')[2]!, 'base64');
  body[14]! ^= 1;
  await assert.rejects(keyring.decrypt(`vault:v1:${body.toString('base64')}`, 'ctx'), TransitError);
});

test('rotation keeps old ciphertexts readable and rewrap moves them to the new version', async () => {
  const { file, keyring } = await freshKeyring();
  const old = await keyring.encrypt(Buffer.from('v'), 'ctx');
  assert.equal(await keyring.rotate(), 2);
  assert.match(await keyring.encrypt(Buffer.from('v'), 'ctx'), /^vault:v2:/);
  assert.equal(text(await keyring.decrypt(old, 'ctx')), 'v');
  const rewrapped = await keyring.rewrap(old, 'ctx');
  assert.match(rewrapped, /^vault:v2:/);
  const reopened = await LocalKeyring.open(file);
  assert.equal(text(await reopened.decrypt(rewrapped, 'ctx')), 'v');
});

test('refuses a key file that other users can read', async () => {
  const { file } = await freshKeyring();
  await chmod(file, 0o644);
  await assert.rejects(LocalKeyring.open(file), /chmod 600/);
});

test('never prints key material through inspect or JSON', async () => {
  const { file, keyring } = await freshKeyring();
  const raw = JSON.parse(await readFile(file, 'utf8')) as { keys: Record<string, { key: string }> };
  const key = raw.keys['1']!.key;
  const { inspect } = await import('node:util');
  assert.ok(!inspect(keyring, { showHidden: true, depth: 5 }).includes(key));
  assert.ok(!JSON.stringify({ keyring }).includes(key));
});
