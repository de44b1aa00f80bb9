import type * as WitRandom from 'alga:extension/random@0.3.0';

/**
 * A componentized JS engine is resumed from a snapshot taken at build time,
 * so its built-in RNG state is the same in every fresh instance — and a
 * runner that resets instances in place would replay it on every request.
 * On every request we therefore:
 * - seed `Math.random` from 16 bytes of host CSPRNG output, on its first
 *   call in the request (most handlers never call it, and a seed costs a
 *   host call), and
 * - serve `crypto.getRandomValues` / `crypto.randomUUID` from the host CSPRNG.
 *
 * The PRNG is xoshiro128** (Blackman & Vigna): ten lines, not worth a
 * dependency inside every guest, and `Math.random` is not for cryptography.
 */
export function reseedRandomness(random: typeof WitRandom): void {
  // A function that kept the unseeded one (`const r = Math.random`) seeds anew on each call: slower, never replayed.
  const unseeded = (): number => {
    const seeded = xoshiro128(random.getRandomBytes(16));
    Math.random = seeded;
    return seeded();
  };
  Math.random = unseeded;

  const cryptoObject = (globalThis as { crypto?: Crypto }).crypto;
  if (!cryptoObject) return;
  const getRandomValues = <T extends ArrayBufferView | null>(array: T): T => {
    if (!array) return array;
    if (array.byteLength > 65536) {
      throw new RangeError(`crypto.getRandomValues: ${array.byteLength} bytes requested, at most 65536 allowed.`);
    }
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(random.getRandomBytes(array.byteLength));
    return array;
  };
  const randomUUID = (): `${string}-${string}-${string}-${string}-${string}` => {
    const bytes = random.getRandomBytes(16);
    bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
    const hex = Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  Object.defineProperty(cryptoObject, 'getRandomValues', {
    value: getRandomValues,
    configurable: true,
    writable: true,
  });
  Object.defineProperty(cryptoObject, 'randomUUID', { value: randomUUID, configurable: true, writable: true });
}

/** xoshiro128** over a 16-byte seed. */
function xoshiro128(seed: Uint8Array): () => number {
  const view = new DataView(seed.buffer, seed.byteOffset, seed.byteLength);
  let a = view.getUint32(0, true);
  let b = view.getUint32(4, true);
  let c = view.getUint32(8, true);
  let d = view.getUint32(12, true);
  if ((a | b | c | d) === 0) a = 1; // the all-zero state is a fixed point
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
}
