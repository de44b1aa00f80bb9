import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trapSummary } from './output.ts';

test("a trap is reported with its message and the frame it happened in, not the guest's whole wasm stack", () => {
  const detail = [
    'RuntimeError: wasm trap: wasm `unreachable` instruction executed',
    '    at random_get (wasm://wasm/04530bb6:wasm-function[87]:0x7a1d)',
    '    at wasm://wasm/04530bb6:wasm-function[5095]:0x3c4db8',
    '    at wasm://wasm/04530bb6:wasm-function[2306]:0x1e015f',
  ].join('\n');
  assert.equal(
    trapSummary(detail),
    'RuntimeError: wasm trap: wasm `unreachable` instruction executed at random_get (wasm://wasm/04530bb6:wasm-function[87]:0x7a1d) (and 2 more frames)',
  );
  assert.equal(trapSummary('Error: the guest threw'), 'Error: the guest threw');
});
