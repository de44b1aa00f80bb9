/**
 * The engine knows providers only through the host plan: adding or removing
 * a capability must never need an engine change. This test fails when code
 * under engine/ names a capability id, a WIT interface or a provider folder.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { it } from 'node:test';
import { CAPABILITIES, WORLD_INTERFACES } from '@alga-psa/protocol';

/** The code of a TypeScript file without its comments (strings are kept: they are what may name things). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

it('no engine source names a capability, an interface or a provider', async () => {
  const dir = new URL('./', import.meta.url);
  const files = (await readdir(dir)).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  assert.ok(files.length > 5);
  const names = [
    ...Object.keys(CAPABILITIES).map((id) => ({ what: 'capability', pattern: new RegExp(id.replace('.', '\\.')) })),
    { what: 'capability', pattern: /['"`]cap:/ },
    ...WORLD_INTERFACES.map((iface) => ({ what: 'interface', pattern: new RegExp(`['"\`/]${iface}['"\`]`) })),
    ...WORLD_INTERFACES.map((iface) => ({ what: 'provider', pattern: new RegExp(`providers/${iface}/`) })),
  ];
  const found: string[] = [];
  for (const file of files) {
    const source = code(await readFile(new URL(file, dir), 'utf8'));
    for (const { what, pattern } of names) if (pattern.test(source)) found.push(`${file}: ${what} ${pattern.source}`);
  }
  assert.deepEqual(found, []);
});

it('the check sees a capability or interface where one is named', () => {
  const sample = code(
    `const granted = ['cap:secrets.get']; // 'logging' in a comment is fine\nconst iface = 'storage';`,
  );
  assert.match(sample, /'cap:/);
  assert.match(sample, /'storage'/);
  assert.doesNotMatch(sample, /'logging'/);
});
