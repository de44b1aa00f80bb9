/**
 * How V8 compiles the guests' wasm code in this process.
 *
 * V8's default (`dynamic`) compiles a function with its baseline compiler on
 * first call and recompiles it with the optimizing one, on background
 * threads, whenever it later turns hot, and again after a speculative
 * inlining is undone. A componentize-js guest is a 12 MB engine, so those
 * recompiles go on for tens of thousands of requests. On a small machine
 * they take the core a pool thread needs to wake on: measured on 2 cores,
 * 1–2 ms background compiles kept the main thread from running for up to
 * 7 ms after a worker posted its response, and the runner engine's p99 was
 * 0.9–1.0 ms against a p50 of 0.21 ms.
 *
 * `eager` queues the optimizing compile of each function right after its
 * first call. Functions on the request path are first called by the warm-up
 * and the first requests, so the background work is done at prepare time
 * and not spread over later requests: p99 fell to 0.41–0.61 ms at the same
 * p50, and a prepare took ~100 ms longer (~700 → ~810 ms).
 *
 * A V8 flag is process-wide and read when a module is compiled, so it is
 * set before the engine compiles anything, and applies to every module
 * compiled afterwards in the process.
 */
import { setFlagsFromString } from 'node:v8';

export const WASM_TIERINGS = ['eager', 'dynamic'] as const;
export type WasmTiering = (typeof WASM_TIERINGS)[number];

/** `RUNNER_WASM_TIERING`, `eager` unless set. */
export function wasmTieringFromEnv(env: Record<string, string | undefined> = process.env): WasmTiering {
  const value = env.RUNNER_WASM_TIERING?.trim();
  if (!value) return 'eager';
  if ((WASM_TIERINGS as readonly string[]).includes(value)) return value as WasmTiering;
  throw new Error(`RUNNER_WASM_TIERING must be eager or dynamic, got ${JSON.stringify(value)}.`);
}

/** Sets V8's wasm tiering for modules compiled from now on in this process. */
export function applyWasmTiering(tiering: WasmTiering): void {
  setFlagsFromString(tiering === 'eager' ? '--no-wasm-dynamic-tiering' : '--wasm-dynamic-tiering');
}
