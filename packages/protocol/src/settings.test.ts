// The config checks the server applies on every save, and the browser UI
// before it sends one.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import { customKeysAllowed, keyProblem, RESERVED_SETTING_KEYS, settingsDefaults, validateConfig } from './settings.ts';
import { sampleManifest } from './testing.ts';

test('settingsDefaults skips secrets; validateConfig checks types, bounds, options, required and unknown keys', () => {
  const manifest = sampleManifest();
  assert.deepEqual(settingsDefaults(manifest), { greeting: 'Hello', retries: 3, mode: 'fast' });
  assert.deepEqual(validateConfig(manifest, { greeting: 'Hi', retries: 0, mode: 'safe' }), []);
  const errors = validateConfig(manifest, { retries: 11, mode: 'x', api_token: 's', nope: true });
  assert.deepEqual(errors.map((e) => e.field).sort(), ['api_token', 'greeting', 'mode', 'nope', 'retries']);
  assert.equal(validateConfig(manifest, [])[0]?.field, '');
});

test('validateConfig never throws, whatever the config', () => {
  const manifest = { settings: [{ key: 'n', type: 'number' as const, label: 'N', min: 0, max: 3 }] };
  fc.assert(
    fc.property(fc.anything(), (config) => {
      const errors = validateConfig(manifest, config);
      assert.ok(Array.isArray(errors));
    }),
    { numRuns: 1_000 },
  );
});

test('an extension that declares no settings takes custom keys of the reference key names, with plain values', () => {
  const none = { settings: [] };
  assert.deepEqual(validateConfig(none, { algaApiBase: 'https://psa.example', 'feature.on': true, retries: 3 }), []);
  const errors = validateConfig(none, { 'bad key': 'x', nested: { a: 1 }, list: ['a'] });
  assert.deepEqual(errors.map((e) => e.field).sort(), ['bad key', 'list', 'nested']);
  assert.match(errors.find((e) => e.field === 'bad key')?.message ?? '', /letters, digits, "_", "\." or "-"/);
  assert.equal(keyProblem('ALGA_API_KEY'), undefined);
  assert.equal(keyProblem('api_key'), undefined);
  for (const reserved of ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'])
    assert.match(keyProblem(reserved)!, /is reserved/);
  assert.ok(keyProblem('x'.repeat(65)));
  assert.ok(keyProblem(''));
  assert.equal(customKeysAllowed(none), true);
  assert.equal(customKeysAllowed(sampleManifest()), false);
});

test('the manifest schema reserves the same setting keys as keyProblem, so publish and writes agree', async () => {
  const schema = JSON.parse(await readFile(new URL('../manifest.schema.json', import.meta.url), 'utf8')) as {
    definitions: { setting: { properties: { key: { not: { enum: string[] } } } } };
  };
  assert.deepEqual([...schema.definitions.setting.properties.key.not.enum].sort(), [...RESERVED_SETTING_KEYS].sort());
});
