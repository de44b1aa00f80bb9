import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  ReusableTokens,
  ServiceTokenError,
  ensureServiceKeys,
  loadSigner,
  loadVerifier,
  ServiceTokenVerifier,
} from './index.ts';

async function pair() {
  const files = await ensureServiceKeys(await mkdtemp(path.join(tmpdir(), 'alga-svc-')));
  return { files, signer: await loadSigner(files.privateKeyFile), verifier: await loadVerifier(files.publicKeyFile) };
}

const claims = {
  audience: 'alga-runner' as const,
  tenantId: 't1',
  installId: 'i1',
  requestId: 'r1',
  scope: ['execute'],
};

const rejectsWith = (reason: ServiceTokenError['reason']) => (error: unknown) =>
  error instanceof ServiceTokenError && error.reason === reason;

test('a signed token verifies for its audience and scope and carries tenant and install', async () => {
  const { signer, verifier, files } = await pair();
  assert.equal((await stat(files.privateKeyFile)).mode & 0o777, 0o600);
  const token = await signer.sign(claims, 30);
  assert.deepEqual(await verifier.verify(token, { audience: 'alga-runner', scope: 'execute' }), claims);
});

test('the wrong audience, a missing scope, or no token at all is refused', async () => {
  const { signer, verifier } = await pair();
  const token = await signer.sign(claims, 30);
  await assert.rejects(verifier.verify(token, { audience: 'alga-server' }), rejectsWith('audience'));
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner', scope: 'storage' }), rejectsWith('scope'));
  await assert.rejects(verifier.verify(undefined, { audience: 'alga-runner' }), rejectsWith('missing'));
});

test('an expired token is refused', async () => {
  const { signer, verifier } = await pair();
  const token = await signer.sign(claims, 1);
  await new Promise((r) => setTimeout(r, 2100));
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('expired'));
});

test('an alg:none token and a token signed by another key are refused', async () => {
  const { signer, verifier } = await pair();
  const token = await signer.sign(claims, 30);
  const [, body] = token.split('.');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${body}.`;
  await assert.rejects(verifier.verify(none, { audience: 'alga-runner' }), rejectsWith('invalid'));
  const other = ServiceTokenVerifier.fromPem(
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string,
  );
  await assert.rejects(other.verify(token, { audience: 'alga-runner' }), rejectsWith('invalid'));
});

test('lifetimes above 60 s cannot be minted', async () => {
  const { signer } = await pair();
  await assert.rejects(signer.sign(claims, 3600), RangeError);
});

test('an existing key pair is kept, and the signer never prints its key', async () => {
  const { files, signer } = await pair();
  const before = await readFile(files.privateKeyFile, 'utf8');
  await ensureServiceKeys(path.dirname(files.privateKeyFile));
  assert.equal(await readFile(files.privateKeyFile, 'utf8'), before);
  const { inspect } = await import('node:util');
  assert.ok(!inspect(signer).includes('PRIVATE'));
  assert.equal(JSON.stringify({ signer }), '{"signer":"ServiceTokenSigner([REDACTED])"}');
});

test('a verified token is remembered but still refused after expiry, for another audience or scope', async () => {
  const { signer, verifier } = await pair();
  const token = await signer.sign(claims, 1);
  await verifier.verify(token, { audience: 'alga-runner' });
  await assert.rejects(verifier.verify(token, { audience: 'alga-server' }), rejectsWith('audience'));
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner', scope: 'storage' }), rejectsWith('scope'));
  await new Promise((r) => setTimeout(r, 1100));
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('expired'));
});

test('reusable tokens: one signature per binding while enough lifetime remains, then a fresh one', async () => {
  const { signer, verifier } = await pair();
  const tokens = new ReusableTokens(signer, { minRemainingSeconds: 1 });
  const binding = { audience: 'alga-runner' as const, tenantId: 't1', installId: 'i1', scope: ['execute'] };
  const first = await tokens.get(binding);
  assert.equal(await tokens.get(binding), first);
  assert.notEqual(await tokens.get({ ...binding, installId: 'i2' }), first);
  assert.deepEqual(await verifier.verify(first, { audience: 'alga-runner', scope: 'execute' }), binding);
  await new Promise((r) => setTimeout(r, 1100));
  const renewed = await tokens.get(binding);
  assert.notEqual(renewed, first, 'a token with less than the minimum left is replaced');
});
