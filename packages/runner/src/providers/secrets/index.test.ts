import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalKeyring, type Decrypter } from '@alga-psa/transit';
import { envelopeFor } from '../../testing/harness.ts';
import { testScope } from '../../testing/scope.ts';
import { createDispatcher, WitErr } from '../../host-calls/index.ts';
import { testProviders } from '../../testing/providers.ts';
import { maskSecrets, secretForms } from '../../redact.ts';
import { SecretCache, secretsImpl } from './index.ts';

describe('secrets provider', () => {
  let dir: string;
  let keyring: LocalKeyring;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alga-secrets-'));
    keyring = await LocalKeyring.open(path.join(dir, 'key'), { create: true });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function counting(inner: Decrypter): Decrypter & { calls: number } {
    const wrapper = {
      calls: 0,
      async decrypt(ciphertext: string, context: string) {
        wrapper.calls += 1;
        return inner.decrypt(ciphertext, context);
      },
      ready: () => inner.ready(),
    };
    return wrapper;
  }

  function setup(decrypter: Decrypter = keyring, options: { now?: () => number; ttlMs?: number } = {}) {
    const cache = new SecretCache({ ttlMs: options.ttlMs ?? 60_000, maxEntries: 10 });
    const provider = secretsImpl({ decrypter, cache, ...(options.now ? { now: options.now } : {}) });
    return {
      cache,
      provider,
      get: provider.functions.get,
      listKeys: provider.functions.listKeys,
      prefetch: provider.prefetch!,
    };
  }

  it('decrypts a granted key with the AAD bound to tenant, install and key, and remembers it for masking', async () => {
    const { get } = setup();
    const t = testScope({
      providers: ['cap:secrets.get'],
      secret_envelope: await envelopeFor(keyring, { api_key: 'v4lue' }),
    });
    assert.equal(await get(t.scope, 'api_key'), 'v4lue');
    assert.ok(t.scope.masked.has('v4lue'));
    t.close();
  });

  it('answers missing when the envelope is null or lacks the key', async () => {
    const { get } = setup();
    const none = testScope({ providers: ['cap:secrets.get'], secret_envelope: null });
    assert.deepEqual(await get(none.scope, 'api_key'), new WitErr('missing'));
    const other = testScope({
      providers: ['cap:secrets.get'],
      secret_envelope: await envelopeFor(keyring, { a: '1' }),
    });
    assert.deepEqual(await get(other.scope, 'toString'), new WitErr('missing'));
  });

  it('answers expired once expires_at has passed, without decrypting', async () => {
    const decrypter = counting(keyring);
    const { get } = setup(decrypter);
    const envelope = await envelopeFor(keyring, { a: '1' }, { expires_at: new Date(Date.now() - 1000).toISOString() });
    const t = testScope({ providers: ['cap:secrets.get'], secret_envelope: envelope });
    assert.deepEqual(await get(t.scope, 'a'), new WitErr('expired'));
    assert.equal(decrypter.calls, 0);
  });

  it("answers expired for a key past its own expiry, and still reads the envelope's other keys", async () => {
    const decrypter = counting(keyring);
    const { get } = setup(decrypter);
    const envelope = await envelopeFor(keyring, { a: '1', b: '2', c: '3' });
    envelope.key_expires_at = {
      a: new Date(Date.now() - 1000).toISOString(),
      b: new Date(Date.now() + 3_600_000).toISOString(),
      c: 'not a time',
    };
    const t = testScope({ providers: ['cap:secrets.get'], secret_envelope: envelope });
    assert.deepEqual(await get(t.scope, 'a'), new WitErr('expired'));
    assert.deepEqual(await get(t.scope, 'c'), new WitErr('expired'), 'an unparseable expiry fails closed');
    assert.equal(decrypter.calls, 0);
    assert.equal(await get(t.scope, 'b'), '2');
  });

  it('answers internal on a decrypt failure and logs the key name and reason only', async () => {
    const { get } = setup();
    const envelope = await envelopeFor(keyring, { a: 'secret-a' });
    // A ciphertext bound to another key name fails authentication.
    envelope.ciphertexts.b = envelope.ciphertexts.a!;
    const t = testScope({ providers: ['cap:secrets.get'], secret_envelope: envelope });
    assert.deepEqual(await get(t.scope, 'b'), new WitErr('internal'));
    const line = t.logs.find((entry) => entry.msg === 'secret could not be decrypted');
    assert.ok(line);
    assert.equal(line.key, 'b');
    assert.equal(line.reason, 'bad-ciphertext');
    assert.ok(!JSON.stringify(t.logs).includes(envelope.ciphertexts.a!));
  });

  it('answers denied without touching the decrypter when cap:secrets.get is not granted', async () => {
    const decrypter = counting(keyring);
    const dispatch = createDispatcher(testProviders({}, { decrypter }));
    const t = testScope({ providers: ['cap:context.read'], secret_envelope: await envelopeFor(keyring, { a: '1' }) });
    assert.deepEqual(await dispatch(t.scope, 'secrets', 'get', ['a']), { kind: 'err', payload: 'denied' });
    assert.deepEqual(await dispatch(t.scope, 'secrets', 'listKeys', []), { kind: 'ok', value: [] });
    assert.equal(decrypter.calls, 0);
  });

  it('lists key names only', async () => {
    const { listKeys } = setup();
    const t = testScope({
      providers: ['cap:secrets.get'],
      secret_envelope: await envelopeFor(keyring, { a: 'x', b: 'y' }),
    });
    assert.deepEqual(listKeys(t.scope), ['a', 'b']);
  });

  it('decrypts once per (tenant, install, version) while cached, and again for a new version', async () => {
    const decrypter = counting(keyring);
    const { get } = setup(decrypter);
    const v1 = await envelopeFor(keyring, { a: 'one' });
    for (let i = 0; i < 3; i++) {
      const t = testScope({ providers: ['cap:secrets.get'], secret_envelope: v1 });
      assert.equal(await get(t.scope, 'a'), 'one');
      t.close();
    }
    assert.equal(decrypter.calls, 1);
    const v2 = await envelopeFor(keyring, { a: 'two' }, { version: 'v2' });
    const t = testScope({ providers: ['cap:secrets.get'], secret_envelope: v2 });
    assert.equal(await get(t.scope, 'a'), 'two');
    assert.equal(decrypter.calls, 2);
  });

  it('masks a cached secret in every form, with the forms computed once per cache entry and dropped with it', async () => {
    const { cache, get } = setup();
    const envelope = await envelopeFor(keyring, { a: 'k?y/+ v>' }, { version: 'forms' });
    const entryKey = SecretCache.key('tenant-1', 'install-1', 'forms');
    let kept: readonly string[] | undefined;
    for (let i = 0; i < 2; i++) {
      const t = testScope({ providers: ['cap:secrets.get'], secret_envelope: envelope });
      await get(t.scope, 'a');
      const entry = cache.acquire(entryKey);
      cache.release(entry);
      if (i === 0) kept = entry.forms.get('a');
      else assert.equal(entry.forms.get('a'), kept, 'the same forms, not computed again');
      for (const form of secretForms('k?y/+ v>')) {
        assert.equal(maskSecrets(`<${form}>`, t.scope.masked), '<[REDACTED]>', form);
      }
      t.close();
    }
    const entry = cache.acquire(entryKey);
    cache.release(entry);
    cache.clear();
    assert.equal(entry.forms.size, 0, 'wiped with the bytes');
  });

  it('wipes cached bytes on eviction, but only after the execution that pinned them ends', async () => {
    const { cache, get } = setup();
    const t = testScope({
      providers: ['cap:secrets.get'],
      secret_envelope: await envelopeFor(keyring, { a: 'pinned' }),
    });
    assert.equal(await get(t.scope, 'a'), 'pinned');
    const entry = cache.acquire(SecretCache.key('tenant-1', 'install-1', 'v1'));
    cache.release(entry);
    const bytes = entry.values.get('a')!;
    cache.clear();
    assert.equal(bytes.toString('utf8'), 'pinned', 'still readable while the execution runs');
    assert.equal(await get(t.scope, 'a'), 'pinned');
    t.close();
    assert.ok(
      bytes.every((byte) => byte === 0),
      'wiped once released',
    );
  });

  it('forgets and wipes decrypted bytes after the TTL', async () => {
    const decrypter = counting(keyring);
    const { cache, get } = setup(decrypter, { ttlMs: 30 });
    const envelope = await envelopeFor(keyring, { a: 'short-lived' }, { version: 'ttl' });
    const first = testScope({ providers: ['cap:secrets.get'], secret_envelope: envelope });
    await get(first.scope, 'a');
    first.close();
    const entry = cache.acquire(SecretCache.key('tenant-1', 'install-1', 'ttl'));
    cache.release(entry);
    const bytes = entry.values.get('a')!;
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.ok(
      bytes.every((byte) => byte === 0),
      'wiped on expiry',
    );
    const second = testScope({ providers: ['cap:secrets.get'], secret_envelope: envelope });
    assert.equal(await get(second.scope, 'a'), 'short-lived');
    assert.equal(decrypter.calls, 2);
  });

  it('prefetches only what is already decrypted, pinned and masked for the execution, never an expired key', async () => {
    const decrypter = counting(keyring);
    const { cache, get, prefetch } = setup(decrypter);
    const envelope = await envelopeFor(keyring, { a: 'first-value', b: 'second-value' }, { version: 'pre' });
    const request = { providers: ['cap:secrets.get'], secret_envelope: envelope };
    const cold = testScope(request);
    assert.equal(prefetch(cold.scope), undefined, 'nothing cached: nothing to hand over');
    assert.equal(cache.size, 0, 'and no entry made for it');
    assert.equal(await get(cold.scope, 'a'), 'first-value');
    cold.close();

    const warm = testScope(request);
    assert.deepEqual(prefetch(warm.scope), { get: { a: 'first-value' } }, 'b was never read, so never decrypted');
    assert.ok(warm.scope.masked.has('first-value'), 'masked though the guest may never read it');
    assert.equal(decrypter.calls, 1);
    // Pinned: an eviction now leaves the bytes to the execution until it ends.
    const entry = cache.acquire(SecretCache.key('tenant-1', 'install-1', 'pre'));
    cache.release(entry);
    const bytes = entry.values.get('a')!;
    cache.clear();
    assert.equal(bytes.toString('utf8'), 'first-value');
    warm.close();
    assert.ok(bytes.every((byte) => byte === 0));

    const expired = await envelopeFor(
      keyring,
      { a: 'first-value' },
      { version: 'pre', expires_at: new Date(Date.now() - 1000).toISOString() },
    );
    const refill = testScope(request);
    await get(refill.scope, 'a');
    refill.close();
    const late = testScope({ ...request, secret_envelope: expired });
    assert.deepEqual(prefetch(late.scope), { get: {} });
    late.close();
  });
});
