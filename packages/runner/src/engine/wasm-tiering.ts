/**
 * How V8 compiles the guests' wasm code in this process. The runner uses
 * `eager`: each function's optimizing compile is queued right after its first
 * call (the warm-up and first requests), so no recompiles compete with later
 * requests for a core; `dynamic` (V8's default) is kept for the benchmark's
 * comparison (docs/perf/015-eager-wasm-tiering.md).
 *
 * A V8 flag is process-wide and read when a module is compiled, so it is set
 * before the engine compiles anything.
 */
import { setFlagsFromString } from 'node:v8';

export const WASM_TIERINGS = ['eager', 'dynamic'] as const;
export type WasmTiering = (typeof WASM_TIERINGS)[number];

/** Sets V8's wasm tiering for modules compiled from now on in this process. */
export function applyWasmTiering(tiering: WasmTiering): void {
  setFlagsFromString(tiering === 'eager' ? '--no-wasm-dynamic-tiering' : '--wasm-dynamic-tiering');
}
