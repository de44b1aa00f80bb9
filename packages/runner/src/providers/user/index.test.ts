import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../types.ts';
import { createUserProvider } from './index.ts';

describe('user provider (not implemented yet)', () => {
  const provider = createUserProvider();

  it('answers not-available when granted (no user travels with the request yet)', () => {
    const t = testScope({ providers: ['cap:user.read'] });
    assert.deepEqual(provider.functions.getUser!(t.scope), new WitErr('not-available'));
    assert.ok(t.logs.some((line) => /not available in this runner version yet/.test(String(line.msg))));
  });

  it('answers not-allowed when not granted', () => {
    assert.deepEqual(provider.denied('getUser', testScope().scope), new WitErr('not-allowed'));
  });
});
