import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ambientWasiInterface, importsHostClock } from './wasi.ts';

it('recognises the WASI 0.2 interfaces the runner provides, and nothing else of WASI', () => {
  assert.equal(ambientWasiInterface('wasi:clocks/wall-clock@0.2.3'), 'wasi:clocks/wall-clock');
  assert.equal(ambientWasiInterface('wasi:io/poll@0.2.0'), 'wasi:io/poll');
  assert.equal(ambientWasiInterface('wasi:cli/stderr'), 'wasi:cli/stderr');
  assert.equal(ambientWasiInterface('wasi:clocks/wall-clock@0.3.0'), undefined);
  assert.equal(ambientWasiInterface('wasi:filesystem/types@0.2.3'), undefined);
  assert.equal(ambientWasiInterface('wasi:http/outgoing-handler@0.2.3'), undefined);
  assert.equal(ambientWasiInterface('wasi:sockets/tcp@0.2.3'), undefined);
  assert.equal(ambientWasiInterface('alga:extension/secrets'), undefined);
});

it('tells a component that reads the host clock from one that reads its build time', () => {
  assert.equal(importsHostClock(['alga:extension/context@0.1.0', 'wasi:clocks/wall-clock@0.2.3']), true);
  assert.equal(importsHostClock(['alga:extension/context@0.1.0']), false);
});
