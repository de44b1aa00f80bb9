import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { DirectoryBundleStore } from '@alga-psa/bundle-store';
import { buildFixture } from '../testing/build-fixture.ts';
import { FIXTURE_GUEST, FIXTURE_WORLD } from '../testing/guest.ts';
import { testProviders } from '../testing/providers.ts';
import { NO_DEADLINE_MS } from '../testing/wait.ts';
import { Engine } from './index.ts';

describe('warm-up', () => {
  let dir: string;
  let bundleStore: DirectoryBundleStore;
  let hash: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'alga-warm-up-'));
    bundleStore = new DirectoryBundleStore(path.join(dir, 'bundles'));
    hash = await bundleStore.put(await buildFixture(FIXTURE_GUEST, FIXTURE_WORLD));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const localHostCalls of [true, false]) {
    it(`warms a new instance up with request-only calls ${localHostCalls ? 'answered in the worker' : 'sent over the bridge'}`, async () => {
      const engine = new Engine({
        bundleStore,
        providers: testProviders(),
        workers: 1,
        queueLimit: 4,
        defaultTimeoutMs: NO_DEADLINE_MS,
        maxTimeoutMs: NO_DEADLINE_MS,
        defaultMemoryMb: 128,
        maxMemoryMb: 128,
        logger: pino({ level: 'silent' }),
        inlineFuel: 0,
        localHostCalls,
      });
      try {
        await engine.prepare(hash);
        const { warmedUp, warmUpRefused } = engine.stats.instances;
        assert.equal(warmUpRefused, 0);
        assert.equal(warmedUp, 1);
      } finally {
        await engine.close();
      }
    });
  }
});
