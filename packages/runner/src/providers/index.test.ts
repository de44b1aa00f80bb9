import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CAPABILITIES, capabilityForInterface, REFERENCE_INTERFACES, WORLD_INTERFACES } from '@alga-psa/protocol';
import { testProviders } from '../testing/providers.ts';
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
      for (const fn of Object.keys(provider.functions)) assert.match(fn, /^[a-z][A-Za-z]*$/, `${provider.iface}.${fn}`);
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
});
