// Generated from wit/alga-extension.wit by `npm run generate`. Do not edit.
/** @module Interface alga:extension/random@0.3.0 **/
/**
 * `len` bytes of cryptographically secure randomness (at most 65536).
 */
export function getRandomBytes(len: number): Uint8Array;
