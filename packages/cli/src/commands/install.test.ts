import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPABILITIES } from '@alga-psa/protocol';
import { consentLines, printInstalled } from './install.ts';

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

test('after an install, an unset secret, a withheld one and an undeclared one each get their own line', (t) => {
  const log = t.mock.method(console, 'log', () => {});
  printInstalled({
    install: { extensionId: 'hello-ext', version: '1.1.0' },
    missingSecrets: ['api_token', 'webhook_secret'],
    undeliveredSecrets: ['api_token', 'old_key'],
  } as Parameters<typeof printInstalled>[0]);
  assert.deepEqual(
    log.mock.calls.map((call) => String(call.arguments[0])),
    [
      'Installed hello-ext@1.1.0',
      '  secret "api_token" is stored but not given to this version, which may send it to more hosts than when it was set: alga secrets set api_token',
      '  secret "webhook_secret" is not set yet: alga secrets set webhook_secret',
      '  secret "old_key" is kept but not given to this version: it does not declare it, or declares looser egress limits than the value was set under',
    ],
  );
});
