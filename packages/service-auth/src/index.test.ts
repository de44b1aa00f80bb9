import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeJwt, SignJWT } from 'jose';
import {
  MAX_TOKEN_TTL_SECONDS,
  ReusableTokens,
  ServiceTokenError,
  ensureServiceKeys,
  loadSigner,
  loadVerifier,
  ServiceTokenVerifier,
} from './index.ts';

/** A clock the test moves: time passes only when `advance` is called. */
function testClock(startMs = 1_700_000_000_000) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

async function pair(clock = testClock()) {
  const files = await ensureServiceKeys(await mkdtemp(path.join(tmpdir(), 'alga-svc-')));
  return {
    files,
    clock,
    signer: await loadSigner(files.privateKeyFile, clock),
    verifier: await loadVerifier(files.publicKeyFile, clock),
  };
}

/** Signs with jose directly, to forge tokens ServiceTokenSigner never mints. Times in seconds. */
async function signRaw(
  privateKeyFile: string,
  times: { iat: number; exp: number },
  audience: string | string[] = 'alga-runner',
): Promise<string> {
  return new SignJWT({ tid: 't1', iid: 'i1', scope: 'execute' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer('alga-server')
    .setAudience(audience)
    .setIssuedAt(times.iat)
    .setExpirationTime(times.exp)
    .sign(createPrivateKey(await readFile(privateKeyFile, 'utf8')));
}

const seconds = (ms: number) => Math.floor(ms / 1000);

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
  const { signer, verifier, clock } = await pair();
  const token = await signer.sign(claims, 1);
  clock.advance(2100);
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
  const { signer, verifier, clock } = await pair();
  const token = await signer.sign(claims, 1);
  await verifier.verify(token, { audience: 'alga-runner' });
  await assert.rejects(verifier.verify(token, { audience: 'alga-server' }), rejectsWith('audience'));
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner', scope: 'storage' }), rejectsWith('scope'));
  clock.advance(1100);
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('expired'));
});

test('reusable tokens: one signature per binding while enough lifetime remains, then a fresh one', async () => {
  const { signer, verifier, clock } = await pair();
  const tokens = new ReusableTokens(signer, { minRemainingSeconds: 1, now: clock.now });
  const binding = { audience: 'alga-runner' as const, tenantId: 't1', installId: 'i1', scope: ['execute'] };
  const first = await tokens.get(binding);
  assert.equal(await tokens.get(binding), first);
  assert.notEqual(await tokens.get({ ...binding, installId: 'i2' }), first);
  assert.deepEqual(await verifier.verify(first, { audience: 'alga-runner', scope: 'execute' }), binding);
  clock.advance(1100);
  const renewed = await tokens.get(binding);
  assert.notEqual(renewed, first, 'a token with less than the minimum left is replaced');
});

test('reusable tokens: requests that find the token due at the same time share one signature', async () => {
  const { signer, verifier, clock } = await pair();
  let signatures = 0;
  const counting = Object.create(signer) as typeof signer;
  counting.sign = (...args: Parameters<typeof signer.sign>) => {
    signatures++;
    return signer.sign(...args);
  };
  const tokens = new ReusableTokens(counting, { minRemainingSeconds: 1, now: clock.now });
  const binding = { audience: 'alga-runner' as const, tenantId: 't1', installId: 'i1', scope: ['execute'] };
  const burst = await Promise.all(Array.from({ length: 8 }, () => tokens.get(binding)));
  assert.equal(signatures, 1);
  assert.equal(new Set(burst).size, 1);
  assert.notEqual(await tokens.get({ ...binding, installId: 'i2' }), burst[0], 'another binding signs its own');
  assert.deepEqual(await verifier.verify(burst[0]!, { audience: 'alga-runner', scope: 'execute' }), binding);
  clock.advance(1100);
  const renewed = await Promise.all([tokens.get(binding), tokens.get(binding)]);
  assert.equal(signatures, 3, 'one more signature for the renewal, shared by both');
  assert.equal(renewed[0], renewed[1]);
});

test('a token valid for longer than 60 s is refused on first use, however fresh', async () => {
  const { files, verifier, clock } = await pair();
  const iat = seconds(clock.now());
  for (const lifetime of [3600, MAX_TOKEN_TTL_SECONDS + 1]) {
    const token = await signRaw(files.privateKeyFile, { iat, exp: iat + lifetime });
    await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('invalid'));
    // Refused again, not remembered as verified by the first attempt.
    await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('invalid'));
  }
  const longest = await signRaw(files.privateKeyFile, { iat, exp: iat + MAX_TOKEN_TTL_SECONDS });
  assert.equal((await verifier.verify(longest, { audience: 'alga-runner' })).installId, 'i1');
});

test("a remembered token is refused once 60 s have passed since it was issued (the tester's 66 s reuse)", async () => {
  const { files, verifier, clock } = await pair();
  const iat = seconds(clock.now());
  const token = await signRaw(files.privateKeyFile, { iat, exp: iat + MAX_TOKEN_TTL_SECONDS });
  await verifier.verify(token, { audience: 'alga-runner' });
  clock.advance(59_000);
  await verifier.verify(token, { audience: 'alga-runner' });
  clock.advance(7_000);
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('expired'));
});

test('a token first presented more than 60 s after it was issued is refused, whatever its exp says', async () => {
  const { files, verifier, clock } = await pair();
  const iat = seconds(clock.now()) - MAX_TOKEN_TTL_SECONDS - 1;
  const token = await signRaw(files.privateKeyFile, { iat, exp: iat + 3600 });
  await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('expired'));
});

test('an audience array is refused even when it names the expected audience, cached or not', async () => {
  const { files, verifier, clock } = await pair();
  const iat = seconds(clock.now());
  for (const audience of [['alga-runner', 'alga-server'], ['alga-runner'], ['alga-server', 'alga-runner']]) {
    const token = await signRaw(files.privateKeyFile, { iat, exp: iat + 30 }, audience);
    await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('audience'));
    await assert.rejects(verifier.verify(token, { audience: 'alga-runner' }), rejectsWith('audience'));
    await assert.rejects(verifier.verify(token, { audience: 'alga-server' }), rejectsWith('audience'));
  }
});

test('the signer dates exp from the same second as iat, so its longest tokens always verify', async () => {
  const clock = testClock();
  const { signer, verifier } = await pair(clock);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 1, max: MAX_TOKEN_TTL_SECONDS }),
      async (step, ttl) => {
        clock.advance(step);
        const token = await signer.sign(claims, ttl);
        const { iat, exp } = decodeJwt(token);
        assert.equal(exp! - iat!, ttl);
        assert.equal(iat, seconds(clock.now()));
        assert.deepEqual(await verifier.verify(token, { audience: 'alga-runner', scope: 'execute' }), claims);
      },
    ),
    { numRuns: 50 },
  );
});
