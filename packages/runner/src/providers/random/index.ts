/**
 * `alga:extension/random`: bytes from the host's CSPRNG. Unlocked by
 * `cap:context.read` (granted to every install by default).
 *
 * A componentized guest resumes from a build-time snapshot, so its own RNG
 * state is the same in every instance; the SDK reseeds `Math.random` (on its
 * first call in a request) and backs `crypto.getRandomValues` with this
 * provider on every request.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { HostTrap } from '../../host-calls/index.ts';
import { defineRequestProvider } from '../types.ts';

/** The same per-call cap as Web Crypto's getRandomValues. */
export const MAX_RANDOM_BYTES = 65_536;

/** CSPRNG output drawn a block at a time: a small read is mostly per-call overhead (docs/perf/020-csprng-block.md). */
class RandomBlock {
  readonly #block = Buffer.alloc(4096);
  #next = this.#block.length;

  take(len: number): Uint8Array {
    if (len > this.#block.length / 4) return new Uint8Array(randomBytes(len));
    if (this.#next + len > this.#block.length) {
      randomFillSync(this.#block);
      this.#next = 0;
    }
    const bytes = new Uint8Array(this.#block.subarray(this.#next, this.#next + len));
    this.#next += len;
    return bytes;
  }
}

export const randomProvider = defineRequestProvider({
  iface: 'random',
  create() {
    // Per thread that answers the calls; every byte is handed out once.
    const block = new RandomBlock();
    return {
      functions: {
        getRandomBytes(_scope, len) {
          if (!Number.isInteger(len) || len < 0 || len > MAX_RANDOM_BYTES) {
            throw new HostTrap(`alga:extension/random.get-random-bytes: length must be 0..${MAX_RANDOM_BYTES}.`);
          }
          return block.take(len);
        },
      },
      denied() {
        throw new HostTrap('alga:extension/random.get-random-bytes requires the cap:context.read capability.');
      },
    };
  },
});
