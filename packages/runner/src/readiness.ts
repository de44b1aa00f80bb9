/**
 * `GET /readyz`: can this runner serve an execution right now? Each failing
 * dependency is named (never with its error text, which may hold paths or
 * addresses an unauthenticated prober should not learn).
 *
 * Only a *critical* failure (bundles unreadable: nothing can run) makes the
 * runner unready. Transit is reported but does not: with Vault down a runner
 * still serves every extension that needs no new decrypt, and cached secrets
 * until their TTL. Failing readiness there would make every runner leave
 * rotation at once and turn a partial outage into a total one.
 */
import type { BundleStore } from '@alga-psa/bundle-store';
import type { Decrypter } from '@alga-psa/transit';

export interface ReadinessCheck {
  name: string;
  /** A failing critical check makes the runner unready; others make it degraded. */
  critical: boolean;
  check(): Promise<void>;
}

/** A hash no bundle has: reading it proves the store answers without moving bytes. */
const PROBE_HASH = `sha256:${'0'.repeat(64)}`;

export function bundleStoreCheck(store: BundleStore): ReadinessCheck {
  return {
    name: 'bundle-store',
    critical: true,
    async check() {
      // "Absent" is a healthy answer (a fresh store holds nothing yet);
      // an unreadable directory or an unreachable S3 endpoint throws.
      await store.get(PROBE_HASH);
    },
  };
}

export function transitCheck(decrypter: Decrypter): ReadinessCheck {
  return { name: 'transit', critical: false, check: () => decrypter.ready() };
}

export type Readiness =
  { status: 'ready' } | { status: 'degraded'; degraded: string[] } | { status: 'unavailable'; failing: string[] };

/** Runs every check; unready when a critical one fails, degraded when only others do. */
export async function readiness(checks: readonly ReadinessCheck[], timeoutMs = 2_000): Promise<Readiness> {
  const failing = new Set(await failingChecks(checks, timeoutMs));
  if (failing.size === 0) return { status: 'ready' };
  if (checks.some((c) => c.critical && failing.has(c.name))) return { status: 'unavailable', failing: [...failing] };
  return { status: 'degraded', degraded: [...failing] };
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
