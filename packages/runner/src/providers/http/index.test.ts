import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../types.ts';
import { createHttpProvider } from './index.ts';

describe('http provider (not implemented yet)', () => {
  const provider = createHttpProvider();

  it('answers not-allowed when granted, with a debug line saying it is not available yet', () => {
    const t = testScope({ providers: ['cap:http.fetch'] });
    assert.deepEqual(provider.functions.fetch!(t.scope), new WitErr('not-allowed'));
    assert.ok(t.logs.some((line) => /not available in this runner version yet/.test(String(line.msg))));
  });

  it('answers not-allowed when not granted', () => {
    assert.deepEqual(provider.denied('fetch', testScope().scope), new WitErr('not-allowed'));
  });
});
