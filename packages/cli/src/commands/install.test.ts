import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPABILITIES } from '@alga-psa/protocol';
import { consentLines } from './install.ts';

test('the consent prompt lists the granted capabilities with the defaults, in the words of the capability table', () => {
  assert.deepEqual(consentLines('hello-ext', ['cap:secrets.get']), [
    'hello-ext will be allowed to:',
    `  cap:context.read   ${CAPABILITIES['cap:context.read'].consent}`,
    `  cap:log.emit       ${CAPABILITIES['cap:log.emit'].consent}`,
    `  cap:secrets.get    ${CAPABILITIES['cap:secrets.get'].consent}`,
  ]);
});

test('an unknown capability is listed without a sentence, for the server to refuse', () => {
  assert.equal(consentLines('hello-ext', ['cap:teleport']).at(-1), '  cap:teleport       ');
});
