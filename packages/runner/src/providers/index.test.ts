import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CAPABILITIES, capabilityForInterface, REFERENCE_INTERFACES, WORLD_INTERFACES } from '@alga-psa/protocol';
import { WitErr } from '../host-calls/index.ts';
import { testProviders } from '../testing/providers.ts';
import { testScope } from '../testing/scope.ts';
import { createRequestProviders, PROVIDERS } from './index.ts';

describe('provider registry', () => {
  it("supplies every interface of protocol's capability table and the reference host's world exactly once, each under its capability", () => {
    const providers = testProviders();
    assert.deepEqual(
      providers.map((p) => p.iface).sort(),
      [...WORLD_INTERFACES, ...Object.keys(REFERENCE_INTERFACES)].sort(),
    );
    for (const provider of providers) assert.equal(provider.capability, capabilityForInterface(provider.iface));
    assert.equal(new Set(PROVIDERS.map((definition) => definition.iface)).size, PROVIDERS.length);
  });

  it('names each function of an interface once, as jco does (camelCase)', () => {
    for (const provider of testProviders()) {
      for (const fn of Object.keys(provider.functions))
        assert.match(fn, /^[a-z][A-Za-z0-9]*$/, `${provider.iface}.${fn}`);
    }
  });

  it('builds the request providers without any dependency, for any thread', () => {
    const request = createRequestProviders();
    assert.ok(request.length > 0);
    for (const provider of request) assert.equal(provider.placement, 'request');
    // Every capability still has its interfaces answered somewhere.
    const answered = new Set(testProviders().flatMap((p) => (p.capability ? [p.capability] : [])));
    assert.deepEqual([...answered].sort(), Object.keys(CAPABILITIES).sort());
  });

  it('a stand-in answers in place of the backend; a thrown payload is the WIT error case', async () => {
    const real = testProviders().find((p) => p.iface === 'storage')!;
    const storage = testProviders(
      {},
      {
        standIns: {
          storage: {
            get: (namespace: string, key: string) => {
              if (key === 'absent') throw Object.assign(new Error('missing'), { payload: 'missing' });
              return { namespace, key, value: new Uint8Array([1]), revision: 7n };
            },
          },
        },
      },
    ).find((p) => p.iface === 'storage')!;
    const scope = testScope();
    try {
      const fns = storage.functions as Record<string, (...args: unknown[]) => Promise<unknown>>;
      assert.deepEqual(await fns['get']!(scope, 'default', 'k'), {
        namespace: 'default',
        key: 'k',
        value: new Uint8Array([1]),
        revision: 7n,
      });
      const refused = await fns['get']!(scope, 'default', 'absent');
      assert.ok(refused instanceof WitErr);
      assert.equal(refused.payload, 'missing');
      // The other functions and the traits stay the real provider's.
      assert.deepEqual(Object.keys(storage.functions).sort(), Object.keys(real.functions).sort());
      assert.equal(storage.oneWay, real.oneWay);
      assert.equal(storage.capability, 'cap:storage.kv');
    } finally {
      scope.close();
    }
  });
});
