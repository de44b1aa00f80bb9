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

test('the prompt also names what the component imports without requesting it, and an open path space', () => {
  const lines = consentLines('com.acme.reports', ['cap:ui.proxy'], {
    allowedHosts: [],
    acceptsAnyPath: true,
    notRequested: [
      { iface: 'storage', capability: 'cap:storage.kv', description: 'storage: imported, not requested (…)' },
      { iface: 'scheduler', description: 'scheduler: imported, not provided by this platform (…)' },
    ],
  });
  assert.deepEqual(lines.slice(-4), [
    'Imported, not requested (never granted; every call is refused):',
    '  storage: imported, not requested (…)',
    '  scheduler: imported, not provided by this platform (…)',
    'It declares no endpoints: it accepts requests on any path under its URL.',
  ]);
});

test('the prompt names the only hosts an egress-bound secret is sent to', () => {
  const lines = consentLines('hello-ext', ['cap:secrets.get'], {
    notRequested: [],
    acceptsAnyPath: false,
    allowedHosts: ['api.example.com'],
    secretEgress: { api_token: ['api.example.com'] },
  });
  assert.ok(lines.includes('Outbound hosts: api.example.com'));
  assert.ok(
    lines.includes('Secret api_token is only ever sent to: api.example.com (the extension never sees its value)'),
  );
  const older = consentLines('hello-ext', ['cap:secrets.get'], {
    notRequested: [],
    acceptsAnyPath: false,
    allowedHosts: [],
  });
  assert.ok(!older.some((line) => line.startsWith('Secret ')), 'a server without secretEgress: no line');
});
