import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Provider } from '../providers/types.ts';
import { testProviders } from '../testing/providers.ts';
import { testScope } from '../testing/scope.ts';
import { createDispatcher, hostPlan, prefetchedAnswer } from './index.ts';

describe('the main thread dispatcher', () => {
  it('refuses two providers for one interface', () => {
    const providers = testProviders();
    assert.throws(() => createDispatcher([...providers, providers[0]!]), /Two providers implement alga:extension\//);
  });

  it('traps with a generic message and logs the provider name when a provider throws', async () => {
    const providers = testProviders().map((p): Provider =>
      p.iface === 'config'
        ? {
            ...p,
            functions: {
              ...p.functions,
              getAll: () => {
                throw new Error('database password is hunter2');
              },
            } as Provider['functions'],
          }
        : p,
    );
    const t = testScope({ providers: ['cap:context.read'] });
    const outcome = await createDispatcher(providers)(t.scope, 'config', 'getAll', []);
    assert.equal(outcome.kind, 'trap');
    assert.doesNotMatch(JSON.stringify(outcome), /hunter2/);
    assert.ok(t.logs.some((line) => line.provider === 'config' && line.msg === 'provider failed'));
  });

  it('traps on a function or interface the world does not have', async () => {
    const dispatch = createDispatcher(testProviders());
    assert.equal((await dispatch(testScope().scope, 'secrets', 'steal', [])).kind, 'trap');
    assert.equal((await dispatch(testScope().scope, 'scheduler', 'run', [])).kind, 'trap');
  });
});

describe('prefetched answers', () => {
  it('answer only the exact function and argument they were given for', () => {
    const answers = { secrets: { get: { api_token: 'v' } } };
    assert.deepEqual(prefetchedAnswer(answers, 'secrets', 'get', ['api_token']), { kind: 'ok', value: 'v' });
    // Anything else crosses to the main thread (undefined): another key, an inherited name, another function.
    assert.equal(prefetchedAnswer(answers, 'secrets', 'get', ['other']), undefined);
    assert.equal(prefetchedAnswer(answers, 'secrets', 'get', ['toString']), undefined);
    assert.equal(prefetchedAnswer(answers, 'secrets', 'listKeys', []), undefined);
    assert.equal(prefetchedAnswer(undefined, 'secrets', 'get', ['api_token']), undefined);
  });
});

describe('the host plan', () => {
  it('routes each interface by its provider: request-only ones answered locally, one-way ones posted', () => {
    const routes = Object.fromEntries(hostPlan(testProviders()).map((planned) => [planned.iface, planned.route]));
    for (const provider of testProviders()) {
      const expected = provider.placement === 'request' ? 'local' : provider.oneWay ? 'one-way' : 'host';
      assert.equal(routes[provider.iface], expected, provider.iface);
    }
    const bridged = hostPlan(testProviders(), { localCalls: false });
    assert.ok(bridged.every((planned) => planned.route === 'host'));
    // Warm-up still answers request-only interfaces from its synthetic request on that plan.
    assert.deepEqual(
      bridged.filter((planned) => planned.requestOnly).map((planned) => planned.iface),
      testProviders()
        .filter((provider) => provider.placement === 'request')
        .map((provider) => provider.iface),
    );
  });

  it('carries warm-up answers as plain outcomes, so they cross to workers', () => {
    const plan = hostPlan(testProviders());
    assert.deepEqual(structuredClone(plan), plan);
    const secrets = plan.find((planned) => planned.iface === 'secrets')!;
    assert.deepEqual(secrets.warmUp.get, { kind: 'err', payload: 'missing' });
    assert.deepEqual(secrets.warmUp.listKeys, { kind: 'ok', value: [] });
  });
});
