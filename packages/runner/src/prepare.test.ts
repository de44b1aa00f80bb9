import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseContentHash } from '@alga-psa/bundle-store';
import type { ExecuteResponse } from '@alga-psa/protocol';
import { executeRequest, fixtureHarness, type Harness, instanceEvents } from './testing/harness.ts';

describe('POST /v1/prepare: loading a bundle before its first request', () => {
  let h: Harness;
  let hash: string;

  before(async () => {
    ({ h, hash } = await fixtureHarness({ workers: 2, instanceMode: 'reset' }));
  });
  after(async () => {
    await h?.close();
  });

  const prepare = (token: string | undefined, body: unknown) =>
    h.runner.app.inject({
      method: 'POST',
      url: '/v1/prepare',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      payload: body as object,
    });

  it('refuses callers without a prepare-scoped service token', async () => {
    const payload = executeRequest(hash);
    assert.equal((await prepare(undefined, { content_hash: hash })).statusCode, 401);
    const executeOnly = await h.token(payload);
    assert.equal((await prepare(executeOnly, { content_hash: hash })).statusCode, 403);
  });

  it('answers 404 for a bundle it cannot find and 400 for a malformed hash', async () => {
    const token = await h.token(executeRequest(hash), { scope: ['prepare'] });
    const missing = await prepare(token, { content_hash: `sha256:${'f'.repeat(64)}` });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'ALGA_BUNDLE_NOT_FOUND');
    assert.equal((await prepare(token, { content_hash: '../../etc/passwd' })).statusCode, 400);
  });

  const warmedUp = () => instanceEvents(h, 'warmed-up');

  it('compiles the bundle ahead and has every worker make its instance ready: it then runs even with the bundle store emptied', async () => {
    const token = await h.token(executeRequest(hash), { scope: ['prepare'] });
    assert.equal(await warmedUp(), 0);
    const prepared = await prepare(token, { content_hash: hash });
    assert.equal(prepared.statusCode, 200);
    assert.equal(prepared.json().status, 'prepared');
    // Answered once both workers and the main thread (inline runs) had instantiated, warmed up and
    // snapshotted (reset mode, the default).
    assert.equal(await warmedUp(), 3);
    // Preparing again costs nothing more. (A new token: on a busy machine the first prepare can outlast one.)
    const again = await h.token(executeRequest(hash), { scope: ['prepare'] });
    assert.equal((await prepare(again, { content_hash: hash })).statusCode, 200);
    assert.equal(await warmedUp(), 3);
    // Only the compiled cache can serve the request now.
    await rm(path.join(h.dir, 'bundles', 'sha256', parseContentHash(hash)), { recursive: true });
    for (let i = 0; i < 4; i++) {
      const res = await h.execute(executeRequest(hash));
      assert.equal(res.statusCode, 200);
      assert.equal(res.json<ExecuteResponse>().status, 200);
    }
    assert.equal(await warmedUp(), 3, 'the requests found the prepared instances');
  });
});
