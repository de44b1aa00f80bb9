import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../../testing/scope.ts';
import { WitErr } from '../../host-calls/index.ts';
import { configProvider } from './index.ts';

describe('config provider', () => {
  const provider = configProvider.create();
  const get = (scope: ReturnType<typeof testScope>['scope'], key: string) => provider.functions.get(scope, key);

  it('returns the JSON encoding of a value of any settings type', () => {
    const { scope } = testScope({ config: { s: 'text', n: 3, b: false, l: ['a', 'b'] } });
    assert.equal(get(scope, 's'), '"text"');
    assert.equal(get(scope, 'n'), '3');
    assert.equal(get(scope, 'b'), 'false');
    assert.equal(get(scope, 'l'), '["a","b"]');
  });

  it('returns none for a key that is not set, including inherited names', () => {
    const { scope } = testScope({ config: { a: 1 } });
    assert.equal(get(scope, 'missing'), undefined);
    assert.equal(get(scope, 'toString'), undefined);
  });

  it('returns the whole config JSON-encoded from get-all', () => {
    const { scope } = testScope({ config: { a: 1, b: 'x' } });
    assert.equal(provider.functions.getAll(scope), '{"a":1,"b":"x"}');
  });

  it('answers denied when cap:context.read is not granted', () => {
    const { scope } = testScope({ providers: [] });
    assert.deepEqual(provider.denied('get', scope), new WitErr('denied'));
    assert.deepEqual(provider.denied('getAll', scope), new WitErr('denied'));
  });
});
