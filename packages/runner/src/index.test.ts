/**
 * The HTTP surface of an in-process runner: validation and error mapping.
 * These need no real component (see engine/engine.test.ts for those).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseContentHash } from '@alga-psa/bundle-store';
import { createHarness, envelopeFor, executeRequest, type Harness } from './testing/harness.ts';

describe('runner HTTP API', () => {
  let h: Harness;
  before(async () => {
    h = await createHarness({ workers: 1 });
  });
  after(async () => {
    await h?.close();
  });

  const absent = `sha256:${'a'.repeat(64)}`;

  it('answers /healthz with status ok', async () => {
    const res = await h.runner.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('rejects a malformed execute request with 400 ALGA_BAD_REQUEST', async () => {
    const { context: _context, ...withoutContext } = executeRequest(absent);
    for (const payload of [
      withoutContext,
      { ...executeRequest(absent), providers: 'cap:log.emit' },
      executeRequest('md5:abc'),
    ]) {
      const res = await h.runner.app.inject({ method: 'POST', url: '/v1/execute', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 80));
      assert.equal(res.json().error.code, 'ALGA_BAD_REQUEST');
    }
  });

  it('rejects a body that is not JSON with 400 ALGA_BAD_REQUEST', async () => {
    const res = await h.runner.app.inject({
      method: 'POST',
      url: '/v1/execute',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'ALGA_BAD_REQUEST');
  });

  it('rejects an unknown capability id with 400 ALGA_UNKNOWN_CAPABILITY naming it', async () => {
    const res = await h.runner.app.inject({
      method: 'POST',
      url: '/v1/execute',
      payload: executeRequest(absent, { providers: ['cap:log.emit', 'cap:teleport'] }),
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'ALGA_UNKNOWN_CAPABILITY');
    assert.match(res.json().error.message, /cap:teleport/);
  });

  it('answers 404 ALGA_BUNDLE_NOT_FOUND for an absent bundle, with the request id', async () => {
    const res = await h.runner.app.inject({ method: 'POST', url: '/v1/execute', payload: executeRequest(absent) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'ALGA_BUNDLE_NOT_FOUND');
    assert.equal(res.json().error.requestId, 'req-1');
  });

  it('answers 422 ALGA_BUNDLE_HASH_MISMATCH when the stored bytes do not match their hash', async () => {
    const hash = await h.bundleStore.put(new Uint8Array([0, 97, 115, 109]));
    await writeFile(path.join(h.bundleStore.root, 'sha256', parseContentHash(hash), 'component.wasm'), 'tampered');
    const res = await h.runner.app.inject({ method: 'POST', url: '/v1/execute', payload: executeRequest(hash) });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'ALGA_BUNDLE_HASH_MISMATCH');
  });

  it('answers 422 ALGA_INVALID_COMPONENT for bytes that are not a component', async () => {
    const hash = await h.bundleStore.put(new TextEncoder().encode('not wasm at all'));
    const res = await h.runner.app.inject({ method: 'POST', url: '/v1/execute', payload: executeRequest(hash) });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json().error.code, 'ALGA_INVALID_COMPONENT');
  });

  it('answers unknown routes with 404 ALGA_NOT_FOUND', async () => {
    const res = await h.runner.app.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'ALGA_NOT_FOUND');
  });

  it('never logs the secret envelope or the authorization header', async () => {
    const envelope = await envelopeFor(h.keyring, { api_key: 'zzz' });
    await h.runner.app.inject({
      method: 'POST',
      url: '/v1/execute',
      headers: { authorization: 'Bearer top-secret-token' },
      payload: executeRequest(absent, { secret_envelope: envelope }),
    });
    h.runner.app.log.info(
      { req: { headers: { authorization: 'Bearer top-secret-token' } }, body: { secret_envelope: envelope } },
      'probe',
    );
    const all = JSON.stringify(h.logs);
    assert.ok(!all.includes('top-secret-token'));
    assert.ok(!all.includes(envelope.ciphertexts.api_key!));
  });
});
