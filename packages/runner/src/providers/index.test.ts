import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testScope } from '../testing/scope.ts';
import { WORLD_INTERFACES } from '../world.ts';
import { createDispatcher, createLocalDispatcher, createProviders, SecretCache, type Provider } from './index.ts';

const deps = {
  decrypter: { decrypt: () => Promise.reject(new Error('unused')), ready: async () => {} },
  secretCache: new SecretCache({ ttlMs: 1000, maxEntries: 1 }),
};

describe('provider registry', () => {
  it('supplies every interface of the runner world exactly once', () => {
    const providers = createProviders(deps);
    assert.deepEqual(providers.map((p) => p.iface).sort(), [...WORLD_INTERFACES].sort());
    assert.doesNotThrow(() => createDispatcher(providers));
  });

  it('refuses a registry that leaves an interface or function unimplemented', () => {
    const providers = createProviders(deps);
    assert.throws(() => createDispatcher(providers.filter((p) => p.iface !== 'user')), /alga:extension\/user/);
    const partial = providers.map((p): Provider =>
      p.iface === 'storage' ? { ...p, functions: { get: p.functions.get! } } : p,
    );
    assert.throws(() => createDispatcher(partial), /lacks put/);
  });

  it('traps with a generic message and logs the provider name when a provider throws', async () => {
    const providers = createProviders(deps).map((p): Provider =>
      p.iface === 'config'
        ? {
            ...p,
            functions: {
              ...p.functions,
              getAll: () => {
                throw new Error('database password is hunter2');
              },
            },
          }
        : p,
    );
    const t = testScope({ providers: ['cap:context.read'] });
    const outcome = await createDispatcher(providers)(t.scope, 'config', 'getAll', []);
    assert.equal(outcome.kind, 'trap');
    assert.doesNotMatch(JSON.stringify(outcome), /hunter2/);
    assert.ok(t.logs.some((line) => line.provider === 'config' && line.msg === 'provider failed'));
  });

  it('traps on a function the world does not have', async () => {
    const outcome = await createDispatcher(createProviders(deps))(testScope().scope, 'secrets', 'steal', []);
    assert.equal(outcome.kind, 'trap');
  });

  it("answers a worker's call from the prefetched answers only for the exact function and argument", () => {
    const local = createLocalDispatcher();
    const scope = {
      request: testScope().scope.request,
      granted: new Set(['cap:secrets.get' as const]),
      answers: { secrets: { get: { api_token: 'v' } } },
    };
    assert.deepEqual(local(scope, 'secrets', 'get', ['api_token']), { kind: 'ok', value: 'v' });
    // Anything else crosses the bridge (undefined): another key, an inherited name, another function.
    assert.equal(local(scope, 'secrets', 'get', ['other']), undefined);
    assert.equal(local(scope, 'secrets', 'get', ['toString']), undefined);
    assert.equal(local(scope, 'secrets', 'listKeys', []), undefined);
  });
});
