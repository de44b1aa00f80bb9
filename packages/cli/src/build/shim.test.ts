import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CAPABILITIES, WIT_VERSION, WORLD_INTERFACES, type Capability, type WorldInterface } from '@alga-psa/protocol';
import type { Host } from '@alga-psa/extension-runtime/host';
import { entryShim, extensionWorld, hostKey, interfacesFor } from './shim.ts';

test('a capability set unlocks exactly its interfaces', () => {
  assert.deepEqual(interfacesFor(['cap:context.read', 'cap:log.emit']), ['context', 'config', 'random', 'logging']);
  assert.deepEqual(interfacesFor(['cap:secrets.get', 'cap:ui.proxy']), ['secrets', 'ui-proxy']);
});

test('the entry shim imports only declared interfaces and hands them to the SDK', () => {
  const shim = entryShim('/ext/src/index.ts', ['cap:context.read', 'cap:secrets.get']);
  assert.ok(shim.includes(`import * as wit_secrets from 'alga:extension/secrets@${WIT_VERSION}';`), shim);
  assert.doesNotMatch(shim, /alga:extension\/(http|storage|logging|user|ui-proxy)/);
  assert.match(shim, /secrets: wit_secrets/);
  assert.match(shim, /from "\/ext\/src\/index\.ts"/);
});

test('the build world imports only the given interfaces', () => {
  const world = extensionWorld('extension', ['context', 'secrets']);
  assert.match(world, /world extension \{\n {2}import context;\n {2}import secrets;\n/);
  assert.match(world, /export handler: func\(request: execute-request\) -> execute-response;/);
  assert.match(world, /export warm-up: func\(\);/);
});

test('the entry shim answers one call after warm-up without the extension, then every call with it', async () => {
  // The shim's module text, with its imports replaced by stand-ins.
  const calls: string[] = [];
  const source = entryShim('/ext/src/index.ts', ['cap:context.read'])
    .replace(/^import .*$/gm, '')
    .replace(/^export /gm, '');
  const make = new Function(
    'installHost',
    'answerWarmUp',
    'userHandler',
    'wit_context',
    'wit_config',
    'wit_random',
    'createHostBindings',
    'toWitResponse',
    `${source}\nreturn { handler, warmUp };`,
  ) as (...args: unknown[]) => { handler(r: string): string; warmUp(): void };
  const shim = make(
    () => calls.push('install'),
    (_handler: unknown, r: string) => `warm-up answer to ${r}`,
    (r: string, host: unknown) => `extension answer to ${r}${host === 'reference host' ? '' : ' without a host'}`,
    {},
    {},
    {},
    () => 'reference host',
    (response: unknown) => response,
  );
  assert.equal(shim.handler('a'), 'extension answer to a');
  shim.warmUp();
  assert.equal(shim.handler('b'), 'warm-up answer to b');
  assert.equal(shim.handler('c'), 'extension answer to c');
  assert.deepEqual(calls, ['install', 'install', 'install']);
});

test('an interface is handed to the SDK under its camelCase name', () => {
  assert.equal(hostKey('ui-proxy'), 'uiProxy');
  assert.equal(hostKey('secrets'), 'secrets');
  assert.equal(hostKey('a-b-c2'), 'aBC2');
});

// The compiler checks that the SDK's Host has a key for every interface of the world.
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}`
  ? `${Head}${Capitalize<CamelCase<Tail>>}`
  : S;
const everyInterfaceHasAHostKey: [Exclude<CamelCase<WorldInterface>, keyof Host>] extends [never] ? true : false = true;

test('every interface of the capability table reaches the shim', () => {
  assert.ok(everyInterfaceHasAHostKey);
  const all = interfacesFor(Object.keys(CAPABILITIES) as Capability[]);
  assert.deepEqual([...all].sort(), [...WORLD_INTERFACES].sort());
});

test("WIT 0.1.0's interfaces come in the order and under the host keys the shim always used, so existing builds stay byte-identical", () => {
  const all = interfacesFor(Object.keys(CAPABILITIES) as Capability[]);
  const before = ['context', 'config', 'random', 'secrets', 'logging', 'http', 'storage', 'ui-proxy', 'user'];
  assert.deepEqual(all.slice(0, before.length), before);
  assert.deepEqual(
    before.map(hostKey),
    before.map((iface) => (iface === 'ui-proxy' ? 'uiProxy' : iface)),
  );
});
