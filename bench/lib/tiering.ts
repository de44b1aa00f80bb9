import { WASM_TIERINGS, type WasmTiering } from '../../packages/runner/src/engine/index.ts';

/**
 * `BENCH_WASM_TIERING`: V8's wasm tiering for every process of the run, `eager`
 * (the runner's) unless set; `dynamic` (V8's default) shows what eager buys.
 */
export function benchWasmTiering(env: Record<string, string | undefined> = process.env): WasmTiering {
  const value = env.BENCH_WASM_TIERING?.trim() || 'eager';
  if ((WASM_TIERINGS as readonly string[]).includes(value)) return value as WasmTiering;
  throw new Error(`BENCH_WASM_TIERING must be ${WASM_TIERINGS.join(' or ')}, got ${JSON.stringify(value)}.`);
}
