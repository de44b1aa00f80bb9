import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sampleManifest } from '@alga-psa/protocol/testing';
import { generateTypes } from './types.ts';
import { hintFor } from './typecheck.ts';

// The shared sample, cut to one capability so the capability union is predictable.
const manifest = sampleManifest({ capabilities: ['cap:http.fetch'] });

test('types carry config keys with their types, secret keys, and the capabilities with the defaults', () => {
  const text = generateTypes(manifest);
  assert.match(text, /declare module '@alga-psa\/extension-runtime'/);
  assert.match(text, /greeting: string;/);
  assert.match(text, /retries: number;/);
  assert.match(text, /mode: "fast" \| "safe";/);
  assert.doesNotMatch(text, /api_token: string/);
  assert.match(text, /secretKey: "api_token" \| "webhook_secret";/);
  assert.match(text, /capability: "cap:context\.read" \| "cap:http\.fetch" \| "cap:log\.emit";/);
});

test('no secrets means no secret key is accepted; no settings means no config key is', () => {
  const text = generateTypes({ ...manifest, settings: [] });
  assert.match(text, /secretKey: never;/);
  assert.match(text, /config: Record<never, never>;/);
});

test('compiler messages about manifest mismatches get the manifest line to add', () => {
  assert.match(
    hintFor(`Property 'fetch' does not exist on type 'CapabilityNotDeclared<"cap:http.fetch">'.`, 'ctx.http.fetch(u)')!,
    /add "cap:http\.fetch" to "capabilities"/,
  );
  assert.match(
    hintFor(
      `Argument of type '"tok"' is not assignable to parameter of type '"api_token"'.`,
      "await ctx.secrets.get('tok')",
    )!,
    /"tok" is not a secret declared in manifest\.json/,
  );
  assert.match(
    hintFor(
      `Argument of type '"colour"' is not assignable to parameter of type '"greeting"'.`,
      "ctx.config.get('colour')",
    )!,
    /"colour" is not a setting declared/,
  );
  assert.equal(hintFor("Cannot find name 'x'.", 'x'), undefined);
});
