import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CAPABILITIES,
  capabilityForInterface,
  consentText,
  DEFAULT_CAPABILITIES,
  grantedWith,
  parseImportName,
  WORLD_INTERFACES,
} from './capabilities.ts';

describe('the capability table', () => {
  it('maps every interface to exactly one capability', () => {
    const seen = new Map<string, string>();
    for (const [capability, { interfaces }] of Object.entries(CAPABILITIES)) {
      for (const iface of interfaces) {
        assert.equal(seen.get(iface), undefined, `${iface} is unlocked by ${seen.get(iface)} and ${capability}`);
        seen.set(iface, capability);
        assert.equal(capabilityForInterface(iface), capability);
      }
    }
    assert.deepEqual([...WORLD_INTERFACES].sort(), [...seen.keys()].sort());
    assert.equal(capabilityForInterface('scheduler'), undefined);
  });

  it('has a consent sentence for every capability and shows unknown ids as they are', () => {
    for (const capability of Object.keys(CAPABILITIES)) assert.ok(consentText(capability).length > 10);
    assert.equal(consentText('cap:teleport'), 'cap:teleport');
  });

  it('grants the defaults with whatever is declared, once each, sorted', () => {
    const granted = grantedWith(['cap:secrets.get', 'cap:log.emit']);
    assert.deepEqual(granted, [...new Set(['cap:secrets.get', ...DEFAULT_CAPABILITIES])].sort());
  });
});

describe('parseImportName', () => {
  it('accepts unversioned and compatible 0.x names and refuses others', () => {
    assert.deepEqual(parseImportName('alga:extension/secrets'), { iface: 'secrets' });
    assert.deepEqual(parseImportName('alga:extension/secrets@0.1.0'), { iface: 'secrets', version: '0.1.0' });
    assert.equal(parseImportName('alga:extension/secrets@0.9.0'), undefined);
    assert.equal(parseImportName('alga:extension/secrets@1.0.0'), undefined);
    assert.equal(parseImportName('wasi:http/types@0.2.0'), undefined);
  });
});
