import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { WasmTiering } from './wasm-tiering.ts';

const run = promisify(execFile);

/**
 * In a child process (V8 flags are process-wide): applies `tiering` after
 * start-up, as the engine does, calls a wasm function once, and reports
 * which tier runs it once it turns optimized or `waitMs` passed (V8's test
 * natives tell). Without `waitMs` it waits for the optimized tier however
 * long the machine takes (the test runner's timeout is the backstop).
 */
async function tierAfterFirstCall(
  tiering: WasmTiering,
  waitMs?: number,
): Promise<{ liftoff: boolean; turbofan: boolean }> {
  const script = `
    const { applyWasmTiering } = await import(${JSON.stringify(new URL('./wasm-tiering.ts', import.meta.url).href)});
    applyWasmTiering(${JSON.stringify(tiering)});
    // (module (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))
    const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,6,1,96,1,127,1,127,3,2,1,0,7,5,1,1,102,0,0,10,9,1,7,0,32,0,65,1,106,11]);
    const f = (await WebAssembly.instantiate(bytes)).instance.exports.f;
    f(1);
    const until = ${waitMs === undefined ? 'Infinity' : `Date.now() + ${waitMs}`};
    while (!%IsTurboFanFunction(f) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    process.stdout.write(JSON.stringify({ liftoff: %IsLiftoffFunction(f), turbofan: %IsTurboFanFunction(f) }));
  `;
  const { stdout } = await run(process.execPath, ['--allow-natives-syntax', '--input-type=module', '--eval', script]);
  return JSON.parse(stdout) as { liftoff: boolean; turbofan: boolean };
}

describe('wasm tiering', () => {
  it('eager: a function is optimized right after its first call, with no hot-path trigger left for later', async () => {
    assert.deepEqual(await tierAfterFirstCall('eager'), { liftoff: false, turbofan: true });
  });

  it("dynamic (V8's default): a function called once stays on the baseline tier", async () => {
    assert.deepEqual(await tierAfterFirstCall('dynamic', 500), { liftoff: true, turbofan: false });
  });
});
