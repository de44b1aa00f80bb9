/**
 * The one interface the runner core knows about capability providers.
 *
 * Three lifetimes, kept apart on purpose:
 * - process: a `Provider` is created once by `createProviders()` from the
 *   runner's config (decrypter, caches); it holds no tenant data itself;
 * - per install: caches a provider owns (e.g. decrypted secrets keyed by
 *   tenant|install|version), never module-level variables;
 * - per execution: an `ExecutionScope`, created for one request and closed
 *   when it ends.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Capability, ExecuteRequest } from '@alga-psa/protocol';

import type { WorldInterface } from '../world.ts';

export { WORLD_INTERFACES, WORLD_FUNCTIONS, type WorldInterface } from '../world.ts';

/** Everything one execution may see. Created per request, never shared. */
export interface ExecutionScope {
  readonly request: ExecuteRequest;
  readonly granted: ReadonlySet<Capability>;
  /** Bound to request_id, tenant_id, extension_id, install_id. */
  readonly logger: FastifyBaseLogger;
  /** Every secret value decrypted in this execution; log lines mask them. */
  readonly secretValues: Set<string>;
  /** Per-execution state a provider keeps between calls, keyed by provider name. */
  readonly memo: Map<string, unknown>;
  /** Runs `fn` when the execution ends (success, error or timeout). */
  defer(fn: () => void): void;
}

/** How a provider answers the `err` case of a WIT `result<T, E>`. */
export class WitErr {
  readonly payload: string;
  constructor(payload: string) {
    this.payload = payload;
  }
}

export function witErr(payload: string): WitErr {
  return new WitErr(payload);
}

/**
 * Thrown by a provider to trap the guest with a message meant for the
 * extension author (e.g. a missing capability on a function without an error
 * variant). Any other exception traps with a generic message.
 */
export class HostTrap extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HostTrap';
  }
}

/**
 * One WIT function. Returns the `ok` value (or the plain value for functions
 * without a result type), or a `WitErr` for the error variant.
 */
export type HostFunction = (scope: ExecutionScope, ...args: never[]) => unknown;

export interface Provider {
  /** Short name for logs and `memo` keys. */
  readonly name: string;
  /** The WIT interface it implements (unversioned, e.g. `secrets`). */
  readonly iface: WorldInterface;
  /** The capability that unlocks it; deny by default without it. */
  readonly capability: Capability;
  /** Keyed by jco's camelCase function name (`listKeys`, `getContext`). */
  readonly functions: Readonly<Record<string, HostFunction>>;
  /**
   * The answer when `capability` was not granted; must not touch any
   * backend. Returns a value/`WitErr` like a function, or throws `HostTrap`.
   */
  denied(fn: string, scope: ExecutionScope): unknown;
  /**
   * Per execution, as it is handed to a worker: answers the worker may give
   * the guest itself, by function and then by the call's one string
   * argument (`{ get: { api_token: '…' } }`). Only answers that cannot change
   * during the execution; every other call crosses the bridge as usual.
   */
  prefetch?(scope: ExecutionScope): Record<string, Record<string, unknown>> | undefined;
  /** Process lifetime: finish background work (e.g. buffered shipments) when the runner shuts down. */
  close?(): Promise<void>;
}
