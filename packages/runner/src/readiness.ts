/**
 * `GET /readyz`: can this runner serve an execution right now? It must be
 * able to read bundles and to reach its transit backend; each failing
 * dependency is named (never with its error text, which may hold paths or
 * addresses an unauthenticated prober should not learn).
 */
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Decrypter } from '@alga-psa/transit';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/** A hash no bundle has: reading it proves the store answers without moving bytes. */
const PROBE_HASH = `sha256:${'0'.repeat(64)}`;

export function bundleStoreCheck(store: BundleStore): ReadinessCheck {
  return {
    name: 'bundle-store',
    async check() {
      // "Absent" is a healthy answer (a fresh store holds nothing yet);
      // an unreadable directory or an unreachable S3 endpoint throws.
      await store.get(PROBE_HASH);
    },
  };
}

export function transitCheck(decrypter: Decrypter): ReadinessCheck {
  return { name: 'transit', check: () => decrypter.ready() };
}

/** Runs every check at once, each bounded by `timeoutMs`; returns the names that failed. */
export async function failingChecks(checks: readonly ReadinessCheck[], timeoutMs = 2_000): Promise<string[]> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
          }),
        ]);
        return undefined;
      } catch {
        return name;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return results.filter((name): name is string => name !== undefined);
}
