import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedByPolicy, capabilityEnabled, isPolicyCapability } from './policy.ts';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

describe('provider policy resolution', () => {
  it('enables every capability when nothing is stored', () => {
    assert.equal(capabilityEnabled('cap:http.fetch', [], A), true);
  });

  it('a global disable applies to every tenant; a tenant setting wins over it either way', () => {
    const settings = [
      { capability: 'cap:http.fetch', tenantId: null, enabled: false },
      { capability: 'cap:http.fetch', tenantId: A, enabled: true },
      { capability: 'cap:secrets.get', tenantId: B, enabled: false },
    ];
    assert.equal(capabilityEnabled('cap:http.fetch', settings, A), true);
    assert.equal(capabilityEnabled('cap:http.fetch', settings, B), false);
    assert.equal(capabilityEnabled('cap:secrets.get', settings, A), true);
    assert.deepEqual(allowedByPolicy(['cap:context.read', 'cap:http.fetch', 'cap:secrets.get'], settings, B), [
      'cap:context.read',
    ]);
  });

  it('never takes away the capabilities every install gets, whatever is stored', () => {
    assert.equal(isPolicyCapability('cap:context.read'), false);
    assert.equal(isPolicyCapability('cap:log.emit'), false);
    assert.equal(isPolicyCapability('cap:nope'), false);
    assert.equal(isPolicyCapability('cap:storage.kv'), true);
    const settings = [{ capability: 'cap:log.emit', tenantId: null, enabled: false }];
    assert.deepEqual(allowedByPolicy(['cap:log.emit'], settings, A), ['cap:log.emit']);
  });
});
