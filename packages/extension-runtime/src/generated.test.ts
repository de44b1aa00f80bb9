import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateGuestBindings } from '../../../scripts/generate-bindings.ts';

const generatedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../generated');

test('the committed SDK types match what wit/ generates (run `npm run generate` if not)', async () => {
  const files = await generateGuestBindings();
  assert.ok(Object.keys(files).length >= 9);
  for (const [name, text] of Object.entries(files)) {
    assert.equal(await readFile(path.join(generatedDir, name), 'utf8'), text, `${name} is stale`);
  }
});
