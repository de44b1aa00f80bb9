import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WORLD_FUNCTIONS } from '../../world.ts';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../types.ts';
import { createStorageProvider } from './index.ts';

describe('storage provider (not implemented yet)', () => {
  const provider = createStorageProvider();

  it('answers denied from every function when granted, with a debug line', () => {
    const t = testScope({ providers: ['cap:storage.kv'] });
    for (const fn of WORLD_FUNCTIONS.storage)
      assert.deepEqual(provider.functions[fn]!(t.scope), new WitErr('denied'), fn);
    assert.ok(t.logs.some((line) => /not available in this runner version yet/.test(String(line.msg))));
  });

  it('answers denied when not granted', () => {
    assert.deepEqual(provider.denied('get', testScope().scope), new WitErr('denied'));
  });
});
