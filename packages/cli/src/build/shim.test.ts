import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryShim, extensionWorld, interfacesFor } from './shim.ts';

test('a capability set unlocks exactly its interfaces', () => {
  assert.deepEqual(interfacesFor(['cap:context.read', 'cap:log.emit']), ['context', 'config', 'random', 'logging']);
  assert.deepEqual(interfacesFor(['cap:secrets.get', 'cap:ui.proxy']), ['secrets', 'ui-proxy']);
});

test('the entry shim imports only declared interfaces and hands them to the SDK', () => {
  const shim = entryShim('/ext/src/index.ts', ['cap:context.read', 'cap:secrets.get']);
  assert.match(shim, /import \* as wit_secrets from 'alga:extension\/secrets@0\.1\.0';/);
  assert.doesNotMatch(shim, /alga:extension\/(http|storage|logging|user|ui-proxy)/);
  assert.match(shim, /secrets: wit_secrets/);
  assert.match(shim, /from "\/ext\/src\/index\.ts"/);
});

test('the build world imports only the given interfaces', () => {
  const world = extensionWorld('extension', ['context', 'secrets']);
  assert.match(world, /world extension \{\n {2}import context;\n {2}import secrets;\n/);
  assert.match(world, /export handler: func\(request: execute-request\) -> execute-response;/);
});
