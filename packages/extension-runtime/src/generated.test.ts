import assert from 'node:assert/strict';
import { test } from 'node:test';
import { staleBindings } from '../../../scripts/generate-bindings.ts';

test('the committed guest and host types match what wit/ generates (run `npm run generate` if not)', async () => {
  assert.deepEqual(await staleBindings('guest'), []);
  assert.deepEqual(await staleBindings('host'), []);
});
