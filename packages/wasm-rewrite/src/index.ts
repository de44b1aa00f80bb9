/**
 * `@alga-psa/wasm-rewrite`: rewrites of a core wasm module's binary made
 * before it is compiled, and the small kernel that restores memory from the
 * write map they add. See the README for what each rewrite does and why.
 */
export { WASM_PAGE_BYTES } from './binary.ts';
export {
  capModuleMemory,
  exposeResetState,
  MemoryFloorError,
  pagesForMb,
  RESET_EXPORT_PREFIX,
  type ResetExports,
} from './memory-limit.ts';
export {
  DIRTY_BLOCK_BYTES,
  DIRTY_BLOCK_SHIFT,
  DIRTY_EXPORT,
  DIRTY_IMPORT,
  MAP_BYTES,
  trackWrites,
  type WriteTrackingResult,
} from './write-tracking.ts';
export { FUEL_EXPORT, meterFuel, UNLIMITED_FUEL } from './fuel.ts';
export { restoreKernel } from './restore-kernel.ts';
