/**
 * Reset-in-place over write-tracked modules: a `ResetSnapshot` of an
 * instance whose module marks its writes (`trackWrites`) takes the fast
 * restore, and after every request it leaves memory byte-identical to the
 * snapshot, whichever way the guest or the host wrote it. The marks
 * themselves are proved in `@alga-psa/wasm-rewrite`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIRTY_EXPORT } from '@alga-psa/wasm-rewrite';
import { trackedModule as tracked, writeEveryWay, WRITER } from '@alga-psa/wasm-rewrite/testing';
import { InstanceRecorder, ResetSnapshot } from './reset.ts';

function instantiate(module: WebAssembly.Module, imports?: WebAssembly.Imports) {
  const recorder = new InstanceRecorder();
  const instance = recorder.instantiateCore(module, imports);
  const exports = instance.exports as Record<string, unknown>;
  const memory = exports.memory as WebAssembly.Memory;
  return { recorder, exports, memory };
}

describe('reset-in-place over write-tracked modules', () => {
  it('restores marked blocks, and the first bytes of the block after each, to exactly the snapshot', async () => {
    const { compiled } = await tracked(WRITER);
    const { recorder, exports, memory } = instantiate(compiled, {
      env: { hostWrite: (pointer: number, length: number) => new Uint8Array(memory.buffer, pointer, length).fill(9) },
    });
    const snapshot = ResetSnapshot.capture(recorder, () => true);
    assert.equal(snapshot.tracked, true);
    const pristine = Buffer.from(new Uint8Array(memory.buffer)); // a copy, not a view
    const call = (name: string, ...args: unknown[]) => (exports[name] as (...a: unknown[]) => unknown)(...args);
    for (let round = 0; round < 3; round++) {
      writeEveryWay(call, memory, round);
      assert.notDeepEqual(Buffer.from(memory.buffer), pristine);
      const result = snapshot.restore();
      assert.equal(result.discard, undefined);
      assert.ok(result.dirtyBlocks >= 8, `round ${round}: ${result.dirtyBlocks} blocks put back`);
      assert.ok(Buffer.from(memory.buffer).equals(pristine), `round ${round}: memory is the snapshot again`);
    }
    assert.deepEqual(snapshot.restore(), { dirtyBlocks: 0 }, 'nothing marked, nothing copied');
  });

  it("reports the guest's memory, not its write map, as the memory to check against the cap", async () => {
    const { compiled } = await tracked(WRITER);
    const { recorder, exports, memory } = instantiate(compiled, { env: { hostWrite: () => {} } });
    assert.ok(exports[DIRTY_EXPORT] instanceof WebAssembly.Memory);
    assert.deepEqual(recorder.memories(), [memory]);
  });
});
