/**
 * `alga:extension/random`: bytes from the host's CSPRNG. Requires
 * `cap:context.read` (granted to every install by default).
 *
 * A componentized guest resumes from a build-time snapshot, so its own RNG
 * state is the same in every instance; the SDK reseeds `Math.random` and
 * backs `crypto.getRandomValues` with this provider on every request.
 */
import { randomBytes } from 'node:crypto';
import { HostTrap, type Provider } from '../types.ts';

/** The same per-call cap as Web Crypto's getRandomValues. */
export const MAX_RANDOM_BYTES = 65_536;

export function createRandomProvider(): Provider {
  return {
    name: 'random',
    iface: 'random',
    capability: 'cap:context.read',
    functions: {
      getRandomBytes: (_scope, len) => {
        if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > MAX_RANDOM_BYTES) {
          throw new HostTrap(`alga:extension/random.get-random-bytes: length must be 0..${MAX_RANDOM_BYTES}.`);
        }
        return new Uint8Array(randomBytes(len));
      },
    },
    denied() {
      throw new HostTrap('alga:extension/random.get-random-bytes requires the cap:context.read capability.');
    },
  };
}
