import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../types.ts';
import { createUiProxyProvider } from './index.ts';

describe('ui-proxy provider (not implemented yet)', () => {
  const provider = createUiProxyProvider();

  it('answers denied when granted, with a debug line', () => {
    const t = testScope({ providers: ['cap:ui.proxy'] });
    assert.deepEqual(provider.functions.callRoute!(t.scope), new WitErr('denied'));
    assert.ok(t.logs.some((line) => /not available in this runner version yet/.test(String(line.msg))));
  });

  it('answers denied when not granted', () => {
    assert.deepEqual(provider.denied('callRoute', testScope().scope), new WitErr('denied'));
  });
});
